"""Amounts and dates as banks print them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from aura_dagster.domain.processors.bank_statement.csv_values import parse_money

# 1,234.56 | $1,234.56 | -$1,234.56 | ($1,234.56) | 1,234.56- | 1,234.56 CR | +12.00
AMOUNT_PATTERN = (r"(?:\(\s*-?\$?\s?\d{1,3}(?:,\d{3})*\.\d{2}\s*\)"
                  r"|[-+]?\s?\$?\s?\d{1,3}(?:,\d{3})*\.\d{2}(?:-|\s?CR|\s?DR)?"
                  r"|[-+]?\s?\$?\s?\d+\.\d{2}(?:-|\s?CR|\s?DR)?)")
AMOUNT_RE = re.compile(rf"^{AMOUNT_PATTERN}$", re.IGNORECASE)

MONTHS = {name: index for index, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
MONTH_NAME_PATTERN = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
               r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# A date token, with or without a year.
DATE_PATTERN = (r"(?:\d{4}-\d{2}-\d{2}"
                r"|\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?"
                rf"|{MONTH_NAME_PATTERN}\.?\s+\d{{1,2}}\b(?:,?\s+(?:19|20)\d{{2}}\b)?"
                rf"|\d{{1,2}}\s+{MONTH_NAME_PATTERN}\b(?:\s+(?:19|20)\d{{2}}\b)?)")
DATE_RE = re.compile(DATE_PATTERN, re.IGNORECASE)


def parse_amount(text: str) -> Decimal:
    """A signed amount in cents. Raises ValueError when `text` is not an amount (or has more
    than cents: money is never rounded silently). One reading for PDF and CSV amounts."""
    return parse_money(text)


def parse_date(text: str, *, default_year: int | None = None) -> tuple[dt.date, bool]:
    """(date, had_year). Month/day order is US (MM/DD). Raises ValueError."""
    raw = text.strip().rstrip(".,").replace(".", "")
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", raw)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3])), True
    m = re.fullmatch(r"(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2,4}))?", raw)
    if m:
        return _build(m[3], int(m[1]), int(m[2]), default_year)
    m = re.fullmatch(r"([A-Za-z]+)\s+(\d{1,2})(?:,?\s+(\d{4}))?", raw)
    if m and m[1][:3].lower() in MONTHS:
        return _build(m[3], MONTHS[m[1][:3].lower()], int(m[2]), default_year)
    m = re.fullmatch(r"(\d{1,2})\s+([A-Za-z]+)(?:\s+(\d{4}))?", raw)
    if m and m[2][:3].lower() in MONTHS:
        return _build(m[3], MONTHS[m[2][:3].lower()], int(m[1]), default_year)
    raise ValueError(f"not a date: {text!r}")


def _build(year_text: str | None, month: int, day: int,
           default_year: int | None) -> tuple[dt.date, bool]:
    if year_text:
        year = int(year_text)
        if year < 100:
            year += 2000
        return dt.date(year, month, day), True
    return dt.date(default_year or 2000, month, day), False


def resolve_year(month: int, day: int, period_start: dt.date, period_end: dt.date) -> dt.date:
    """Place a year-less date inside the statement period (handles Dec-Jan periods)."""
    for year in range(period_start.year, period_end.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if period_start - dt.timedelta(days=7) <= candidate <= period_end + dt.timedelta(days=7):
            return candidate
    return dt.date(period_end.year, month, day)
