"""Expected bank factors computed straight from the generator's ground truth.

Independent of the processor: revenue comes from the generator's `kind` labels, not
from description patterns, and balances are re-added day by day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.sample_data.bank_statements import (
    REVENUE_KINDS,
    STACKING_KINDS,
    GeneratedStatement,
)

CENT = Decimal("0.01")


def document(name: str, content: bytes, index: int = 1) -> Document:
    return Document(document_id=f"doc_{index:03d}", revision_id="1",
                    content_location=f"/tmp/{name}", document_type=DocumentType.BANK_STATEMENT,
                    filename=name, content=content)


def daily_balances(statement: GeneratedStatement) -> dict[dt.date, Decimal]:
    days: dict[dt.date, Decimal] = {}
    day = statement.period_start
    while day <= statement.period_end:
        days[day] = statement.opening_balance + sum(
            (t.amount for t in statement.transactions if t.date <= day), Decimal("0"))
        day += dt.timedelta(days=1)
    return days


def month(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def expected_factors(statements: Sequence[GeneratedStatement]) -> dict[str, object]:
    """Expected values for statements of ONE account with consecutive periods."""
    txns = [t for s in statements for t in s.transactions]
    days: dict[dt.date, Decimal] = {}
    for statement in statements:
        days.update(daily_balances(statement))
    months = sorted({month(d) for d in days})
    revenue_by_month = {m: sum((t.amount for t in txns if t.kind in REVENUE_KINDS
                                and month(t.date) == m), Decimal("0")) for m in months}
    # Least squares by hand with exact fractions, month index 0..n-1 (consecutive months).
    xs = list(range(len(months)))
    ys = [Fraction(revenue_by_month[m]) for m in months]
    x_mean = Fraction(sum(xs), len(xs))
    y_mean = sum(ys) / len(ys)
    slope = (sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True))
             / sum((x - x_mean) ** 2 for x in xs))
    deposits = [t.amount for t in txns if t.amount > 0]
    stacking = [t for t in txns if t.kind in STACKING_KINDS]
    funders = sorted({t.counterparty for t in txns if t.kind == "funder_debit"})
    unnamed_series = {t.amount for t in txns if t.kind == "recurring_debit"}
    return {
        "bank_months": months,
        "bank_months_covered": len(months),
        "bank_transaction_count": len(txns),
        "bank_total_deposits": sum(deposits, Decimal("0")),
        "bank_deposit_count": len(deposits),
        "bank_total_withdrawals": -sum((t.amount for t in txns if t.amount < 0), Decimal("0")),
        "bank_revenue": sum(revenue_by_month.values(), Decimal("0")),
        "bank_revenue_by_month": revenue_by_month,
        "bank_largest_deposit": max(deposits),
        "bank_largest_deposit_share": (max(deposits) / sum(deposits)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP),
        "bank_revenue_trend_slope": (Decimal(slope.numerator) / Decimal(slope.denominator))
        .quantize(CENT, rounding=ROUND_HALF_UP),
        "bank_average_daily_balance": (sum(days.values(), Decimal("0")) / len(days)).quantize(
            CENT, rounding=ROUND_HALF_UP),
        "bank_lowest_daily_balance": min(days.values()),
        "bank_negative_balance_days": sum(1 for v in days.values() if v < 0),
        "bank_nsf_count": len({t.date for t in txns if t.kind in ("nsf_fee", "nsf_item")}),
        "bank_overdraft_count": len({t.date for t in txns if t.kind == "overdraft_fee"}),
        "bank_stacking_funders": funders,
        "bank_stacking_position_count": len(funders) + len(unnamed_series),
        "bank_stacking_debit_count": len(stacking),
        "bank_stacking_total_debits": -sum((t.amount for t in stacking), Decimal("0")),
    }
