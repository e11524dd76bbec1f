"""Statements from OFX / QFX files: ofxparse (MIT) in strict mode, else a tolerant reader.

ofxparse's strict mode rejects a whole file for one empty element (an empty closing
balance, an empty payee name), a one-line header or undeclared UTF-8. Such a file is then
read by `ofx_reader`, which keeps every transaction and leaves what it cannot read unknown
(an empty ledger balance gives `closing_balance=None`), and the statement says so in its
warnings.

Null means unknown: OFX states no opening balance, so `opening_balance` stays None and
reconciliation "cannot be judged"; the closing balance is the stated LEDGERBAL (AVAILCASH
for investment accounts), never one derived from the transactions.

Investment statements (INVSTMTRS) count their cash movements only: bank transactions inside
the account (INVBANKTRAN) and the cash leg (TOTAL) of buys, sells, income, expenses and
returns of capital. Reinvestments, securities transfers and journals move no cash.
"""

from __future__ import annotations

import io
import re
import warnings

from aura_dagster.domain.money import to_cents
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction
from aura_dagster.domain.processors.bank_statement.ofx_reader import (
    CASH_LEG_TYPES,
    NO_CASH_TYPES,
    OfxAccount,
    OfxRow,
    decode,
    describe,
    layout,
    no_cash_warning,
    parse_tree,
    read_accounts,
)

# `<DTPOSTED>20240131200000.000[-5:EST]`: the zone suffix, which ofxparse would apply.
_ZONE = re.compile(rb"(<DT[A-Z]+>\s*\d{8}[\d.:]*)\s*\[[^\]<]*\]", re.IGNORECASE)
_NO_OPENING = "OFX carries no opening balance: reconciliation cannot be judged"


def parse_statement_ofx(content: bytes, *, source: str) -> list[Statement]:
    """One Statement per account in the file. Raises StatementParseError."""
    text = decode(content)
    file_warnings: list[str] = []
    try:
        accounts = read_strict(content)
    except Exception as exc:  # ofxparse raises assorted errors on files it dislikes
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        try:
            accounts = read_accounts(parse_tree(text))
        except StatementParseError as tolerant_exc:
            raise StatementParseError(
                "STATEMENT_OFX_INVALID",
                f"{source}: not a readable OFX file ({reason}; {tolerant_exc})") from exc
        file_warnings.append(f"ofxparse rejected the file in strict mode ({reason}); "
                             "read with the tolerant OFX reader")
    statements = [s for s in (_statement(a, text, source, file_warnings) for a in accounts)
                  if s is not None]
    if not statements:
        raise StatementParseError("STATEMENT_NO_TRANSACTIONS",
                                  f"{source}: the OFX file holds no bank statement"
                                  + _server_error(text))
    return statements


def _server_error(text: str) -> str:
    """The bank's own reason when the download is an error response (STATUS SEVERITY ERROR)."""
    try:
        ofx = parse_tree(text)
    except StatementParseError:
        return ""
    for status in ofx.find_all("STATUS"):
        if (status.value("SEVERITY") or "").upper() == "ERROR":
            return (f" (the bank answered code {status.value('CODE') or '?'}: "
                    f"{status.value('MESSAGE') or 'no message'})")
    return ""


def read_strict(content: bytes) -> list[OfxAccount]:
    """The accounts as ofxparse reads them with fail_fast=True. Raises on any defect."""
    from ofxparse import OfxParser  # lazy: ofxparse pulls in BeautifulSoup at import time
    from ofxparse.ofxparse import AccountType, InvestmentTransaction

    with warnings.catch_warnings():  # ofxparse feeds OFX 2.x XML to an HTML parser
        warnings.simplefilter("ignore")
        ofx = OfxParser.parse(io.BytesIO(_ZONE.sub(rb"\1", content)), fail_fast=True)
    accounts: list[OfxAccount] = []
    for account in ofx.accounts or []:
        stmt = getattr(account, "statement", None)
        if stmt is None:
            continue
        institution = getattr(account, "institution", None)
        bank_name = getattr(institution, "organization", None)
        start, end = getattr(stmt, "start_date", None), getattr(stmt, "end_date", None)
        acct = OfxAccount("bank", getattr(account, "account_id", None) or None, bank_name,
                          start.date() if start else None, end.date() if end else None,
                          [], None)
        if account.type == AccountType.Investment:
            acct.kind = "investment"
            skipped = 0
            for txn in stmt.transactions:
                if not isinstance(txn, InvestmentTransaction):  # INVBANKTRAN
                    acct.rows.append(OfxRow(txn.date.date(), describe(txn.payee, txn.memo),
                                            txn.amount))
                elif txn.type.upper() in CASH_LEG_TYPES:
                    day = txn.settleDate or txn.tradeDate
                    acct.rows.append(OfxRow(day.date(), describe(txn.type.upper(),
                                                                 txn.memo or txn.security),
                                            txn.total))
                elif txn.type.upper() in NO_CASH_TYPES:
                    skipped += 1
            if skipped:
                acct.warnings.append(no_cash_warning(skipped))
            acct.closing = getattr(stmt, "available_cash", None)
        else:
            if account.type == AccountType.CreditCard:
                acct.kind = "creditcard"
            acct.rows = [OfxRow(t.date.date(), describe(t.payee, t.memo), t.amount)
                         for t in stmt.transactions]
            acct.closing = getattr(stmt, "balance", None)
        accounts.append(acct)
    return accounts


def _statement(acct: OfxAccount, text: str, source: str,
               file_warnings: list[str]) -> Statement | None:
    # OFX lists may be in any order; a stable sort keeps same-day order as given.
    rows = sorted(acct.rows, key=lambda r: r.date)
    transactions = [Transaction(r.date, r.description, to_cents(r.amount)) for r in rows]
    if acct.start is not None and acct.end is not None:
        start, end = acct.start, acct.end
    elif transactions:
        start, end = transactions[0].date, transactions[-1].date
    else:
        return None
    notes = [_NO_OPENING]
    found = list(file_warnings) + acct.warnings
    inexact = sum(1 for r in rows if r.amount != to_cents(r.amount))
    if inexact:
        found.append(f"{inexact} amount(s) written with more than two decimals were rounded "
                     "half-up to cents")
    if acct.kind == "creditcard":
        found.append("credit card account: credits are payments and refunds to the card, "
                     "debits are charges")
    if acct.kind == "investment":
        found.append("investment account: only cash movements are counted; the closing "
                     "balance is the stated available cash" if acct.closing is not None else
                     "investment account: only cash movements are counted; no cash balance "
                     "is stated")
    number = acct.account_id or ""
    return Statement(
        source=source, format="ofx", period_start=start, period_end=end,
        transactions=transactions, opening_balance=None,
        closing_balance=None if acct.closing is None else to_cents(acct.closing),
        opening_balance_source="absent", bank_name=acct.bank_name,
        account_id=number[-4:] if number else None, page_count=1, notes=notes,
        layout=layout(text, investment=acct.kind == "investment"), warnings=found)
