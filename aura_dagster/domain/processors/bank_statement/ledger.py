"""Several statements as one ledger: duplicates from overlapping statements dropped,
a closing balance for every calendar day covered.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction


@dataclass(frozen=True)
class Ledger:
    statements: list[Statement]
    transactions: list[Transaction]  # deduplicated, oldest first
    duplicates_dropped: int
    # Per calendar day covered: the sum over accounts of each account's closing balance.
    daily_balances: dict[dt.date, Decimal]
    # Days on which at least one account closed below zero.
    negative_days: set[dt.date]

    @property
    def balances_unknown(self) -> list[str]:
        """Statements stating neither an opening nor a closing balance: the daily balances
        built on them would start from a made-up zero."""
        return [s.source for s in self.statements
                if s.opening_balance is None and s.closing_balance is None]

    @property
    def months(self) -> list[str]:
        return sorted({month_key(day) for day in self.daily_balances})

    @property
    def month_gaps(self) -> list[str]:
        """Calendar months between the first and the last covered one that no statement covers."""
        months = self.months
        if not months:
            return []
        covered = set(months)
        first, last = months[0], months[-1]
        gaps: list[str] = []
        year, month = int(first[:4]), int(first[5:])
        while f"{year:04d}-{month:02d}" < last:
            key = f"{year:04d}-{month:02d}"
            if key not in covered:
                gaps.append(key)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return gaps


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _matching_account(statement: Statement, by_account: dict[str, list[Statement]]) -> str:
    keys = {t.key() for t in statement.transactions}
    best, best_overlap = "unknown", 0
    for account, group in by_account.items():
        overlap = len(keys & {t.key() for s in group for t in s.transactions})
        if overlap > best_overlap:
            best, best_overlap = account, overlap
    return best


def build_ledger(statements: Sequence[Statement]) -> Ledger:
    ordered = sorted(statements, key=lambda s: (s.period_start, s.period_end, s.source))
    by_account: dict[str, list[Statement]] = defaultdict(list)
    anonymous: list[Statement] = []
    for statement in ordered:
        if statement.account_id is None:
            anonymous.append(statement)
        else:
            by_account[statement.account_id].append(statement)
    for statement in anonymous:  # an export without an account number joins the account
        by_account[_matching_account(statement, by_account)].append(statement)  # it overlaps
    for group in by_account.values():
        group.sort(key=lambda s: (s.period_start, s.period_end, s.source))

    transactions: list[Transaction] = []
    dropped = 0
    per_account_days: dict[str, dict[dt.date, Decimal]] = {}
    for account, group in by_account.items():
        kept = _deduplicate(group)
        dropped += sum(len(s.transactions) for s in group) - len(kept)
        transactions.extend(kept)
        per_account_days[account] = _daily_balances(group)

    daily: dict[dt.date, Decimal] = defaultdict(lambda: Decimal("0.00"))
    negative: set[dt.date] = set()
    for days in per_account_days.values():
        for day, balance in days.items():
            daily[day] += balance
            if balance < 0:
                negative.add(day)
    transactions.sort(key=lambda t: t.date)  # stable: same-day order kept
    return Ledger(list(ordered), transactions, dropped, dict(sorted(daily.items())), negative)


def _deduplicate(group: list[Statement]) -> list[Transaction]:
    """Keep each (date, amount, description) as often as the statement listing it most often.

    Two identical coffees on one day in one statement stay two; the same line in two
    overlapping statements becomes one.
    """
    wanted: Counter[tuple] = Counter()
    for statement in group:
        counts = Counter(t.key() for t in statement.transactions)
        for key, count in counts.items():
            wanted[key] = max(wanted[key], count)
    emitted: Counter[tuple] = Counter()
    kept: list[Transaction] = []
    for statement in group:
        for txn in statement.transactions:
            key = txn.key()
            if emitted[key] < wanted[key]:
                emitted[key] += 1
                kept.append(txn)
    return kept


def _daily_balances(group: list[Statement]) -> dict[dt.date, Decimal]:
    """Each day's closing balance; a day covered by two statements takes the earlier one's."""
    days: dict[dt.date, Decimal] = {}
    for statement in group:
        by_day: dict[dt.date, Decimal] = defaultdict(lambda: Decimal("0.00"))
        for txn in statement.transactions:
            by_day[txn.date] += txn.amount
        balance = statement.effective_opening_balance()
        # Transactions dated before the period (posting lag) still move the balance.
        balance += sum((v for d, v in by_day.items() if d < statement.period_start),
                       Decimal("0.00"))
        day = statement.period_start
        while day <= statement.period_end:
            balance += by_day.get(day, Decimal("0.00"))
            days.setdefault(day, balance)
            day += dt.timedelta(days=1)
    return days
