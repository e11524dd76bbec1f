"""A statement table's header line: the columns it names and where each one sits.

Column titles come from pdf_layouts.toml. A title may be printed over two lines
(`Ending daily` over `balance`); an unknown title right above a header may still say
the table's direction (`Electronic Debits`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

from aura_dagster.domain.documents.words import Word
from aura_dagster.domain.processors.bank_statement.pdf_layout_data import (
    _CONTINUED,
    PdfKnowledge,
    normalize,
)
from aura_dagster.domain.processors.bank_statement.pdf_lines import Item, Line

MONEY_ROLES = ("amount", "debit", "credit", "balance")


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


_DEBIT_WORDS = re.compile(r"\b(debits?|withdrawals?|payments?|fees?|checks?|charges?|purchases?"
                          r"|deductions?|subtractions?)\b", re.IGNORECASE)
_CREDIT_WORDS = re.compile(r"\b(deposits?|credits?|additions?|interest)\b", re.IGNORECASE)


def heading_sign(above: Line | None, header_line: Line,
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


def stacks_over(upper: Line, lower: Line) -> bool:
    """Two text-only lines close enough to be one header printed over two lines."""
    return (upper.page == lower.page and lower.top - upper.bottom < 1.5 * lower.height
            and not any(i.kind in ("date", "amount") for i in upper.items)
            and len(upper.words) <= 12)


def stacked(upper: Line, lower: Line) -> Line:
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


def read_header(line: Line, know: PdfKnowledge) -> Header | None:
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
