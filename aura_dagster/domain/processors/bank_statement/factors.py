"""Bank statement factors, overall and per month (`*_by_month`: dict keyed "YYYY-MM").

Money is Decimal in cents; ratios are Decimal to 4 places. A month is "covered"
when at least one statement period includes one of its days.

Coverage
- bank_statement_count: statements analysed.
- bank_period_start / bank_period_end: first and last covered day.
- bank_months: covered months, "YYYY-MM", ascending.
- bank_months_covered: how many months are covered.
- bank_month_gaps: months between the first and last covered month that no statement covers.
- bank_months_contiguous: True when there is no gap.
- bank_transaction_count: transactions after dropping duplicates.
- bank_duplicate_transactions_dropped: same (date, amount, description) lines that came from
  overlapping statements of one account.

Deposits and revenue
- bank_total_deposits (+_by_month): sum of credits.
- bank_deposit_count (+_by_month): number of credits.
- bank_total_withdrawals (+_by_month): sum of debits, as a positive number.
- bank_revenue (+_by_month): credits minus non-revenue credits: transfers between own
  accounts, loan / cash-advance proceeds (any credit from a known funder included), owner
  contributions, tax refunds, refunds and reversals. Card-processor and mobile-payment
  settlements always count as revenue.
- bank_non_revenue_deposits_by_category: the excluded credits summed per category.
- bank_average_monthly_revenue: bank_revenue / bank_months_covered.
- bank_largest_deposit: the largest single credit.
- bank_largest_deposit_share: bank_largest_deposit / bank_total_deposits (0 without deposits).
- bank_revenue_trend_slope: least-squares slope of monthly revenue against the month's
  calendar index (dollars per month; None with fewer than two covered months).
- bank_revenue_trend_ratio: last covered month's revenue / first covered month's revenue
  (None with fewer than two months or no revenue in the first).

Balances (every calendar day of every statement period, weekends included; a day without
transactions keeps the previous day's closing balance; several accounts are summed per day)
- bank_average_daily_balance (+_by_month): mean of the daily closing balances.
- bank_lowest_daily_balance: the lowest daily closing balance.
- bank_negative_balance_days (+_by_month): days on which an account closed below zero.
- bank_balances_unknown_for: statements that state neither an opening nor a closing
  balance (a CSV without a balance column); while one is present the balance factors
  above are null (per month: empty), never computed from a guessed zero.

Events (NSF = returned unpaid; overdraft = paid into negative). On one day, a fee line and
a returned/overdraft item line describe one event: per day and kind, events = max(fee lines,
item lines). Fees refunded or reversed are not events.
- bank_nsf_count (+_by_month)
- bank_overdraft_count (+_by_month)

Stacking (see stacking.py)
- bank_stacking_funders: known funders receiving debits, by name.
- bank_stacking_position_count: named funders plus unnamed fixed-amount daily/weekly series.
- bank_stacking_debit_count: debits belonging to a position.
- bank_stacking_total_debits: their sum (positive).
- bank_stacking_monthly_amount: bank_stacking_total_debits / bank_months_covered.
- bank_stacking_amount_by_month: stacking debits per month.
- bank_stacking_positions: [{name, kind, cadence, amount, debit_count, total}].

Reconciliation (opening + credits - debits == closing, per statement)
- bank_all_statements_reconcile: True when every statement reconciles; False when one does
  not; None when none fails but at least one cannot be judged (OFX: no opening balance).
- bank_unreconciled_statement_count: statements that do not reconcile.
- bank_unjudged_statement_count: statements whose reconciliation cannot be judged.
- bank_statement_warnings: "<file>: <warning>" for what a reviewer must know (balance
  chain breaks, rows not counted, a date order or sign that could not be verified).
- bank_pending_excluded: pending (not posted) rows left out of every figure.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aura_dagster.domain.money import to_cents
from aura_dagster.domain.processors.bank_statement.ledger import Ledger, month_key
from aura_dagster.domain.processors.bank_statement.rules import REVENUE_CATEGORIES, Rules
from aura_dagster.domain.processors.bank_statement.stacking import Position, find_positions

ZERO = Decimal("0.00")
RATIO = Decimal("0.0001")


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return (numerator / denominator).quantize(RATIO, rounding=ROUND_HALF_UP)


def _month_index(key: str) -> int:
    return int(key[:4]) * 12 + int(key[5:]) - 1


def trend_slope(monthly: dict[str, Decimal]) -> Decimal | None:
    """Least-squares slope of the values against their calendar-month index, in cents."""
    if len(monthly) < 2:
        return None
    xs = [Decimal(_month_index(k)) for k in monthly]
    ys = list(monthly.values())
    x_mean = sum(xs) / len(xs)
    y_mean = sum(ys) / len(ys)
    numerator = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True))
    denominator = sum((x - x_mean) ** 2 for x in xs)
    return to_cents(numerator / denominator)


def _events(ledger: Ledger, rules: Rules) -> dict[str, dict[str, int]]:
    """{'nsf': {month: count}, 'overdraft': {...}} with the per-day max(fee, item) rule."""
    lines: dict[tuple[str, object], list[int]] = defaultdict(lambda: [0, 0])
    for txn in ledger.transactions:
        found = rules.event_line(txn)
        if found is not None:
            kind, is_fee = found
            lines[(kind, txn.date)][0 if is_fee else 1] += 1
    counts: dict[str, dict[str, int]] = {"nsf": defaultdict(int), "overdraft": defaultdict(int)}
    for (kind, day), (fees, items) in lines.items():
        counts[kind][month_key(day)] += max(fees, items)  # type: ignore[arg-type]
    return counts


def _by_month(months: list[str], values: dict[str, Any], default: Any) -> dict[str, Any]:
    keys = sorted(set(months) | set(values))
    return {key: values.get(key, default) for key in keys}


def compute_factors(ledger: Ledger, rules: Rules) -> dict[str, Any]:
    months = ledger.months
    month_count = len(months)
    deposits: dict[str, Decimal] = defaultdict(lambda: ZERO)
    deposit_counts: dict[str, int] = defaultdict(int)
    withdrawals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    revenue: dict[str, Decimal] = defaultdict(lambda: ZERO)
    excluded: dict[str, Decimal] = defaultdict(lambda: ZERO)
    largest = ZERO
    for txn in ledger.transactions:
        month = month_key(txn.date)
        if txn.amount > 0:
            deposits[month] += txn.amount
            deposit_counts[month] += 1
            largest = max(largest, txn.amount)
            category = rules.deposit_category(txn)
            if category in REVENUE_CATEGORIES:
                revenue[month] += txn.amount
            else:
                excluded[category] += txn.amount
        elif txn.amount < 0:
            withdrawals[month] += -txn.amount
    total_deposits = sum(deposits.values(), ZERO)
    total_revenue = sum(revenue.values(), ZERO)
    revenue_by_month = _by_month(months, revenue, ZERO)
    revenue_months = [m for m in months if m in revenue_by_month]
    first_revenue = revenue_by_month[revenue_months[0]] if revenue_months else ZERO
    trend_ratio = (ratio(revenue_by_month[revenue_months[-1]], first_revenue)
                   if len(revenue_months) >= 2 and first_revenue else None)

    daily_by_month: dict[str, list[Decimal]] = defaultdict(list)
    negative_by_month: dict[str, int] = defaultdict(int)
    for day, balance in ledger.daily_balances.items():
        daily_by_month[month_key(day)].append(balance)
    for day in ledger.negative_days:
        negative_by_month[month_key(day)] += 1
    all_days = list(ledger.daily_balances.values())
    unknown = ledger.balances_unknown
    if unknown:  # null means unknown: no balance factor is built on a guessed zero
        all_days, daily_by_month, negative_by_month = [], defaultdict(list), defaultdict(int)
    events = _events(ledger, rules)

    positions = find_positions(ledger.transactions, rules)
    stacking_by_month: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for position in positions:
        for txn in position.transactions:
            stacking_by_month[month_key(txn.date)] += -txn.amount
    stacking_total = sum((p.total for p in positions), ZERO)

    verdicts = [s.reconciles for s in ledger.statements]
    unreconciled = sum(1 for v in verdicts if v is False)
    unjudged = sum(1 for v in verdicts if v is None)
    all_reconcile: bool | None = False if unreconciled else (None if unjudged else True)

    return {
        "bank_statement_count": len(ledger.statements),
        "bank_period_start": min(ledger.daily_balances) if ledger.daily_balances else None,
        "bank_period_end": max(ledger.daily_balances) if ledger.daily_balances else None,
        "bank_months": months,
        "bank_months_covered": month_count,
        "bank_month_gaps": ledger.month_gaps,
        "bank_months_contiguous": not ledger.month_gaps,
        "bank_transaction_count": len(ledger.transactions),
        "bank_duplicate_transactions_dropped": ledger.duplicates_dropped,
        "bank_total_deposits": total_deposits,
        "bank_total_deposits_by_month": _by_month(months, deposits, ZERO),
        "bank_deposit_count": sum(deposit_counts.values()),
        "bank_deposit_count_by_month": _by_month(months, deposit_counts, 0),
        "bank_total_withdrawals": sum(withdrawals.values(), ZERO),
        "bank_total_withdrawals_by_month": _by_month(months, withdrawals, ZERO),
        "bank_revenue": total_revenue,
        "bank_revenue_by_month": revenue_by_month,
        "bank_non_revenue_deposits_by_category": dict(sorted(excluded.items())),
        "bank_average_monthly_revenue": to_cents(total_revenue / month_count) if month_count
        else ZERO,
        "bank_largest_deposit": largest,
        "bank_largest_deposit_share": ratio(largest, total_deposits) if total_deposits
        else Decimal("0.0000"),
        "bank_revenue_trend_slope": trend_slope({m: revenue_by_month[m] for m in months}),
        "bank_revenue_trend_ratio": trend_ratio,
        "bank_average_daily_balance": to_cents(sum(all_days, ZERO) / len(all_days)) if all_days
        else None,
        "bank_average_daily_balance_by_month": {
            m: to_cents(sum(v, ZERO) / len(v)) for m, v in sorted(daily_by_month.items())},
        "bank_lowest_daily_balance": min(all_days) if all_days else None,
        "bank_negative_balance_days": None if unknown else len(ledger.negative_days),
        "bank_negative_balance_days_by_month": {} if unknown
        else _by_month(months, negative_by_month, 0),
        "bank_balances_unknown_for": unknown,
        "bank_nsf_count": sum(events["nsf"].values()),
        "bank_nsf_count_by_month": _by_month(months, events["nsf"], 0),
        "bank_overdraft_count": sum(events["overdraft"].values()),
        "bank_overdraft_count_by_month": _by_month(months, events["overdraft"], 0),
        "bank_stacking_funders": sorted(p.name for p in positions if p.kind == "known_funder"),
        "bank_stacking_position_count": len(positions),
        "bank_stacking_debit_count": sum(len(p.transactions) for p in positions),
        "bank_stacking_total_debits": stacking_total,
        "bank_stacking_monthly_amount": to_cents(stacking_total / month_count) if month_count
        else ZERO,
        "bank_stacking_amount_by_month": _by_month(months, stacking_by_month, ZERO),
        "bank_stacking_positions": [_position(p) for p in positions],
        "bank_all_statements_reconcile": all_reconcile,
        "bank_unreconciled_statement_count": unreconciled,
        "bank_unjudged_statement_count": unjudged,
        "bank_statement_warnings": [f"{s.source}: {w}" for s in ledger.statements
                                    for w in s.warnings],
        "bank_pending_excluded": sum(s.pending_excluded for s in ledger.statements),
    }


def _position(position: Position) -> dict[str, Any]:
    return {"name": position.name, "kind": position.kind, "cadence": position.cadence,
            "amount": position.amount, "debit_count": len(position.transactions),
            "total": position.total}
