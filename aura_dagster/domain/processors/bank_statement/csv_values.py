"""Money and dates as CSV exports print them, with the day/month order decided per file.

Money: `$ £ €` and currency codes, thousands separators (`,` `.` `'`), parentheses, leading or
trailing minus, `CR` / `DR` suffixes, and decimal commas (`1.234,56`) in files
whose delimiter is `;`. Dates: ISO, `yyyymmdd`, `a/b/y` in either order (the whole
column decides), month names (`12-Dec-2019`, `10 Feb 18`, `Jan 5, 2024`), 2-digit
years, a trailing time (`2018-02-25 12:34:56 +0000`), and OFX datetimes
(`20091224120000.000[-5:EST]`: the first eight digits, the time zone ignored as OFX
readers do, so an evening posting stays on its day).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from aura_dagster.domain.money import to_cents

_APOSTROPHE_THOUSANDS = re.compile(r"(?<=\d)['\u2019](?=\d{3}(?:\D|$))")
_CURRENCY = re.compile(r"[$£€¥]|\b(?:USD|GBP|EUR|CAD|AUD|SGD|CHF|NZD)\b", re.IGNORECASE)


@lru_cache(maxsize=8192)  # statements repeat amounts; Decimal is immutable
def parse_money(text: str, *, decimal_comma: bool = False) -> Decimal:
    """A signed amount in cents. Raises ValueError when `text` is not money."""
    raw = _CURRENCY.sub("", text.strip()).replace(" ", "").replace("\u00a0", "")
    raw = _APOSTROPHE_THOUSANDS.sub("", raw)  # Swiss 11'373.94
    if not raw:
        raise ValueError("empty amount")
    negative = False
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1]
    upper = raw.upper()
    if upper.endswith("CR"):
        raw = raw[:-2]
    elif upper.endswith("DR"):
        negative, raw = True, raw[:-2]
    if raw.endswith("-"):
        negative, raw = not negative, raw[:-1]
    if raw.startswith("-"):
        negative, raw = not negative, raw[1:]
    raw = raw.removeprefix("+")
    if decimal_comma:
        if not re.fullmatch(r"\d{1,3}(?:\.\d{3})*(?:,\d+)?|\d+(?:,\d+)?", raw):
            raise ValueError(f"not an amount: {text!r}")
        raw = raw.replace(".", "").replace(",", ".")
    else:
        if not re.fullmatch(r"\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+", raw):
            raise ValueError(f"not an amount: {text!r}")
        raw = raw.replace(",", "")
    try:
        value = to_cents(raw)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if value != Decimal(raw):
        raise ValueError(f"more than cents: {text!r}")  # never round money silently
    return -value if negative else value


def is_money(text: str, *, decimal_comma: bool = False) -> bool:
    try:
        parse_money(text, decimal_comma=decimal_comma)
    except ValueError:
        return False
    return True


_MONTHS = {name: index for index, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_TIME_TAIL = re.compile(r"[T ]\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:[AP]M)?\s*(?:[+-]\d{4}|Z)?$",
                        re.IGNORECASE)
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
# OFX datetime: yyyymmdd[hhmm[ss[.xxx]]][[offset[:tz]]], time and zone optional. The parts
# are range-checked so a long reference number is not taken for a date.
_OFX_DATETIME = re.compile(
    r"((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"
    r"(?:(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d(?:\.\d{1,6})?)?)?"
    r"(?:\[[+-]?\d{1,2}(?:\.\d{1,2})?(?::[A-Za-z]{1,6})?\])?")
_NUMERIC = re.compile(r"(\d{1,2})[-/.](\d{1,2})(?:[-/.](\d{2}|\d{4}))?\.?")
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})[-/ .]([A-Za-z]{3,9})\.?(?:[-/ ,.]+(\d{2}|\d{4}))?")
_MONTH_NAME_DAY = re.compile(r"([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:,?\s+(\d{4}))?")


@dataclass(frozen=True)
class DateToken:
    """A date cell split into parts; `order` decides how `a`/`b` map to day and month."""

    kind: str  # "ymd" (fixed) | "ab" (a/b ambiguous order) | "named" (month named)
    year: int | None
    a: int  # ymd/named: month; ab: first number
    b: int  # ymd/named: day; ab: second number


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    if year < 100:  # bank exports: a 2-digit year is this century
        year += 2000
    return year


@lru_cache(maxsize=8192)  # many rows share a date
def tokenize_date(text: str) -> DateToken | None:
    if m := _OFX_DATETIME.fullmatch(text.strip()):
        return DateToken("ymd", int(m[1]), int(m[2]), int(m[3]))
    raw = _TIME_TAIL.sub("", text.strip()).strip().rstrip(",")
    if not raw or len(raw) > 24:
        return None
    if m := _ISO.fullmatch(raw):
        return DateToken("ymd", int(m[1]), int(m[2]), int(m[3]))
    if m := _COMPACT.fullmatch(raw):
        return DateToken("ymd", int(m[1]), int(m[2]), int(m[3]))
    if m := _NUMERIC.fullmatch(raw):
        return DateToken("ab", _year(m[3]), int(m[1]), int(m[2]))
    if (m := _DAY_MONTH_NAME.fullmatch(raw)) and m[2][:3].lower() in _MONTHS:
        return DateToken("named", _year(m[3]), _MONTHS[m[2][:3].lower()], int(m[1]))
    if (m := _MONTH_NAME_DAY.fullmatch(raw)) and m[1][:3].lower() in _MONTHS:
        return DateToken("named", _year(m[3]), _MONTHS[m[1][:3].lower()], int(m[2]))
    return None


def token_date(token: DateToken, order: str, default_year: int = 2000) -> dt.date:
    """The date of `token`; `order` is "mdy" or "dmy" for a/b tokens. Raises ValueError."""
    if token.kind == "ab":
        month, day = (token.a, token.b) if order == "mdy" else (token.b, token.a)
    else:
        month, day = token.a, token.b
    return dt.date(token.year or default_year, month, day)


@dataclass(frozen=True)
class DateOrder:
    order: str  # "mdy" | "dmy"
    how: str  # why: "day>12 first", "day>12 second", "monotonic", "layout", "default"
    ambiguous: bool = False


def infer_order(tokens: Sequence[DateToken], preferred: str | None = None) -> DateOrder:
    """Month-first or day-first over the whole column. Raises ValueError when it mixes both."""
    pairs = [(t.a, t.b) for t in tokens if t.kind == "ab"]
    first_big = any(a > 12 for a, _ in pairs)
    second_big = any(b > 12 for _, b in pairs)
    if first_big and second_big:
        raise ValueError("dates mix day-first and month-first")
    if first_big:
        return DateOrder("dmy", "a value above 12 comes first")
    if second_big or not pairs:
        return DateOrder("mdy", "a value above 12 comes second" if pairs else "no a/b dates")
    if preferred in ("mdy", "dmy"):
        return DateOrder(preferred, "layout")
    # Every a/b fits either way: the order under which the dates run monotonically wins.
    monotonic = [order for order in ("mdy", "dmy") if _monotonic(tokens, order)]
    if len(monotonic) == 1:
        return DateOrder(monotonic[0], "dates run in order only this way")
    ambiguous = any(a != b for a, b in pairs)
    return DateOrder("mdy", "default (US)", ambiguous=ambiguous)


def _monotonic(tokens: Sequence[DateToken], order: str) -> bool:
    try:
        dates = [token_date(t, order) for t in tokens if t.year is not None]
    except ValueError:
        return False
    if len(dates) < 2:
        return True
    ascending = all(x <= y for x, y in zip(dates, dates[1:], strict=False))
    descending = all(x >= y for x, y in zip(dates, dates[1:], strict=False))
    return ascending or descending


_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?$", re.IGNORECASE)


def parse_time(text: str) -> dt.time | None:
    m = _TIME.match(text.strip())
    if not m:
        return None
    hour = int(m[1]) % 12 + (12 if (m[4] or "").upper() == "PM" else 0) if m[4] else int(m[1])
    return dt.time(hour, int(m[2]), int(m[3] or 0))


def is_date(text: str) -> bool:
    return tokenize_date(text) is not None
