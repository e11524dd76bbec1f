"""Stacking: payments to other funders, named or not.

A position is either a known funder named in debit descriptions, or a series of
debits of one fixed amount (whatever the memo) that repeats every business day or
every week. Each debit belongs to at most one position; a named funder wins.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from aura_dagster.domain.processors.bank_statement.model import Transaction
from aura_dagster.domain.processors.bank_statement.rules import Rules


@dataclass
class Position:
    name: str  # funder name, or "recurring <amount> <cadence>"
    kind: str  # "known_funder" | "recurring_debit"
    cadence: str | None  # "daily" | "weekly" | None (named funder, any cadence)
    amount: Decimal | None  # the fixed amount of a recurring series
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return -sum((t.amount for t in self.transactions), Decimal("0.00"))


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays after `start` up to and including `end`."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    return count


def _cadence(dates: list[dt.date], rules: Rules) -> str | None:
    gaps_business = [business_days_between(a, b) for a, b in zip(dates, dates[1:], strict=False)]
    gaps_calendar = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
    if not gaps_business:
        return None
    # 80% of gaps must fit: a bank holiday or one missed pull does not break a series.
    daily = sum(1 for g in gaps_business if g == 1)
    if len(dates) >= rules.recurring_min_daily and daily >= 0.8 * len(gaps_business):
        return "daily"
    weekly = sum(1 for g in gaps_calendar if 6 <= g <= 8)
    if len(dates) >= rules.recurring_min_weekly and weekly >= 0.8 * len(gaps_calendar):
        return "weekly"
    return None


def find_positions(transactions: Sequence[Transaction], rules: Rules) -> list[Position]:
    debits = [t for t in transactions if t.amount < 0]
    named: dict[str, Position] = {}
    unnamed: list[Transaction] = []
    for txn in debits:
        funder = rules.funder(txn.description)
        if funder is None:
            unnamed.append(txn)
            continue
        named.setdefault(funder, Position(funder, "known_funder", None, None)).transactions.append(
            txn)
    by_amount: dict[Decimal, list[Transaction]] = defaultdict(list)
    for txn in unnamed:
        if rules.recurring_candidate(txn):
            by_amount[-txn.amount].append(txn)
    recurring: list[Position] = []
    for amount, txns in sorted(by_amount.items()):
        txns.sort(key=lambda t: t.date)
        cadence = _cadence(sorted({t.date for t in txns}), rules)
        if cadence is not None:
            recurring.append(Position(f"recurring {amount} {cadence}", "recurring_debit",
                                      cadence, amount, list(txns)))
    for position in named.values():
        dates = sorted({t.date for t in position.transactions})
        position.cadence = _cadence(dates, rules)
    return sorted(named.values(), key=lambda p: p.name) + recurring
