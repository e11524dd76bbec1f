"""Statements from OFX / QFX files (1.x SGML and 2.x XML) through ofxparse (MIT).

OFX gives the transactions and a ledger balance at the end of the period but no
opening balance: such a statement keeps `opening_balance=None`, so its
reconciliation is reported as "cannot be judged", never as passed.
"""

from __future__ import annotations

import io
import warnings

from ofxparse import OfxParser

from aura_dagster.domain.money import to_cents
from aura_dagster.domain.processors.bank_statement.common import clean_description
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction


def parse_statement_ofx(content: bytes, *, source: str) -> list[Statement]:
    """One Statement per account in the file. Raises StatementParseError."""
    try:
        with warnings.catch_warnings():  # ofxparse feeds OFX 2.x XML to an HTML parser
            warnings.simplefilter("ignore")
            ofx = OfxParser.parse(io.BytesIO(content))
    except Exception as exc:  # ofxparse raises assorted errors on malformed files
        raise StatementParseError("STATEMENT_OFX_INVALID",
                                  f"{source}: not a readable OFX file ({exc})") from exc
    statements: list[Statement] = []
    for account in ofx.accounts or []:
        stmt = getattr(account, "statement", None)
        if stmt is None:
            continue
        transactions = [
            Transaction(txn.date.date(), _description(txn.payee, txn.memo), to_cents(txn.amount))
            for txn in stmt.transactions
        ]
        # OFX lists may be in any order; a stable sort keeps same-day order as given.
        transactions.sort(key=lambda t: t.date)
        ledger = getattr(stmt, "balance", None)
        start = getattr(stmt, "start_date", None)
        end = getattr(stmt, "end_date", None)
        if start is None or end is None:
            if not transactions:
                continue
            start_date, end_date = transactions[0].date, transactions[-1].date
        else:
            start_date, end_date = start.date(), end.date()
        number = str(getattr(account, "account_id", "") or getattr(account, "number", ""))
        statements.append(Statement(
            source=source, format="ofx", period_start=start_date, period_end=end_date,
            transactions=transactions, opening_balance=None,
            closing_balance=None if ledger is None else to_cents(ledger),
            opening_balance_source="absent",
            bank_name=getattr(getattr(account, "institution", None), "organization", None),
            account_id=number[-4:] if number else None, page_count=1,
            notes=["OFX carries no opening balance: reconciliation cannot be judged"]))
    if not statements:
        raise StatementParseError("STATEMENT_NO_TRANSACTIONS",
                                  f"{source}: the OFX file holds no bank statement")
    return statements


def _description(payee: str | None, memo: str | None) -> str:
    parts: list[str] = []
    for part in (payee, memo):
        text = clean_description(part or "")
        if text and text not in parts:
            parts.append(text)
    return " ".join(parts)
