"""Statement tables from the text layer of a PDF, one regex pass over the lines.

Layouts handled (the column header line says which; it may repeat on every page):
- signed amount: `Date Description Amount [Balance]`, debits printed negative
  (`-1.00`, `(1.00)`, `1.00-`, `1.00 DR`);
- separate columns: `Date Description Withdrawals Deposits [Balance]`. Empty cells
  vanish from a text layer, so the sign of a lone amount comes from the running
  balance (previous balance +/- amount = this balance), else from the section
  heading, else from the description;
- sectioned: `Deposits and Additions` / `Withdrawals` / `Checks Paid` headings
  above unsigned amounts; a `Daily Balance` section is skipped.
Rows may be newest-first or oldest-first, with or without the year (taken from
the statement period then). Balance-forward rows ("Beginning Balance") give the
balances instead of counting as transactions.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
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
    AMOUNT_PATTERN,
    DATE_PATTERN,
    DATE_RE,
    parse_amount,
    parse_date,
    resolve_year,
)

_ROW_START = re.compile(rf"^(?P<date>{DATE_PATTERN})\s+(?P<rest>.+)$", re.IGNORECASE)
_TRAILING_AMOUNT = re.compile(rf"\s+(?P<amount>{AMOUNT_PATTERN})$", re.IGNORECASE)
_ANY_AMOUNT = re.compile(AMOUNT_PATTERN)
_OPENING = re.compile(r"\b(beginning|opening|previous|starting)\s+balance\b|balance\s+forward",
                      re.IGNORECASE)
_CLOSING = re.compile(r"\b(ending|closing|new)\s+balance\b", re.IGNORECASE)
_PERIOD = re.compile(r"period|through|statement dates?|\bfrom\b.+\bto\b", re.IGNORECASE)
_RANGE_WORD = r"(?:through|thru|to|until|till|[-\u2013\u2014])"
# "Statement period: 06/01/2026 through 06/30/2026", "for the period April 1 - April 30, 2026",
# "Statement Dates 05/01/26 thru 05/31/26", "Period covered: from ... to ...".
_PERIOD_PHRASE = re.compile(
    rf"\b(?:statement\s+period|(?:for\s+the\s+)?period(?:\s+(?:covered|of|from|ending))?"
    rf"|statement\s+dates?|activity\s+from)\b\s*:?\s*(?:from\s+|beginning\s+)?"
    rf"(?P<start>{DATE_PATTERN})\s*,?\s*(?:and\s+ending\s+)?{_RANGE_WORD}\s*(?P<end>{DATE_PATTERN})",
    re.IGNORECASE)
# "Opening Date 06/01/2026 ... Closing Date 06/30/2026" (card-style statement headers).
_OPEN_CLOSE_DATES = re.compile(
    rf"\b(?:opening|beginning|start)\s+date\s*:?\s*(?P<start>{DATE_PATTERN})"
    rf".{{0,80}}?\b(?:closing|ending|end)\s+date\s*:?\s*(?P<end>{DATE_PATTERN})",
    re.IGNORECASE)
# Two full dates joined by a range word (a hyphen only with spaces around it).
_BARE_RANGE = re.compile(
    rf"(?P<start>{DATE_PATTERN})(?:\s*(?:through|thru|to|until|[\u2013\u2014])\s*|\s+-\s+)"
    rf"(?P<end>{DATE_PATTERN})", re.IGNORECASE)
_ACCOUNT = re.compile(r"account(?:\s+(?:number|no\.?|#))?\s*:?\s*[^\d\n]{0,40}?[\dxX*\- ]*?"
                      r"(\d{4})\b", re.IGNORECASE)
_BANK_NAME = re.compile(r"\b(bank|credit union|financial|savings|trust)\b", re.IGNORECASE)
_PAGE = re.compile(r"\bpage\s+\d+(\s+of\s+\d+)?", re.IGNORECASE)
_HEADER_DATE = re.compile(r"\bdate\b", re.IGNORECASE)
_HEADER_DEBIT = re.compile(r"\b(withdrawals?|debits?|payments?|money out)\b", re.IGNORECASE)
_HEADER_CREDIT = re.compile(r"\b(deposits?|credits?|money in)\b", re.IGNORECASE)
_HEADER_AMOUNT = re.compile(r"\bamount\b", re.IGNORECASE)
_HEADER_BALANCE = re.compile(r"\bbalance\b", re.IGNORECASE)
_SECTION_CREDIT = re.compile(
    r"^(deposits?|credits?|additions|deposits?\s+(and|&)\s+(other\s+)?(credits|additions)"
    r"|electronic deposits|other credits)\b", re.IGNORECASE)
_SECTION_DEBIT = re.compile(
    r"^(withdrawals?|debits?|checks(\s+paid)?|electronic withdrawals|other debits|fees"
    r"|service charges|card purchases|atm (and|&) debit card withdrawals)\b", re.IGNORECASE)
_SECTION_SKIP = re.compile(r"^daily (ending )?balances?\b", re.IGNORECASE)


@dataclass
class _Columns:
    """What the latest column header says about the rows under it."""

    split: bool = False  # separate withdrawal / deposit columns
    credit_first: bool = False  # deposits printed left of withdrawals
    balance: bool = False
    seen: bool = False


def _header(line: str) -> _Columns | None:
    if not _HEADER_DATE.search(line) or _ANY_AMOUNT.search(line):
        return None
    debit, credit = _HEADER_DEBIT.search(line), _HEADER_CREDIT.search(line)
    if debit and credit:
        return _Columns(split=True, credit_first=credit.start() < debit.start(),
                        balance=bool(_HEADER_BALANCE.search(line)), seen=True)
    if _HEADER_AMOUNT.search(line):
        return _Columns(balance=bool(_HEADER_BALANCE.search(line)), seen=True)
    return None


def _peel_amounts(rest: str) -> tuple[str, list[Decimal]]:
    """Split `DESCRIPTION 1.00 2.00` into the description and up to three trailing amounts."""
    amounts: list[Decimal] = []
    while len(amounts) < 3:
        m = _TRAILING_AMOUNT.search(rest)
        if not m:
            break
        amounts.insert(0, parse_amount(m["amount"]))
        rest = rest[: m.start()]
    return rest.strip(), amounts


def _first_amount_after(line: str, pattern: re.Pattern[str]) -> Decimal | None:
    m = pattern.search(line)
    if not m:
        return None
    found = _ANY_AMOUNT.findall(line[m.end():])
    return parse_amount(found[0]) if found else None


def bank_name(lines: list[str]) -> str | None:
    """The bank named in the letterhead: the first of the top lines naming a bank, credit
    union, ... (without its page number)."""
    line = next((text for text in lines[:15] if _BANK_NAME.search(text)), None)
    return _PAGE.sub("", line.split(" - ")[0]).strip() if line else None


def find_period(lines: list[str]) -> tuple[dt.date, dt.date] | None:
    """The statement period: a labelled phrase first ("Statement period 06/01/2026 through
    06/30/2026", "for the period April 1 - April 30, 2026"), read across line breaks, then
    "Opening Date ... Closing Date ...", then a bare range of two full dates ("May 1, 2026
    to May 31, 2026"), then any line naming a period with two full dates."""
    head = " ".join(lines[:80])  # a phrase wrapped over two lines reads as one
    for pattern, start_needs_year in ((_PERIOD_PHRASE, False), (_OPEN_CLOSE_DATES, False),
                                      (_BARE_RANGE, True)):
        for m in pattern.finditer(head):
            found = _period_dates(m["start"], m["end"], start_needs_year=start_needs_year)
            if found is not None:
                return found
    for line in lines[:80]:
        if not _PERIOD.search(line):
            continue
        dates = []
        for token in DATE_RE.findall(line):
            try:
                value, had_year = parse_date(token)
            except ValueError:
                continue
            if had_year:
                dates.append(value)
        if len(dates) >= 2 and dates[0] <= dates[1]:
            return dates[0], dates[1]
    return None


def _period_dates(start_text: str, end_text: str, *,
                  start_needs_year: bool) -> tuple[dt.date, dt.date] | None:
    """Both ends of a period; a start without a year takes the end's (the year before when
    that would put it after the end: "December 15 - January 14, 2026")."""
    try:
        end, end_year = parse_date(end_text)
        start, start_year = parse_date(start_text, default_year=end.year)
    except ValueError:
        return None
    if not end_year:
        return None
    if start_needs_year and not start_year and not 0 <= (end - start).days <= 62:
        return None  # a bare "Mar 1 - Mar 31, 2026" is a period only when it spans a cycle
    if not start_year and start > end:
        try:
            start = start.replace(year=end.year - 1)
        except ValueError:  # 29 February
            return None
    if start > end or (end - start).days > 400:
        return None
    return start, end


def parse_statement_text(text: str, *, source: str, page_count: int = 1) -> Statement:
    """Parse a statement from its text layer. Raises StatementParseError."""
    lines = [clean_description(line) for line in text.replace("\f", "\n").split("\n")]
    lines = [line for line in lines if line]
    period = find_period(lines)
    opening: Decimal | None = None
    closing: Decimal | None = None
    account_match = next((m for m in map(_ACCOUNT.search, lines[:40]) if m), None)
    columns = _Columns()
    sign_hint: int | None = None
    skipping = False
    rows: list[RawRow] = []
    years_missing = False
    split_rows = 0  # rows read under a Withdrawals / Deposits column header

    for line in lines:
        header = _header(line)
        if header is not None:
            columns, skipping = header, False
            continue
        m = _ROW_START.match(line)
        if m is None:
            if not _ANY_AMOUNT.search(line):  # a heading, not a summary line
                if _SECTION_SKIP.match(line):
                    skipping = True
                elif _SECTION_CREDIT.match(line):
                    sign_hint, skipping = 1, False
                elif _SECTION_DEBIT.match(line):
                    sign_hint, skipping = -1, False
            if opening is None and _OPENING.search(line):
                opening = _first_amount_after(line, _OPENING)
            if closing is None and _CLOSING.search(line):
                closing = _first_amount_after(line, _CLOSING)
            continue
        if skipping:
            continue
        description, amounts = _peel_amounts(m["rest"])
        if not amounts or not description or _ANY_AMOUNT.fullmatch(description):
            continue
        # A second date column (transaction vs posting date) sits before the description.
        second = _ROW_START.match(description)
        if second and not _ANY_AMOUNT.fullmatch(second["date"]):
            description = second["rest"]
        try:
            date, had_year = parse_date(m["date"])
        except ValueError:
            continue
        years_missing = years_missing or not had_year
        if _OPENING.search(description) and len(amounts) == 1:  # balance-forward row
            opening = opening if opening is not None else amounts[0]
            continue
        if _CLOSING.search(description) and len(amounts) == 1:
            closing = closing if closing is not None else amounts[0]
            continue
        rows.append(_row(date, description, amounts, columns, sign_hint))
        split_rows += columns.split

    warnings: list[str] = []
    if years_missing:
        if period is None:
            raise StatementParseError("STATEMENT_NO_DATES",
                                      f"{source}: dates have no year and no statement period")
        for row in rows:
            row.date = resolve_year(row.date.month, row.date.day, *period)
        warnings.append(f"row dates print no year: years taken from the statement period "
                        f"{period[0]} to {period[1]}")
    if not rows and (opening is None or closing is None):
        raise StatementParseError("STATEMENT_NO_TRANSACTIONS",
                                  f"{source}: no transaction table found in the text")
    rows, _ = chronological(rows)
    explicit_signs = any(row.amount is not None and row.amount < 0 for row in rows)
    sectioned = not explicit_signs and any(row.sign_hint is not None for row in rows)
    notes = settle_signs(rows, opening, use_section_signs=not explicit_signs)
    guessed = sum("sign guessed" in note for note in notes)
    if guessed:
        warnings.append(f"{guessed} row(s) print an unsigned amount: sign guessed from the "
                        "description")
    jumps = sum("does not follow" in note for note in notes)
    if jumps:
        warnings.append(f"{jumps} row(s) where the running balance does not follow the amount")
    statement = build_statement(
        rows, opening, closing, period, source=source, page_count=page_count,
        bank_name=bank_name(lines), account_id=account_match[1] if account_match else None,
        notes=notes, fmt="pdf")
    layout = ("pdf_split_columns" if split_rows else "pdf_sectioned" if sectioned
              else "pdf_signed_amount")
    return replace(statement, layout=layout, warnings=warnings)


def _row(date: dt.date, description: str, amounts: list[Decimal], columns: _Columns,
         sign_hint: int | None) -> RawRow:
    row = RawRow(date, description)
    values = list(amounts)
    if columns.balance and len(values) >= 2:
        row.balance = values.pop()
    if columns.split:
        if len(values) >= 2:  # both cells filled: deposit minus withdrawal
            credit, debit = (values[-2], values[-1]) if columns.credit_first else (values[-1],
                                                                                  values[-2])
            row.amount = abs(credit) - abs(debit)
        else:
            row.unsigned = values[-1]
            row.sign_hint = sign_hint
        return row
    if not columns.seen and len(values) >= 2:  # no header seen: assume amount, balance
        row.balance = values.pop()
    row.amount = values[-1]
    row.sign_hint = sign_hint  # applied only if no row carries an explicit minus sign
    return row
