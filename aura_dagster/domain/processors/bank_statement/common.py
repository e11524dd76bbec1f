"""Steps shared by the PDF and CSV parsers: ordering rows and inferring signs."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction

# Words that mark a credit when a statement gives an unsigned amount and nothing else.
_CREDIT_WORDS = re.compile(
    r"\b(DEPOSIT|CREDIT|TRANSFER FROM|XFER FROM|REFUND|PROCEEDS|ZELLE FROM|INTEREST PAID"
    r"|REVERSAL|SETTLEMENT|PAYOUT)\b", re.IGNORECASE)


@dataclass
class RawRow:
    """A table row before its sign and year are settled."""

    date: dt.date
    description: str
    amount: Decimal | None = None  # signed when known
    unsigned: Decimal | None = None  # magnitude whose sign must be inferred
    balance: Decimal | None = None
    sign_hint: int | None = None  # +1 / -1 from a section heading


def chronological(rows: list[RawRow]) -> tuple[list[RawRow], bool]:
    """Rows oldest first; newest-first tables are reversed whole, which keeps same-day order."""
    reverse = len(rows) >= 2 and rows[0].date > rows[-1].date
    ordered = list(reversed(rows)) if reverse else list(rows)
    # Sectioned statements list deposits then withdrawals: a stable sort interleaves them.
    ordered.sort(key=lambda row: row.date)
    return ordered, reverse


def settle_signs(rows: list[RawRow], opening: Decimal | None, *,
                 use_section_signs: bool = True) -> list[str]:
    """Give every row a signed amount; returns notes on rows whose sign was guessed."""
    notes: list[str] = []
    previous = opening
    for row in rows:
        if row.amount is None and row.unsigned is not None:
            magnitude = abs(row.unsigned)
            if row.balance is not None and previous is not None:
                if previous + magnitude == row.balance:
                    row.amount = magnitude
                elif previous - magnitude == row.balance:
                    row.amount = -magnitude
                else:  # the balance jumps: trust its direction, say so
                    row.amount = magnitude if row.balance >= previous else -magnitude
                    notes.append(f"{row.date} {row.description}: running balance does not follow")
            elif row.sign_hint is not None:
                row.amount = magnitude * row.sign_hint
            else:
                row.amount = magnitude if _CREDIT_WORDS.search(row.description) else -magnitude
                notes.append(f"{row.date} {row.description}: sign guessed from the description")
        elif (use_section_signs and row.amount is not None and row.sign_hint is not None
              and row.amount > 0):
            row.amount = row.amount * row.sign_hint
        if row.balance is not None:
            previous = row.balance
        elif previous is not None and row.amount is not None:
            previous = previous + row.amount
    return notes


def clean_description(text: str) -> str:
    return " ".join(text.split())


def build_statement(rows: list[RawRow], opening: Decimal | None, closing: Decimal | None,
               period: tuple[dt.date, dt.date] | None, *, source: str, page_count: int,
               bank_name: str | None, account_id: str | None, notes: list[str],
               fmt: str) -> Statement:
    """The Statement of settled rows; missing balances come from the running balance."""
    transactions = [Transaction(r.date, r.description, r.amount or Decimal("0.00"), r.balance)
                    for r in rows]
    opening_source = "stated"
    if opening is None and transactions and transactions[0].balance is not None:
        opening = transactions[0].balance - transactions[0].amount
        opening_source = "running_balance"
    elif opening is None:
        opening_source = "absent"
    if closing is None and transactions and transactions[-1].balance is not None:
        closing = transactions[-1].balance
    if period is None:
        if not transactions:
            raise StatementParseError("STATEMENT_NO_DATES", f"{source}: no statement period")
        period = (transactions[0].date, transactions[-1].date)
    return Statement(source=source, format=fmt, period_start=period[0], period_end=period[1],
                     transactions=transactions, opening_balance=opening,
                     closing_balance=closing, opening_balance_source=opening_source,
                     bank_name=bank_name, account_id=account_id, page_count=page_count,
                     notes=notes)
