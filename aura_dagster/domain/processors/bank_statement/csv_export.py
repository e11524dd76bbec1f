"""Statements from CSV exports.

The header row is the first row naming a date column and either an amount column
or withdrawal and deposit columns; rows above it are a summary block (`Beginning
Balance,"$1,234.56"`, `Statement Period,...`, `Account,...`). Amounts may carry `$`,
thousands separators, parentheses or a trailing minus; a `Type` column (DEBIT /
CREDIT) signs unsigned amounts. Rows may be newest-first or oldest-first.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

from aura_dagster.domain.processors.bank_statement.common import (
    RawRow,
    build_statement,
    chronological,
    clean_description,
    settle_signs,
)
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.model import Statement
from aura_dagster.domain.processors.bank_statement.values import (
    DATE_RE,
    parse_amount,
    parse_date,
    resolve_year,
)

_OPENING = re.compile(r"(beginning|opening|previous|starting)\s+balance|balance\s+forward", re.I)
_CLOSING = re.compile(r"(ending|closing|new)\s+balance", re.I)
_DEBIT_TYPES = frozenset({"DEBIT", "DR", "D", "WITHDRAWAL", "PAYMENT", "CHECK", "FEE"})


@dataclass
class _Layout:
    date: int
    description: int
    amount: int | None = None
    debit: int | None = None
    credit: int | None = None
    balance: int | None = None
    kind: int | None = None  # DEBIT / CREDIT indicator


def _find(cells: list[str], *patterns: str) -> int | None:
    for pattern in patterns:
        for index, cell in enumerate(cells):
            if re.search(pattern, cell):
                return index
    return None


def _layout(row: list[str]) -> _Layout | None:
    cells = [cell.strip().lower() for cell in row]
    date = _find(cells, r"^(posting |posted |transaction |trans\.? )?date$", r"\bdate\b")
    if date is None:
        return None
    description = _find(cells, r"description", r"memo", r"payee", r"details", r"narrative",
                        r"^name$", r"transaction$")
    balance = _find(cells, r"balance")
    debit = _find(cells, r"withdrawal", r"^debits?( amount)?$", r"money out", r"^payments?$")
    credit = _find(cells, r"deposit", r"^credits?( amount)?$", r"money in")
    amount = _find(cells, r"^(transaction )?amount$", r"amount")
    kind = _find(cells, r"^(type|cr/dr|dr/cr|debit/credit|transaction type)$")
    if description is None:
        return None
    if debit is not None and credit is not None and debit != credit:
        return _Layout(date, description, debit=debit, credit=credit, balance=balance, kind=None)
    if amount is not None and amount != balance:
        return _Layout(date, description, amount=amount, balance=balance, kind=kind)
    return None


def _money(cells: list[str], index: int | None) -> Decimal | None:
    if index is None or index >= len(cells) or not cells[index].strip():
        return None
    return parse_amount(cells[index])


def _summary_amount(cells: list[str]) -> Decimal | None:
    for cell in cells[1:] + cells[:1]:
        try:
            return parse_amount(cell)
        except ValueError:
            continue
    return None


def parse_statement_csv(text: str, *, source: str) -> Statement:
    """Parse a CSV export. Raises StatementParseError."""
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    table = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    header_index, layout = next(
        ((i, lay) for i, row in enumerate(table) if (lay := _layout(row)) is not None),
        (None, None))
    if header_index is None or layout is None:
        raise StatementParseError("STATEMENT_NO_COLUMNS",
                                  f"{source}: no header row with a date and amount columns")
    opening = closing = None
    period: tuple[dt.date, dt.date] | None = None
    account_id: str | None = None
    bank_name: str | None = None
    for row in table[:header_index]:
        joined = " ".join(row)
        label = (row[0] if row else "").strip().lower()
        if opening is None and _OPENING.search(joined):
            opening = _summary_amount(row)
        elif closing is None and _CLOSING.search(joined):
            closing = _summary_amount(row)
        elif "period" in label:
            dates = [parse_date(t)[0] for t in DATE_RE.findall(" ".join(row[1:]))]
            if len(dates) >= 2:
                period = (dates[0], dates[1])
        elif "account" in label and (m := re.search(r"(\d{4})\D*$", " ".join(row[1:]))):
            account_id = m[1]
        elif label in {"bank", "institution", "financial institution"} and len(row) > 1:
            bank_name = row[1].strip()

    rows: list[RawRow] = []
    years_missing = False
    for cells in table[header_index + 1:]:
        if len(cells) <= max(layout.date, layout.description) or not cells[layout.date].strip():
            continue
        try:
            date, had_year = parse_date(cells[layout.date])
        except ValueError:
            continue  # a footer or total row
        years_missing = years_missing or not had_year
        try:
            rows.append(_row(date, cells, layout))
        except ValueError as exc:
            raise StatementParseError("STATEMENT_BAD_AMOUNT", f"{source}: {exc}") from exc
    if years_missing:
        if period is None:
            raise StatementParseError("STATEMENT_NO_DATES",
                                      f"{source}: dates have no year and no statement period")
        for row in rows:
            row.date = resolve_year(row.date.month, row.date.day, *period)
    if not rows and (opening is None or closing is None):
        raise StatementParseError("STATEMENT_NO_TRANSACTIONS", f"{source}: no transaction rows")
    rows, _ = chronological(rows)
    notes = settle_signs(rows, opening)
    return build_statement(rows, opening, closing, period, source=source, page_count=1,
                      bank_name=bank_name, account_id=account_id, notes=notes, fmt="csv")


def _row(date: dt.date, cells: list[str], layout: _Layout) -> RawRow:
    row = RawRow(date, clean_description(cells[layout.description]))
    row.balance = _money(cells, layout.balance)
    if layout.amount is not None:
        amount = _money(cells, layout.amount) or Decimal("0.00")
        if layout.kind is not None and layout.kind < len(cells):
            kind = cells[layout.kind].strip().upper()
            amount = -abs(amount) if kind in _DEBIT_TYPES else abs(amount)
        row.amount = amount
        return row
    debit = _money(cells, layout.debit)
    credit = _money(cells, layout.credit)
    row.amount = abs(credit or Decimal("0.00")) - abs(debit or Decimal("0.00"))
    return row
