"""Statements from a PDF's words by their positions: headers, columns, sections, rows.

How a page is read (layout knowledge in pdf_layouts.toml, none of it per bank):
- A **header line** (`Date  Description  Withdrawals  Deposits  Balance`) gives the
  columns: each money item of a row goes to the column it sits under.
- A **section heading** (`DEPOSITS AND ADDITIONS`, `Checks paid`, `Fees`) gives the sign
  of a one-amount-column table, says a table is checks (rows may start with the check
  number, several checks a line), pending rows, or not transactions at all (daily
  balances, summaries, check images). `(continued)` repeats a section.
- A **row** is a line that starts with a date (or, in a checks table, a check number)
  and holds an amount; a following text-only line in the description column continues
  its description.
- **Stated values**: beginning / ending balances beside or under their labels, section
  totals (`Total Deposits and Additions $40,879.22`, `Subtotal: 812.10`), column totals
  (`Totals  $x  $y`).
- Several statements in one file are split where a page states another period.

The balance chain judges what was read: opening + signed rows must give every printed
balance, the closing balance and every stated total. A reading that does not hold is
returned with `reconciles: false` and the rows that break, so the case parks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from aura_dagster.domain.documents.words import PageWords
from aura_dagster.domain.processors.bank_statement.balance_chain import Stated, judge
from aura_dagster.domain.processors.bank_statement.common import RawRow, settle_signs
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction
from aura_dagster.domain.processors.bank_statement.pdf_header import (
    MONEY_ROLES,
    Header,
    heading_sign,
    read_header,
    stacked,
    stacks_over,
)
from aura_dagster.domain.processors.bank_statement.pdf_labels import (
    find_label,
    labelled_period,
    matches_label,
    period_under_label,
    stated_balances,
    statement_date_period,
)
from aura_dagster.domain.processors.bank_statement.pdf_layout_data import (
    PdfKnowledge,
    knowledge,
)
from aura_dagster.domain.processors.bank_statement.pdf_lines import (
    Item,
    Line,
    page_lines,
    repair_ocr_page,
)
from aura_dagster.domain.processors.bank_statement.pdf_text import bank_name, find_period
from aura_dagster.domain.processors.bank_statement.values import resolve_year

ZERO = Decimal("0.00")
_SIGN = {"credit": 1, "debit": -1, "checks": -1}
_TOTAL = re.compile(r"^(?:sub)?totals?\b(?!\s+for\b)", re.IGNORECASE)
_PARTIAL_TOTAL = re.compile(r"^subtotal\s+for\b", re.IGNORECASE)
_PENDING = re.compile(r"^pending$", re.IGNORECASE)
_ACCOUNT = re.compile(r"\baccount\b[^\n]{0,40}?[\dxX*.\-]*?(\d{4})\b", re.IGNORECASE)
_MAX_BREAKS_SHOWN = 8
_YEAR = re.compile(r"(?:19|20)\d\d|\d{1,2}/\d{1,2}/\d{2}\b")


@dataclass
class _Row:
    line: Line
    date: tuple[int, int, int | None]
    description: str
    section: str | None  # the section key rows are totalled under
    amount: Decimal | None = None  # signed when known
    unsigned: Decimal | None = None
    balance: Decimal | None = None
    pending: bool = False
    printed_negative: bool = False  # its amount column prints debits with a sign


@dataclass
class _Chunk:
    """What one statement's lines say."""

    lines: list[Line]
    rows: list[_Row] = field(default_factory=list)
    section_totals: dict[str, Decimal] = field(default_factory=dict)
    column_totals: dict[str, Decimal] = field(default_factory=dict)
    opening_row: Decimal | None = None
    closing_row: Decimal | None = None
    table_kinds: set[str] = field(default_factory=set)


def read_pdf_statements(pages: list[PageWords], *, source: str) -> list[Statement]:
    """Every statement printed in these pages. Raises StatementParseError."""
    know = knowledge()
    pages = [repair_ocr_page(page) if page.source == "ocr" else page for page in pages]
    lines = [line for page in pages for line in page_lines(page)]
    if not lines:
        raise StatementParseError("STATEMENT_NO_TRANSACTIONS", f"{source}: no text on any page")
    # The bank is named in the first page's letterhead (its rows may name other banks).
    letterhead = " ".join(line.text for line in lines[:15] if line.page == pages[0].number)
    bank_layout = know.bank_layout(letterhead)
    ocr = any(page.source == "ocr" for page in pages)
    chunks = [account for chunk in _split_statements(lines)
              for account in _split_accounts(chunk, know)]
    statements: list[Statement] = []
    for number, chunk_lines in enumerate(chunks, 1):
        chunk_source = source if len(chunks) == 1 else f"{source}#{number}"
        pages_in_chunk = len({line.page for line in chunk_lines})
        # An account block of a combined statement may state no period of its own.
        period = (statements[-1].period_start, statements[-1].period_end) \
            if statements else None
        statement = _read_chunk(_Chunk(chunk_lines), know, source=chunk_source,
                                page_count=pages_in_chunk, bank_layout=bank_layout,
                                fallback_period=period)
        if ocr:
            statement = replace(statement, notes=[*statement.notes, "read from a scan by OCR"])
        overlapping = [s for s in statements if s.account_id == statement.account_id
                       and s.period_start <= statement.period_end
                       and statement.period_start <= s.period_end]
        if overlapping:
            # Another account of a combined statement (its number not printed, or masked
            # alike): never the same account, or the ledger would merge their balances.
            statement = replace(statement,
                                account_id=f"{statement.account_id or 'account'}#{number}")
        statements.append(statement)
    return statements


# --- statements in one file ------------------------------------------------------------

def _split_statements(lines: list[Line]) -> list[list[Line]]:
    """A page that states a period other than the current statement's starts a new one."""
    by_page: dict[int, list[Line]] = defaultdict(list)
    for line in lines:
        by_page[line.page].append(line)
    chunks: list[list[Line]] = []
    current_period = None
    for page in sorted(by_page):
        page_lines_ = by_page[page]
        letterhead = [line.text for line in page_lines_[:20]]
        # Only a letterhead with a year can state a period (a cheap test before the phrases)
        period = find_period(letterhead) if _YEAR.search(" ".join(letterhead)) else None
        # Only a period that does not overlap starts a new statement: a date misread by
        # OCR on one page's header must not split a statement.
        if chunks and period is not None and current_period is not None \
                and (period[0] > current_period[1] or period[1] < current_period[0]):
            chunks.append([])
        if not chunks:
            chunks.append([])
        if period is not None:
            current_period = period
        chunks[-1].extend(page_lines_)
    return chunks


# --- one statement ---------------------------------------------------------------------

def _split_accounts(lines: list[Line], know: PdfKnowledge) -> list[list[Line]]:
    """A combined statement (checking and savings, two savings accounts) prints one block
    per account, each with its own beginning balance: a stated beginning balance after
    rows were read starts the next account's statement."""
    chunks: list[list[Line]] = [[]]
    rows_since_opening = False
    for line in lines:
        items = line.items
        if items and items[0].kind == "date" and any(i.kind == "amount" for i in items[1:]):
            balance_row = matches_label(line.text.split(" ", 1)[-1], know.opening_labels)
            rows_since_opening = rows_since_opening or not balance_row
        elif "balance" in line.text.lower() and find_label(line, know.opening_labels) \
                and any(i.kind == "amount" for i in items):
            if rows_since_opening:
                chunks.append([])
            rows_since_opening = False
        chunks[-1].append(line)
    return [chunk for chunk in chunks if chunk]


def _read_chunk(chunk: _Chunk, know: PdfKnowledge, *, source: str, page_count: int,
                bank_layout: str | None,
                fallback_period: tuple[dt.date, dt.date] | None = None) -> Statement:
    _read_rows(chunk, know)
    texts = [line.text for line in chunk.lines]
    notes: list[str] = []
    warnings: list[str] = []
    opening, closing = stated_balances(chunk.lines, {id(row.line) for row in chunk.rows},
                                       know, notes)
    period = find_period(texts[:120]) or labelled_period(chunk.lines, know) \
        or period_under_label(chunk.lines) or statement_date_period(chunk.lines) \
        or fallback_period
    rows = [row for row in chunk.rows if not row.pending]
    pending = len(chunk.rows) - len(rows)
    if pending:
        notes.append(f"{pending} pending row(s) left out: not posted yet")
    if not rows and (opening is None or closing is None):
        raise StatementParseError("STATEMENT_NO_TRANSACTIONS",
                                  f"{source}: no transaction table found")
    if any(row.printed_negative for row in rows):
        # The amount column prints debits with their sign: an unsigned amount is a credit.
        for row in rows:
            if row.amount is None and row.unsigned is not None:
                row.amount, row.unsigned = abs(row.unsigned), None
    dates = _dates(rows, period, source, notes)
    raw = [RawRow(date, row.description, row.amount, row.unsigned, row.balance)
           for date, row in zip(dates, rows, strict=True)]
    order = list(range(len(raw)))
    if len(raw) >= 2 and raw[0].date > raw[-1].date:  # newest first: reverse the whole table
        order.reverse()
        notes.append("rows printed newest first")
    order.sort(key=lambda i: raw[i].date)  # stable: same-day order kept, sections interleave
    raw = [raw[i] for i in order]
    sections = [rows[i].section for i in order]
    if opening is None:
        opening = chunk.opening_row
    if closing is None:
        closing = chunk.closing_row
    guess_notes = settle_signs(raw, opening, use_section_signs=False)
    guessed = sum("sign guessed" in note for note in guess_notes)
    if guessed:
        warnings.append(f"{guessed} row(s) print an unsigned amount that nothing signs: sign "
                        "guessed from the description")
    amounts = [r.amount if r.amount is not None else ZERO for r in raw]
    labels = [f"{r.date} {r.description[:40]} {r.amount}" for r in raw]
    verdict = judge(amounts, [r.balance for r in raw], labels,
                    Stated(opening, closing, chunk.column_totals.get("credit"),
                           chunk.column_totals.get("debit")))
    breaks = list(verdict.breaks) + _section_breaks(chunk.section_totals, raw, sections)
    if period is None:
        if not raw:
            raise StatementParseError("STATEMENT_NO_DATES", f"{source}: no statement period")
        period = (raw[0].date, raw[-1].date)
    reconciles = verdict.reconciles
    if breaks:
        reconciles = False
        shown = breaks[:_MAX_BREAKS_SHOWN]
        more = len(breaks) - len(shown)
        warnings.extend(f"does not reconcile: {b}" for b in shown)
        if more:
            warnings.append(f"does not reconcile: {more} more break(s)")
    transactions = [Transaction(r.date, r.description, amount, r.balance)
                    for r, amount in zip(raw, amounts, strict=True)]
    account = next((m[1] for m in map(_ACCOUNT.search, texts[:60]) if m), None)
    layout = bank_layout or _inferred_layout(chunk)
    return Statement(
        source=source, format="pdf", period_start=period[0], period_end=period[1],
        transactions=transactions, opening_balance=verdict.opening,
        closing_balance=verdict.closing, opening_balance_source=verdict.opening_source,
        bank_name=bank_name(texts), account_id=account, page_count=page_count,
        notes=notes + guess_notes, layout=layout, pending_excluded=pending,
        warnings=warnings, chain_verdict=reconciles)


def _inferred_layout(chunk: _Chunk) -> str:
    if "split" in chunk.table_kinds:
        return "pdf_split_columns"
    if "sectioned" in chunk.table_kinds:
        return "pdf_sectioned"
    return "pdf_signed_amount"


def _section_breaks(totals: dict[str, Decimal], raw: list[RawRow],
                    sections: list[str | None]) -> list[str]:
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row, section in zip(raw, sections, strict=True):
        if section is not None and row.amount is not None:
            sums[section] += abs(row.amount)
    return [f"section '{name}' states a total of {stated} but its rows sum to {sums[name]}"
            for name, stated in totals.items() if abs(stated) != sums[name]]


def _dates(rows: list[_Row], period: tuple[dt.date, dt.date] | None, source: str,
           notes: list[str]) -> list[dt.date]:
    dates: list[dt.date] = []
    yearless = 0
    for row in rows:
        month, day, year = row.date
        if year is not None:
            dates.append(dt.date(year, month, day))
            continue
        if period is None:
            raise StatementParseError("STATEMENT_NO_DATES",
                                      f"{source}: dates have no year and no statement period")
        yearless += 1
        dates.append(resolve_year(month, day, *period))
    if yearless and period is not None:
        notes.append(f"row dates print no year: years taken from the statement period "
                     f"{period[0]} to {period[1]}")
    return dates


# --- rows ------------------------------------------------------------------------------

def _read_rows(chunk: _Chunk, know: PdfKnowledge) -> None:
    header: Header | None = None
    section: tuple[str, str] | None = None  # (kind, heading)
    skipping = False
    last_row: _Row | None = None
    previous: Line | None = None
    # A row whose date line holds no amount: its amounts come on a later wrapped line.
    open_lines: list[Line] = []
    for line in chunk.lines:
        line_before, previous = previous, line
        items = line.items
        has_amount = any(item.kind == "amount" for item in items)
        if not has_amount and (len(line.words) <= 9 or "(" in line.text):
            found = know.section_kind(line.text)
            if found is not None:
                open_lines = []
                section, skipping, last_row = found, found[0] == "skip", None
                if not skipping:
                    header = None if section[0] == "checks" else header
                continue
        if not has_amount:
            new_header = read_header(line, know)
            if line_before is not None and stacks_over(line_before, line) \
                    and know.section_kind(line_before.text) is None:
                # Titles printed on two lines ("Ending daily" over "balance")
                two_lines = read_header(stacked(line_before, line), know)
                if two_lines is not None and len(two_lines.roles) == len(two_lines.columns) \
                        and (new_header is None
                             or len(two_lines.columns) > len(new_header.columns)):
                    new_header = two_lines
            if new_header is not None:
                roles = new_header.roles
                # A transaction table: a description, or deposit / withdrawal columns
                # (its other title words may stand on a line of their own). Daily-balance
                # tables have neither.
                transactions = "description" in roles or bool(roles & {"debit", "credit"})
                if skipping and not transactions:
                    continue
                if not transactions and "check_number" not in roles:
                    skipping = True  # date / balance pairs
                    continue
                header, skipping, last_row, open_lines = new_header, False, None, []
                if section is not None and section[0] == "skip":
                    section = None
                inferred = heading_sign(line_before, line, know)
                if inferred is not None:
                    section = inferred
                continue
            if last_row is not None and _continues(line, last_row.line, header):
                last_row.description = f"{last_row.description} {line.text}"
                last_row.line = line
                continue
            if open_lines and _continues(line, open_lines[-1], header):
                open_lines.append(line)
                continue
            open_lines = [line] if not skipping and _opens_row(line, header) else []
            continue
        last_row = None
        if skipping:
            continue
        first = items[0]
        below = open_lines[-1] if open_lines else None
        if below is not None and not _TOTAL.match(line.text) and not _opens_row(line, header) \
                and line.page == below.page and line.top - below.bottom <= 1.5 * below.height:
            words = [w for part in (*open_lines, line) for w in part.words]
            line = Line(line.page, line.top, line.bottom, words)  # one line high
            items, first = line.items, line.items[0]
        open_lines = []
        if _TOTAL.match(line.text) and not _PARTIAL_TOTAL.match(line.text):
            _record_total(chunk, line, header, section)
            continue
        kind = section[0] if section else None
        # Checks tables: a row led by its check number, or several checks a line. A
        # one-check row led by its date reads like any other row (its sign from the section).
        several = sum(item.kind == "amount" for item in items) > 1
        if (kind == "checks" and (first.kind == "number" or several)) \
                or (first.kind == "number" and header is not None
                    and header.role_at(first) == "check_number"):
            chunk.rows.extend(_check_rows(line, section))
            chunk.table_kinds.add("sectioned")
            continue
        dated = first.kind == "date" or (
            header is not None and "date" in header.roles
            and any(item.kind == "date" and header.role_at(item) == "date"
                    for item in items[:2]))  # a reference may stand before the date
        if not dated:
            if _same_day_row(line, header, chunk, know):
                # A printout that dates only a day's first row: this row is of that day.
                previous_row = chunk.rows[-1]
                month, day, year = previous_row.date
                anchor = Item("date", "", line.x0 - 1, line.x0 - 1, date=(month, day, year))
                line = Line(line.page, line.top, line.bottom, line.words,
                            _items=[anchor, *items])
            else:
                continue
        row = _row(line, header, section, know, chunk)
        if row is not None:
            chunk.rows.append(row)
            last_row = row


def _same_day_row(line: Line, header: Header | None, chunk: _Chunk,
                  know: PdfKnowledge) -> bool:
    """A line of a table with a running balance whose text starts in the description column
    and whose amounts sit under money columns, a few lines under the last row: a row that
    the statement does not date because the row above it has the same day."""
    if header is None or "balance" not in header.roles or not chunk.rows:
        return False
    start = header.description_x0
    first = line.items[0]
    previous = chunk.rows[-1].line
    if start is None or first.kind != "text" or abs(first.x0 - start) > 6:
        return False
    if previous.page == line.page and line.top - previous.bottom > 15 * line.height:
        return False
    if line.page not in (previous.page, previous.page + 1):  # a day may go on overleaf
        return False
    if _TOTAL.match(line.text) or _PARTIAL_TOTAL.match(line.text) \
            or matches_label(line.text, know.opening_labels + know.closing_labels):
        return False
    money = {header.role_at(item): item.amount for item in line.items if item.kind == "amount"}
    balance, amount = money.pop("balance", None), next(iter(money.values()), None)
    before = chunk.rows[-1]
    if balance is None or amount is None or before.balance is None or len(money) != 1:
        return False
    # Its balance must follow from the row above's (oldest or newest first): the chain,
    # not the layout, says it is a row.
    moved = {abs(balance - before.balance)}
    return abs(amount) in moved or abs(before.amount or before.unsigned or ZERO) in moved


def _opens_row(line: Line, header: Header | None) -> bool:
    """A line that starts with a date under the Date heading (its amounts may follow)."""
    first = line.items[0] if line.items else None
    return (header is not None and first is not None and first.kind == "date"
            and header.role_at(first) == "date")


def _continues(line: Line, above: Line, header: Header | None) -> bool:
    """A text-only line right under a row's line, starting in its description column."""
    if any(item.kind == "amount" for item in line.items):
        return False
    if line.page != above.page or line.top - above.bottom > 1.5 * above.height:
        return False  # (a line's height is its glyphs': rows sit about two apart)
    if _TOTAL.match(line.text) or _PENDING.match(line.text):
        return False
    start = header.description_x0 if header is not None else None
    if start is None:
        start = above.items[1].x0 if len(above.items) > 1 else above.x0 + 20
    if line.items[0].kind == "date" and line.items[0].x0 < start - 12:
        return False  # a date in the date column starts a row
    return abs(line.x0 - start) < 12 or (line.x0 > start and line.x0 < start + 40)


def _record_total(chunk: _Chunk, line: Line, header: Header | None,
                  section: tuple[str, str] | None) -> None:
    amounts = line.amounts()
    if section is not None and section[0] in _SIGN:
        chunk.section_totals[section[1]] = abs(amounts[-1].amount or ZERO)
        return
    if header is not None and header.roles & {"debit", "credit"}:
        for item in amounts:
            role = header.role_at(item)
            if role in ("debit", "credit"):
                chunk.column_totals[role] = abs(item.amount or ZERO)


def _check_rows(line: Line, section: tuple[str, str] | None) -> list[_Row]:
    """Checks printed one to three a line: each entry is a check number, a date and an
    amount in any order; the amount closes the entry."""
    rows: list[_Row] = []
    number: str | None = None
    date: tuple[int, int, int | None] | None = None
    words: list[str] = []
    for item in line.items:
        if item.kind == "number" and number is None:
            number = item.text.rstrip("^* ").strip()
        elif item.kind == "date" and date is None:
            date = item.date
        elif item.kind == "amount":
            if date is not None:
                text = " ".join(words) or "CHECK"
                description = f"{text} {number}" if number and number not in text else text
                rows.append(_Row(line, date, description.strip(),
                                 section[1] if section else "checks",
                                 amount=-abs(item.amount or ZERO)))
            number, date, words = None, None, []
        elif item.kind == "text" and item.text not in ("^", "*"):
            words.append(item.text)
    return rows


def _row(line: Line, header: Header | None, section: tuple[str, str] | None,
         know: PdfKnowledge, chunk: _Chunk) -> _Row | None:
    items = line.items
    anchor_index = 0 if items[0].kind == "date" else 1
    if header is not None and "date" in header.roles:
        # Posting date and effective date in either order: the row's date is the one
        # under the Date heading.
        anchor_index = next((i for i, item in enumerate(items) if item.kind == "date"
                             and header.role_at(item) == "date"), anchor_index)
    anchor = items[anchor_index]
    assert anchor.date is not None
    money: list[tuple[str, Item]] = []
    text: list[str] = []
    pending = False
    for index, item in enumerate(items):
        if index == anchor_index:
            continue
        role = header.role_at(item) if header is not None else None
        if item.kind == "amount":
            money.append((role or "", item))
            continue
        if len(item.text) == 7 and item.text.lower() == "pending":
            pending = True
            continue
        if item.kind == "date" and (role in ("second_date", "date")
                                    or index in (anchor_index - 1, anchor_index + 1)):
            continue  # an effective date beside the posting date
        if role in ("reference", "check_number", "other", "second_date", "balance",
                    "date") and item.kind != "text":
            continue
        if role in ("reference", "other", "second_date"):
            continue
        text.append(item.text)
    if not money:
        return None
    description = " ".join(text).strip()
    for labels, slot in ((know.opening_labels, "opening_row"), (know.closing_labels,
                                                                "closing_row")):
        if matches_label(description, labels):
            # "06/01/2023 Beginning Balance $159.63 ..." is a balance, not a transaction
            balance = next((i for r, i in money if r == "balance"), money[0][1])
            if slot == "closing_row" or chunk.opening_row is None:
                setattr(chunk, slot, balance.amount)
            return None
    number = next((item.text for item in items if item.kind == "number" and header is not None
                   and header.role_at(item) == "check_number"), None)
    if number and number not in description:  # "Check" + its number printed in a column
        description = f"{description} {number}".strip()
    if section is not None and section[0] == "checks" and "check" not in description.lower():
        description = f"CHECK {description}".strip()
    kind = section[0] if section else None
    if kind == "pending":
        pending = True
    row = _Row(line, anchor.date, description, section[1] if section and kind in _SIGN
               else None, pending=pending)
    if header is None:  # no column header: the last of two amounts is the balance
        values = [item for _, item in money]
        if len(values) >= 2:
            row.balance = values.pop().amount
        _sign(row, values[-1], kind)
    else:
        debit = next((i for r, i in money if r == "debit"), None)
        credit = next((i for r, i in money if r == "credit"), None)
        amount = next((i for r, i in money if r == "amount"), None)
        balance = next((i for r, i in money if r == "balance"), None)
        stray = [i for r, i in money if r not in MONEY_ROLES]
        if amount is None and debit is None and credit is None and stray:
            amount = stray[0]
        row.balance = balance.amount if balance is not None else None
        if debit is not None or credit is not None:
            chunk.table_kinds.add("split")
            row.amount = abs(credit.amount if credit and credit.amount else ZERO) \
                - abs(debit.amount if debit and debit.amount else ZERO)
        elif amount is not None:
            _sign(row, amount, kind)
        else:
            return None  # a balance alone, under no balance label: not a transaction
    if kind in _SIGN:
        chunk.table_kinds.add("sectioned")
    return row


def _sign(row: _Row, item: Item, section_kind: str | None) -> None:
    value = item.amount or ZERO
    if item.explicit_sign:
        row.amount = value
        row.printed_negative = value < 0
    elif section_kind in _SIGN:
        row.amount = abs(value) * _SIGN[section_kind]
    else:
        row.unsigned = value  # signed later by the running balance, or guessed
