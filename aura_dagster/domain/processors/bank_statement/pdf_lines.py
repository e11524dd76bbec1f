"""Words with boxes into printed lines, and a line into typed items (dates, amounts, text).

A line is the words whose vertical middles agree; an item is one value as printed,
which may span words: `May 03, 2026`, `- $45.00`, `1,234.56 CR`, `1043 ^`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace
from decimal import Decimal

from aura_dagster.domain.documents.words import PageWords, Word
from aura_dagster.domain.processors.bank_statement.values import (
    AMOUNT_RE,
    MONTH_NAME_PATTERN,
    MONTHS,
    parse_amount,
)

_NUMERIC_DATE = re.compile(r"(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2}|\d{4}))?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTH_WORD = re.compile(rf"{MONTH_NAME_PATTERN}\.?", re.IGNORECASE)
_DAY = re.compile(r"(\d{1,2}),?")
_YEAR = re.compile(r"((?:19|20)\d{2}),?")
_SIGN_WORD = re.compile(r"^(?:[-+]\$?|\$|[-+]\s?\$)$")
_SUFFIX_WORD = re.compile(r"^(?:CR|DR|-)$", re.IGNORECASE)
_NUMBER = re.compile(r"^\d{2,10}[\^*]?$")
_GAP_MARK = re.compile(r"^[\^*]+$")
_PLAIN_AMOUNT = re.compile(r"^\$?\d{1,3}(?:,\d{3})*\.\d{2}$")


@dataclass(slots=True)  # not frozen: built for every word, and frozen init costs 3x
class Item:
    kind: str  # "date" | "amount" | "number" | "text"
    text: str
    x0: float
    x1: float
    amount: Decimal | None = None
    # (month, day, year or None) for dates
    date: tuple[int, int, int | None] | None = None

    @property
    def center(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def explicit_sign(self) -> bool:
        """The amount is printed with its sign: -, +, parentheses, a trailing minus, CR / DR."""
        return bool(re.search(r"[-+()]|\b(?:CR|DR)\b", self.text, re.IGNORECASE))


@dataclass
class Line:
    page: int
    top: float
    bottom: float
    words: list[Word]
    _items: list[Item] | None = None
    _text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = " ".join(w.text for w in self.words)
        return self._text

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def items(self) -> list[Item]:
        if self._items is None:
            self._items = tokenize(self.words)
        return self._items

    def amounts(self) -> list[Item]:
        return [item for item in self.items if item.kind == "amount"]


def page_lines(page: PageWords) -> list[Line]:
    """The page's words grouped into lines, top to bottom, each left to right."""
    if not page.words:
        return []
    keyed = sorted(((w.top + w.bottom) / 2, w.x0, w) for w in page.words)
    heights = sorted(w.bottom - w.top for w in page.words)
    tolerance = max(1.5, 0.4 * heights[len(heights) // 2])
    lines: list[Line] = []
    current: list[Word] = [keyed[0][2]]
    middle = total = keyed[0][0]
    for word_middle, _, word in keyed[1:]:
        if abs(word_middle - middle) <= tolerance:
            current.append(word)
            total += word_middle
            middle = total / len(current)
        else:
            lines.append(_line(page.number, current))
            current, middle, total = [word], word_middle, word_middle
    lines.append(_line(page.number, current))
    return lines


def _line(page: int, words: list[Word]) -> Line:
    words.sort(key=lambda w: w.x0)
    return Line(page, min(w.top for w in words), max(w.bottom for w in words), words)


def tokenize(words: list[Word]) -> list[Item]:
    items: list[Item] = []
    index = 0
    while index < len(words):
        text = words[index].text
        first = text[:1]
        found = None
        if first.isdigit():
            if _PLAIN_AMOUNT.match(text) and not _needs_joining(words, index):
                # The common case, one word: `1,234.56`
                word = words[index]
                items.append(Item("amount", text, word.x0, word.x1,
                                  amount=Decimal(text.replace(",", ""))))
                index += 1
                continue
            found = (_numeric_date_at(words, index) or _amount_at(words, index)
                     or _day_month_date_at(words, index))
        elif first in "-+$(":
            found = _amount_at(words, index)
        elif first.isalpha() and text[:3].lower() in MONTHS:
            found = _month_date_at(words, index)
        if found is not None:
            item, index = found
            items.append(item)
            continue
        word = words[index]
        if first.isdigit() and _NUMBER.match(word.text):
            # A check number may carry a gap mark printed apart: `1043 ^`
            end = index + 1
            if end < len(words) and _GAP_MARK.match(words[end].text):
                end += 1
            items.append(Item("number", " ".join(w.text for w in words[index:end]),
                              word.x0, words[end - 1].x1))
            index = end
            continue
        items.append(Item("text", word.text, word.x0, word.x1))
        index += 1
    return items


def _needs_joining(words: list[Word], index: int) -> bool:
    """A CR / DR / minus printed apart after the amount."""
    return index + 1 < len(words) and _SUFFIX_WORD.match(words[index + 1].text) is not None


def _numeric_date_at(words: list[Word], index: int) -> tuple[Item, int] | None:
    text = words[index].text.rstrip(",")
    m = _ISO_DATE.fullmatch(text)
    if m:
        return _date_item(words, index, index + 1, int(m[2]), int(m[3]), int(m[1]))
    m = _NUMERIC_DATE.fullmatch(text)
    if m:
        year = None if m[3] is None else int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        return _date_item(words, index, index + 1, int(m[1]), int(m[2]), year)
    return None


def _day_month_date_at(words: list[Word], index: int) -> tuple[Item, int] | None:
    """`06 May 2022`: a day before a month name (unambiguous, whatever the country)."""
    day = _DAY.fullmatch(words[index].text)
    if day is None or index + 1 >= len(words):
        return None
    month_text = words[index + 1].text.rstrip(",")
    if len(month_text) > 10 or not _MONTH_WORD.fullmatch(month_text):
        return None
    end, year = index + 2, None
    if end < len(words):
        y = _YEAR.fullmatch(words[end].text)
        if y:
            end, year = end + 1, int(y[1])
    return _date_item(words, index, end, MONTHS[month_text[:3].lower()], int(day[1]), year)


def _month_date_at(words: list[Word], index: int) -> tuple[Item, int] | None:
    text = words[index].text.rstrip(",")
    if len(text) <= 10 and _MONTH_WORD.fullmatch(text) and index + 1 < len(words):
        day = _DAY.fullmatch(words[index + 1].text)
        if day:
            month = MONTHS[text[:3].lower()]
            end, year = index + 2, None
            if end < len(words):
                y = _YEAR.fullmatch(words[end].text)
                if y:
                    end, year = end + 1, int(y[1])
            return _date_item(words, index, end, month, int(day[1]), year)
    return None


# Every (month, day) of a leap year: a date is checked without building one.
_MONTH_DAYS = frozenset((d.month, d.day) for d in (dt.date(2000, 1, 1) + dt.timedelta(days=n)
                                                   for n in range(366)))


def _date_item(words: list[Word], start: int, end: int, month: int, day: int,
               year: int | None) -> tuple[Item, int] | None:
    if (month, day) not in _MONTH_DAYS or (
            (month, day) == (2, 29) and year is not None and not calendar.isleap(year)):
        return None
    text = words[start].text if end == start + 1 else " ".join(w.text for w in words[start:end])
    return Item("date", text, words[start].x0, words[end - 1].x1, date=(month, day, year)), end


def _amount_at(words: list[Word], index: int) -> tuple[Item, int] | None:
    start, end = index, index + 1
    parts = [words[index].text]
    # `- $45.00`, `+ $1,204.55`, `$ 12.00`: a sign or currency printed apart
    if _SIGN_WORD.match(parts[0]) and end < len(words) \
            and words[end].x0 - words[index].x1 < 8:
        parts.append(words[end].text)
        end += 1
    token = "".join(parts)
    if not AMOUNT_RE.match(token):
        return None
    # A CR / DR / trailing minus printed apart: within about a character of the amount
    char_width = (words[end - 1].x1 - words[start].x0) / max(1, len(token))
    if end < len(words) and _SUFFIX_WORD.match(words[end].text) \
            and words[end].x0 - words[end - 1].x1 < max(6.0, 1.6 * char_width):
        token += ("" if words[end].text == "-" else " ") + words[end].text
        end += 1
    if _PLAIN_AMOUNT.match(token):  # most amounts: no sign, no suffix
        value = Decimal(token.lstrip("$").replace(",", ""))
    else:
        try:
            value = parse_amount(token)
        except ValueError:
            return None
    return Item("amount", token, words[start].x0, words[end - 1].x1, amount=value), end


# What OCR makes of digits in amounts: `§,242.58`, `1,O45.00`, `899.9]`, `15.846.69`.
_OCR_DIGIT = str.maketrans({"§": "5", "S": "5", "O": "0", "o": "0", "l": "1", "I": "1",
                            "|": "1", "]": "1", "B": "8"})
_OCR_AMOUNT_SHAPE = re.compile(r"^([-+(]?\$?)([0-9§SOolI|B][0-9§SOolI|B,.]*[.,][0-9OolI|\]]{2})"
                               r"([)\-]?)$")
# `0S/15`, `O5/1l`: a month/day whose digits OCR took for letters
_OCR_DATE_SHAPE = re.compile(r"^(?=.*\d)[0-9OSolI]{1,2}/[0-9OSolI]{1,2}(?:/[0-9OSolI]{2,4})?$")
_DOTTED_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+\.\d{2}$")


def repair_ocr_word(text: str) -> str:
    """An amount as OCR misread it, repaired when the repair is unambiguous (at least three
    real digits, letters only where digits belong); any other word unchanged."""
    if _OCR_DATE_SHAPE.match(text):
        return text.translate(_OCR_DIGIT)
    m = _OCR_AMOUNT_SHAPE.match(text)
    if m is None or sum(ch.isdigit() for ch in m[2]) < 3:
        return text
    body = m[2].translate(_OCR_DIGIT)
    if body[-3] == ",":  # `12,50` read for `12.50`
        body = body[:-3] + "." + body[-2:]
    if _DOTTED_THOUSANDS.match(body):
        body = body[:-3].replace(".", ",") + body[-3:]
    repaired = m[1] + body + m[3]
    return repaired if AMOUNT_RE.match(repaired) else text


_CUT_CENTS = re.compile(r"^[-+(]?\$?\d[\d,]*\.\d$")  # `2,458.5` + `1-`: cents cut in two
_CENTS_TAIL = re.compile(r"^\d[-)]?$")
# `2,337` + `62`: the decimal point lost (too small for the scan), its place left blank
_WHOLE_PART = re.compile(r"^[-+(]?\$?\d{1,3}(?:,\d{3})*$")
_CENTS_PART = re.compile(r"^\d{2}[-)]?$")


def _rejoin_cut_amounts(words: list[Word]) -> list[Word]:
    joined: list[Word] = []
    for word in sorted(words, key=lambda w: (round(w.middle), w.x0)):
        last = joined[-1] if joined else None
        if last is not None and abs(word.middle - last.middle) < 3:
            gap = word.x0 - last.x1
            glue = None
            if _CUT_CENTS.match(last.text) and _CENTS_TAIL.match(word.text) and 0 <= gap < 6:
                glue = ""
            elif _WHOLE_PART.match(last.text) and _CENTS_PART.match(word.text) \
                    and 0 <= gap < 1.6 * (last.bottom - last.top):
                glue = "."
            if glue is not None:
                joined[-1] = Word(last.text + glue + word.text, last.x0, word.x1,
                                  min(last.top, word.top), max(last.bottom, word.bottom))
                continue
        joined.append(word)
    return joined


def repair_ocr_page(page: PageWords) -> PageWords:
    words = [w._replace(text=repair_ocr_word(w.text)) for w in _rejoin_cut_amounts(page.words)]
    for index, word in enumerate(words):
        # `Feb |` / `Feb l,`: a one-digit day after a month name, read as a letter or a bar
        if word.text.rstrip(",") not in ("|", "l", "I", "]"):
            continue
        if any(abs(word.middle - other.middle) < 4 and 0 <= word.x0 - other.x1 < 8
               and _MONTH_WORD.fullmatch(other.text.rstrip(",")) for other in words):
            words[index] = word._replace(text=word.text.replace(word.text.rstrip(","), "1", 1))
    return replace(page, words=words)
