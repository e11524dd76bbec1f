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
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property

from aura_dagster.domain.documents.words import PageWords, Word
from aura_dagster.domain.processors.bank_statement.balance_chain import Stated, judge
from aura_dagster.domain.processors.bank_statement.common import RawRow, settle_signs
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction
from aura_dagster.domain.processors.bank_statement.pdf_layout_data import (
    _CONTINUED,
    PdfKnowledge,
    knowledge,
    normalize,
)
from aura_dagster.domain.processors.bank_statement.pdf_lines import (
    Item,
    Line,
    page_lines,
    repair_ocr_page,
)
from aura_dagster.domain.processors.bank_statement.pdf_text import find_period
from aura_dagster.domain.processors.bank_statement.values import resolve_year

ZERO = Decimal("0.00")
MONEY_ROLES = ("amount", "debit", "credit", "balance")
_SIGN = {"credit": 1, "debit": -1, "checks": -1}
_TOTAL = re.compile(r"^(?:sub)?totals?\b(?!\s+for\b)", re.IGNORECASE)
_PARTIAL_TOTAL = re.compile(r"^subtotal\s+for\b", re.IGNORECASE)
_PENDING = re.compile(r"^pending$", re.IGNORECASE)
_ACCOUNT = re.compile(r"\baccount\b[^\n]{0,40}?[\dxX*.\-]*?(\d{4})\b", re.IGNORECASE)
_MAX_BREAKS_SHOWN = 8
_YEAR = re.compile(r"(?:19|20)\d\d|\d{1,2}/\d{1,2}/\d{2}\b")


@dataclass(frozen=True)
class Column:
    role: str
    x0: float
    x1: float


@dataclass(frozen=True)
class Header:
    columns: tuple[Column, ...]

    @cached_property
    def roles(self) -> frozenset[str]:
        return frozenset(c.role for c in self.columns)

    def role_at(self, item: Item) -> str:
        """The column an item sits under: between the midpoints to its neighbours' headers.
        Amounts are placed by their centre, text by its left edge."""
        if item.kind == "amount":
            return self.columns[bisect_right(self.boundaries, item.center)].role
        # Text is left-aligned: it belongs to a column until the next heading starts.
        return self.columns[bisect_right(self.text_boundaries, item.x0 + 1)].role

    @cached_property
    def text_boundaries(self) -> list[float]:
        return [right.x0 - 2 for right in self.columns[1:]]

    @cached_property
    def boundaries(self) -> list[float]:
        """Where one column's region ends and the next one's starts: halfway between
        their headers."""
        columns = self.columns
        return [(left.x1 + right.x0) / 2 for left, right in zip(columns, columns[1:],
                                                                 strict=False)]

    @property
    def description_x0(self) -> float | None:
        return next((c.x0 for c in self.columns if c.role == "description"), None)


@dataclass
class _Row:
    line: Line
    date: tuple[int, int, int | None]
    description: str
    section: str | None  # the section key rows are totalled under
    amount: Decimal | None = None  # signed when known
    unsigned: Decimal | None = None
    sign_hint: int | None = None
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
        if period is not None and (current_period is None or period != current_period):
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
            rows_since_opening = rows_since_opening or not _matches(line.text.split(" ", 1)[-1],
                                                                    know.opening_labels)
        elif "balance" in line.text.lower() and _find_label(line, know.opening_labels) \
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
    opening, closing = _stated_balances(chunk, know, notes)
    period = find_period(texts[:120]) or _labelled_period(chunk.lines, know) \
        or _period_under_label(chunk.lines) or _statement_date_period(chunk.lines) \
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
    raw = [RawRow(date, row.description, row.amount, row.unsigned, row.balance, row.sign_hint)
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
        bank_name=_bank_name(texts), account_id=account, page_count=page_count,
        notes=notes + guess_notes, layout=layout, pending_excluded=pending,
        warnings=warnings, chain_verdict=reconciles)


_BANK_NAME = re.compile(r"\b(bank|credit union|financial|savings|trust)\b", re.IGNORECASE)
_PAGE = re.compile(r"\bpage\s+\d+(\s+of\s+\d+)?", re.IGNORECASE)


def _bank_name(texts: list[str]) -> str | None:
    line = next((text for text in texts[:15] if _BANK_NAME.search(text)), None)
    return _PAGE.sub("", line.split(" - ")[0]).strip() if line else None


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
            new_header = _header(line, know)
            if line_before is not None and _stacks_over(line_before, line) \
                    and know.section_kind(line_before.text) is None:
                # Titles printed on two lines ("Ending daily" over "balance")
                stacked = _header(_stacked(line_before, line), know)
                if stacked is not None and len(stacked.roles) == len(stacked.columns) \
                        and (new_header is None
                             or len(stacked.columns) > len(new_header.columns)):
                    new_header = stacked
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
                inferred = _heading_sign(line_before, line, know)
                if inferred is not None:
                    section = inferred
                continue
            if last_row is not None and _continues(line, last_row, header):
                last_row.description = f"{last_row.description} {line.text}"
                last_row.line = line
                continue
            if open_lines and _continues(line, _Row(open_lines[-1], (1, 1, None), "", None),
                                         header):
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


_DEBIT_WORDS = re.compile(r"\b(debits?|withdrawals?|payments?|fees?|checks?|charges?|purchases?"
                          r"|deductions?|subtractions?)\b", re.IGNORECASE)
_CREDIT_WORDS = re.compile(r"\b(deposits?|credits?|additions?|interest)\b", re.IGNORECASE)


def _heading_sign(above: Line | None, header_line: Line,
                  know: PdfKnowledge) -> tuple[str, str] | None:
    """A short title right above a table header that pdf_layouts.toml does not list: its
    sign from its words ("Electronic Debits"), when they say one direction only."""
    if above is None or above.page != header_line.page or above.amounts() \
            or len(above.words) > 6 or header_line.top - above.bottom > 3 * header_line.height:
        return None
    if know.section_kind(above.text) is not None:
        return None  # a known heading already set the section
    debit, credit = _DEBIT_WORDS.search(above.text), _CREDIT_WORDS.search(above.text)
    if bool(debit) == bool(credit):
        return None
    return ("debit" if debit else "credit"), normalize(_CONTINUED.sub("", above.text))


def _stacks_over(upper: Line, lower: Line) -> bool:
    """Two text-only lines close enough to be one header printed over two lines."""
    return (upper.page == lower.page and lower.top - upper.bottom < 1.5 * lower.height
            and not any(i.kind in ("date", "amount") for i in upper.items)
            and len(upper.words) <= 12)


def _stacked(upper: Line, lower: Line) -> Line:
    """One header line from titles stacked over two lines: words that overlap across the
    lines, or sit a space apart on one line, form one title; its words keep the title's
    whole x-range, so the column spans both lines' text."""
    words = sorted([(w, 0) for w in upper.words] + [(w, 1) for w in lower.words],
                   key=lambda pair: pair[0].x0)
    titles: list[list[tuple[Word, int]]] = []
    for word, row in words:
        if titles:
            last = titles[-1]
            right = max(w.x1 for w, _ in last)
            same_row_gap = min((word.x0 - w.x1 for w, r in last if r == row), default=None)
            overlaps = any(w.x0 < word.x1 and word.x0 < w.x1 for w, r in last if r != row)
            if overlaps or (same_row_gap is not None and same_row_gap < 0.6 * lower.height
                            and word.x0 <= right + 0.6 * lower.height):
                last.append((word, row))
                continue
        titles.append([(word, row)])
    merged: list[Word] = []
    for title in titles:
        x0, x1 = min(w.x0 for w, _ in title), max(w.x1 for w, _ in title)
        for word, _ in sorted(title, key=lambda pair: (pair[1], pair[0].x0)):
            merged.append(Word(word.text, x0, x1, upper.top, lower.bottom))
    return Line(lower.page, upper.top, lower.bottom, merged)


def _header(line: Line, know: PdfKnowledge) -> Header | None:
    if any(item.kind in ("date", "amount") for item in line.items):
        return None
    words = line.words
    texts = [normalize(w.text) for w in words]
    columns: list[Column] = []
    unmatched = 0
    index = 0
    while index < len(words):
        for name, role in know.column_names_by_first.get(texts[index], ()):
            if tuple(texts[index:index + len(name)]) == name:
                columns.append(Column(role, words[index].x0, words[index + len(name) - 1].x1))
                index += len(name)
                break
        else:
            unmatched += 1
            index += 1
    roles = {c.role for c in columns}
    if not roles & {"date", "check_number"} or not roles & set(MONEY_ROLES) \
            or unmatched > 2 or len(columns) < 2:
        return None
    return Header(tuple(columns))


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
            or _matches(line.text, know.opening_labels + know.closing_labels):
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


def _continues(line: Line, row: _Row, header: Header | None) -> bool:
    """A text-only line right under a row, starting in its description column."""
    if any(item.kind == "amount" for item in line.items):
        return False
    if line.page != row.line.page or line.top - row.line.bottom > 1.5 * row.line.height:
        return False  # (a line's height is its glyphs': rows sit about two apart)
    if _TOTAL.match(line.text) or _PENDING.match(line.text):
        return False
    start = header.description_x0 if header is not None else None
    if start is None:
        start = row.line.items[1].x0 if len(row.line.items) > 1 else row.line.x0 + 20
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
        if _matches(description, labels):
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
        elif balance is not None:
            if _matches(description, know.opening_labels):
                chunk.opening_row = chunk.opening_row if chunk.opening_row is not None \
                    else balance.amount
                return None
            if _matches(description, know.closing_labels):
                chunk.closing_row = balance.amount
                return None
            return None
    if _matches(description, know.opening_labels) and row.amount is not None \
            and row.balance is None:
        chunk.opening_row = row.amount if chunk.opening_row is None else chunk.opening_row
        return None
    if _matches(description, know.closing_labels) and row.amount is not None \
            and row.balance is None:
        chunk.closing_row = row.amount
        return None
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
        row.sign_hint = None


def _matches(text: str, labels: tuple[str, ...]) -> bool:
    if "balance" not in text.lower() and "forward" not in text.lower():
        return False  # every balance label says one of these
    lowered = normalize(text)
    return any(lowered.startswith(label) for label in labels)


# --- balances and periods stated outside the rows -------------------------------------

def _stated_balances(chunk: _Chunk, know: PdfKnowledge,
                     notes: list[str]) -> tuple[Decimal | None, Decimal | None]:
    opening: Decimal | None = None
    closing: Decimal | None = None
    available: Decimal | None = None
    lines = chunk.lines
    row_lines = {id(row.line) for row in chunk.rows}
    for index, line in enumerate(lines):
        if "balance" not in line.text.lower() or id(line) in row_lines \
                or (line.items and line.items[0].kind == "date"):
            continue
        if not any(item.kind == "amount" for item in line.items) \
                and know.section_kind(line.text) is not None:
            continue
        if opening is None:
            opening = _labelled_amount(lines, index, know.opening_labels)
        if closing is None:
            closing = _labelled_amount(lines, index, know.closing_labels)
        if available is None:
            available = _labelled_amount(lines, index, know.available_labels)
    if available is not None and available != closing:
        notes.append(f"available balance {available} differs from the ending balance "
                     f"{closing}: not used")
    return opening, closing


def _find_label(line: Line, labels: tuple[str, ...]) -> tuple[float, float] | None:
    """The x-range of the first label found among the line's words."""
    texts = [normalize(w.text).rstrip(":,") for w in line.words]
    for label in labels:
        parts = label.split()
        for index in range(len(texts) - len(parts) + 1):
            if texts[index:index + len(parts)] == parts:
                return line.words[index].x0, line.words[index + len(parts) - 1].x1
    return None


def _labelled_amount(lines: list[Line], index: int, labels: tuple[str, ...]) -> Decimal | None:
    """The amount after a label on its line, else the one printed under it."""
    line = lines[index]
    span = _find_label(line, labels)
    if span is None:
        return None
    after = [item for item in line.amounts() if item.x0 >= span[1] - 1]
    if after:
        return after[0].amount
    if line.amounts():
        return None
    title_rest = lines[index + 1] if index + 1 < len(lines) else None
    if title_rest is not None and any(
            normalize(w.text) in ("last", "previous", "prior") and w.x1 >= span[0] - 5
            and w.x0 <= span[1] + 5 for w in title_rest.words):
        return None  # "Ending balance" over "last statement": the previous period's
    for below in lines[index + 1:index + 3]:
        if below.page != line.page or below.top - line.bottom > 3 * line.height:
            break
        for item in below.amounts():
            if item.x1 >= span[0] - 15 and item.x0 <= span[1] + 15:
                return item.amount
    return None


def _labelled_period(lines: list[Line], know: PdfKnowledge) -> tuple[dt.date, dt.date] | None:
    """`Statement start   Statement end` over `May 1, 2026   May 31, 2026`."""
    for index, line in enumerate(lines[:80]):
        start_span = _find_label(line, know.period_start_labels)
        end_span = _find_label(line, know.period_end_labels)
        if start_span is None or end_span is None:
            continue
        for candidate in (line, *lines[index + 1:index + 3]):
            start = _date_near(candidate, start_span, same_line=candidate is line)
            end = _date_near(candidate, end_span, same_line=candidate is line)
            if start and end and start <= end:
                return start, end
    return None


def _date_near(line: Line, span: tuple[float, float], *, same_line: bool) -> dt.date | None:
    for item in line.items:
        if item.kind != "date" or item.date is None or item.date[2] is None:
            continue
        inside = item.x0 >= span[1] - 1 if same_line else (
            item.x1 >= span[0] - 15 and item.x0 <= span[1] + 40)
        if inside:
            month, day, year = item.date
            return dt.date(year, month, day)
    return None


def _period_under_label(lines: list[Line]) -> tuple[dt.date, dt.date] | None:
    """`Statement Period` over two full dates on the lines below it, with nothing joining
    them (a dash lost to OCR, or none printed)."""
    for index, line in enumerate(lines[:80]):
        if "period" not in line.text.lower():
            continue
        dates: list[dt.date] = []
        for candidate in lines[index:index + 4]:
            if candidate.page != line.page or candidate.top - line.bottom > 40:
                break
            dates.extend(dt.date(d[2], d[0], d[1]) for d in
                         (item.date for item in candidate.items if item.kind == "date")
                         if d is not None and d[2] is not None)
        if len(dates) >= 2 and 0 < (dates[1] - dates[0]).days <= 400:
            return dates[0], dates[1]
    return None


_BEGINNING_ON = re.compile(r"\bbeginning balance on\s+(\d{1,2})/(\d{1,2})\b", re.IGNORECASE)
_ENDING_ON = re.compile(r"\bending balance on\s+(\d{1,2})/(\d{1,2})\b", re.IGNORECASE)


def _statement_date_period(lines: list[Line]) -> tuple[dt.date, dt.date] | None:
    """A statement date plus `Beginning balance on 4/1` (`Ending balance on 4/30`)."""
    statement_date: dt.date | None = None
    for line in lines[:25]:
        for item in line.items:
            if item.kind == "date" and item.date is not None and item.date[2] is not None:
                month, day, year = item.date
                statement_date = dt.date(year, month, day)
                break
        if statement_date is not None:
            break
    if statement_date is None:
        return None
    text = " ".join(line.text for line in lines[:120])
    begin, end = _BEGINNING_ON.search(text), _ENDING_ON.search(text)
    if begin is None:
        return None
    start = dt.date(statement_date.year, int(begin[1]), int(begin[2]))
    if start > statement_date:
        start = start.replace(year=statement_date.year - 1)
    stop = statement_date
    if end is not None:
        stop = dt.date(start.year, int(end[1]), int(end[2]))
        if stop < start:
            stop = stop.replace(year=start.year + 1)
    return start, stop
