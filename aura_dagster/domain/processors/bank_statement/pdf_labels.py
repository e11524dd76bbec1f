"""What a statement states outside its rows: balances beside or under their labels, and
the period (labels over their dates, a period under its label, a statement date with
"Beginning balance on 4/1"). Phrases joining two dates are `pdf_text.find_period`'s.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from aura_dagster.domain.processors.bank_statement.pdf_layout_data import PdfKnowledge, normalize
from aura_dagster.domain.processors.bank_statement.pdf_lines import Line


def matches_label(text: str, labels: tuple[str, ...]) -> bool:
    if "balance" not in text.lower() and "forward" not in text.lower():
        return False  # every balance label says one of these
    lowered = normalize(text)
    return any(lowered.startswith(label) for label in labels)


def stated_balances(lines: list[Line], row_lines: set[int], know: PdfKnowledge,
                    notes: list[str]) -> tuple[Decimal | None, Decimal | None]:
    """The opening and closing balances stated beside or under their labels (not in the
    rows: `row_lines` are their lines' ids); an available balance apart from the closing
    one is a note."""
    opening: Decimal | None = None
    closing: Decimal | None = None
    available: Decimal | None = None
    for index, line in enumerate(lines):
        if "balance" not in line.text.lower() or id(line) in row_lines \
                or (line.items and line.items[0].kind == "date"):
            continue
        if not any(item.kind == "amount" for item in line.items) \
                and know.section_kind(line.text) is not None:
            continue
        if opening is None:
            opening = labelled_amount(lines, index, know.opening_labels)
        if closing is None:
            closing = labelled_amount(lines, index, know.closing_labels)
        if available is None:
            available = labelled_amount(lines, index, know.available_labels)
    if available is not None and available != closing:
        notes.append(f"available balance {available} differs from the ending balance "
                     f"{closing}: not used")
    return opening, closing


def find_label(line: Line, labels: tuple[str, ...]) -> tuple[float, float] | None:
    """The x-range of the first label found among the line's words."""
    texts = [normalize(w.text).rstrip(":,") for w in line.words]
    for label in labels:
        parts = label.split()
        for index in range(len(texts) - len(parts) + 1):
            if texts[index:index + len(parts)] == parts:
                return line.words[index].x0, line.words[index + len(parts) - 1].x1
    return None


def labelled_amount(lines: list[Line], index: int, labels: tuple[str, ...]) -> Decimal | None:
    """The amount after a label on its line, else the one printed under it."""
    line = lines[index]
    span = find_label(line, labels)
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


def labelled_period(lines: list[Line], know: PdfKnowledge) -> tuple[dt.date, dt.date] | None:
    """`Statement start   Statement end` over `May 1, 2026   May 31, 2026`."""
    for index, line in enumerate(lines[:80]):
        start_span = find_label(line, know.period_start_labels)
        end_span = find_label(line, know.period_end_labels)
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


def period_under_label(lines: list[Line]) -> tuple[dt.date, dt.date] | None:
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


def statement_date_period(lines: list[Line]) -> tuple[dt.date, dt.date] | None:
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
