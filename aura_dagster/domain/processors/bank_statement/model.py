"""Parsed statements: transactions and the balances printed around them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aura_dagster.domain.money import to_cents


@dataclass(frozen=True)
class Transaction:
    """One posted line. `amount` is signed: credits positive, debits negative."""

    date: dt.date
    description: str
    amount: Decimal
    balance: Decimal | None = None  # running balance when the statement prints one

    @property
    def is_credit(self) -> bool:
        return self.amount > 0

    @property
    def is_debit(self) -> bool:
        return self.amount < 0

    def key(self) -> tuple[dt.date, Decimal, str]:
        """Identity used to drop duplicates coming from overlapping statements."""
        return (self.date, self.amount, " ".join(self.description.upper().split()))

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "description": self.description, "amount": self.amount,
                "balance": self.balance}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transaction:
        balance = data.get("balance")
        return cls(date=_as_date(data["date"]), description=str(data["description"]),
                   amount=as_money(data["amount"]),
                   balance=None if balance is None else as_money(balance))


@dataclass(frozen=True)
class Statement:
    """One statement (one account, one period), transactions oldest first.

    `opening_balance` is None when the source does not carry one (OFX); then
    reconciliation cannot be judged and `reconciles` is None.
    """

    source: str  # file name
    format: str  # "pdf" | "csv" | "ofx"
    period_start: dt.date
    period_end: dt.date
    transactions: list[Transaction]
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    opening_balance_source: str = "stated"  # stated | running_balance | absent
    bank_name: str | None = None
    account_id: str | None = None  # masked: last four digits only
    page_count: int = 1
    notes: list[str] = field(default_factory=list)
    # How the file was read: a known layout's name ("chase_business_csv", "ofx", ...) or
    # "inferred:<how>" for a layout read from its content.
    layout: str | None = None
    pending_excluded: int = 0  # pending (not posted) rows left out of `transactions`
    warnings: list[str] = field(default_factory=list)  # what a reviewer should know
    # The balance chain's verdict where the parser judged one (balance_chain.judge): it
    # also sees breaks that cancel out in opening + credits - debits - closing. None: the
    # parser did not judge, the opening / closing difference decides.
    chain_verdict: bool | None = None

    @property
    def total_credits(self) -> Decimal:
        return sum((t.amount for t in self.transactions if t.amount > 0), Decimal("0.00"))

    @property
    def total_debits(self) -> Decimal:
        """Debits as a positive number."""
        return -sum((t.amount for t in self.transactions if t.amount < 0), Decimal("0.00"))

    @property
    def reconciliation_difference(self) -> Decimal | None:
        """opening + credits - debits - closing; None when a balance is missing."""
        if self.opening_balance is None or self.closing_balance is None:
            return None
        return (self.opening_balance + self.total_credits - self.total_debits
                - self.closing_balance)

    @property
    def reconciles(self) -> bool | None:
        """True / False when judged; None when the statement has no opening or closing balance."""
        if self.chain_verdict is not None:
            return self.chain_verdict
        difference = self.reconciliation_difference
        return None if difference is None else difference == 0

    @property
    def reconciliation_note(self) -> str:
        difference = self.reconciliation_difference
        if self.chain_verdict is False and not difference:
            return "the running balance or the stated totals do not follow the rows (see warnings)"
        if self.chain_verdict is True and difference is None:
            return "every printed running balance follows from the rows"
        if difference is None:
            missing = "opening" if self.opening_balance is None else "closing"
            return (f"cannot be judged: the {self.format.upper()} file carries no {missing} "
                    "balance")
        if difference == 0:
            return "opening + credits - debits equals the closing balance"
        return f"off by {difference}: opening + credits - debits - closing"

    def effective_opening_balance(self) -> Decimal:
        """The balance before the first transaction, derived from the closing one if needed."""
        if self.opening_balance is not None:
            return self.opening_balance
        if self.closing_balance is not None:
            return self.closing_balance - sum((t.amount for t in self.transactions),
                                              Decimal("0.00"))
        return Decimal("0.00")

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source, "format": self.format, "bank_name": self.bank_name,
            "account_id": self.account_id, "period_start": self.period_start,
            "period_end": self.period_end, "page_count": self.page_count,
            "transaction_count": len(self.transactions),
            "opening_balance": self.opening_balance,
            "opening_balance_source": self.opening_balance_source,
            "closing_balance": self.closing_balance, "total_credits": self.total_credits,
            "total_debits": self.total_debits, "reconciles": self.reconciles,
            "reconciliation_difference": self.reconciliation_difference,
            "reconciliation_note": self.reconciliation_note, "notes": list(self.notes),
            "layout": self.layout, "pending_excluded": self.pending_excluded,
            "warnings": list(self.warnings), "chain_verdict": self.chain_verdict,
        }

    def to_dict(self) -> dict[str, Any]:
        return self.summary() | {"transactions": [t.to_dict() for t in self.transactions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Statement:
        """Rebuild from `to_dict()` output, also after it went through JSON."""

        def money(key: str) -> Decimal | None:
            value = data.get(key)
            return None if value is None else as_money(value)

        return cls(source=str(data["source"]), format=str(data["format"]),
                   period_start=_as_date(data["period_start"]),
                   period_end=_as_date(data["period_end"]),
                   transactions=[Transaction.from_dict(t) for t in data["transactions"]],
                   opening_balance=money("opening_balance"),
                   closing_balance=money("closing_balance"),
                   opening_balance_source=str(data.get("opening_balance_source", "stated")),
                   bank_name=data.get("bank_name"), account_id=data.get("account_id"),
                   page_count=int(data.get("page_count") or 1),
                   notes=list(data.get("notes") or []), layout=data.get("layout"),
                   pending_excluded=int(data.get("pending_excluded") or 0),
                   warnings=list(data.get("warnings") or []),
                   chain_verdict=data.get("chain_verdict"))


def as_money(value: Decimal | int | float | str) -> Decimal:
    """Cents from a Decimal, or from a float that went through JSON (via its shortest repr)."""
    if isinstance(value, float):
        value = repr(value)
    return to_cents(value)


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
