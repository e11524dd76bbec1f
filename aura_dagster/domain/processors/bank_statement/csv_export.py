"""Statements from CSV exports, read under the reading the balance chain confirms.

1. The table: delimiter sniffed (`,` `;` tab `|`); decimal commas in `;` files.
2. Candidate readings (which column is the date, the amount or the debit/credit pair,
   the running balance, a DEBIT/CREDIT indicator, a Posted/Pending status):
   - a known layout (csv_layouts.toml) whose header is the file's header row, or
     whose headerless columns fit the content;
   - the header's names (`Posting Date`, `Withdrawals`, `Running Bal.`, ...);
   - without a header, the content: the date column, money columns (one amount, a
     debit/credit pair, a running balance last), the longest text as description.
   A signed amount (any negative value in the column) is never re-signed by a Type
   column of other codes; an unsigned one takes its sign from a DEBIT/CREDIT/CR/DR/
   CHECK/DSLIP indicator, and so does a signed one whose signs are inverse to such a
   column on every row (card exports); signs that disagree on some rows only are a doubt.
3. Rows: dates day-first or month-first as the whole column says; balance rows
   ("Beginning balance as of ...", empty amount) give balances, not transactions;
   rows not posted (status Pending, Failed, Declined, ..., or a "Pending" section) are
   left out, counted and named in a note, an unknown status is a warning; a row
   with money but an unreadable date or amount is reported in `warnings`.
4. Order: oldest first; same-day rows of a newest-first file are reversed, and where
   that does not hold the running-balance chain (or a time column) decides.
5. The summary block above the header (beginning / ending / ledger balance, totals,
   period, account) is read and checked against the rows.
6. `balance_chain.choose` keeps the first reading under which the chain holds; if none
   does, the preferred reading is kept with `reconciles` False and the breaks listed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import groupby

from aura_dagster.domain.processors.bank_statement.balance_chain import (
    Stated,
    Verdict,
    choose,
    judge,
)
from aura_dagster.domain.processors.bank_statement.csv_values import (
    DateOrder,
    DateToken,
    infer_order,
    is_date,
    is_money,
    parse_money,
    parse_time,
    token_date,
    tokenize_date,
)
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.layouts import (
    Reading,
    headerless_layouts,
    layout_for_header,
    normalize,
)
from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction
from aura_dagster.domain.processors.bank_statement.values import resolve_year

ZERO = Decimal("0.00")
_OPENING = re.compile(r"\b(beginning|opening|previous|starting|start)\s+balance\b"
                      r"|balance\s+(forward|brought forward|b/f)", re.I)
_CLOSING = re.compile(r"\b(ending|closing|new|end)\s+balance\b|\bledger\s+balance\b"
                      r"|balance\s+carried forward", re.I)
_AVAILABLE = re.compile(r"\bavailable\s+balance\b", re.I)
_TOTAL_CREDITS = re.compile(r"\btotal\s+(credits?|deposits?)\b|\bdeposits\s+and\s+credits\b",
                            re.I)
_TOTAL_DEBITS = re.compile(r"\btotal\s+(debits?|withdrawals?)\b|\bwithdrawals\s+and\s+debits\b",
                           re.I)
_PERIOD = re.compile(r"period|statement dates?|\bfrom\b", re.I)
_DEBIT_FLAGS = frozenset({"DEBIT", "DR", "D", "DB", "WITHDRAWAL", "CHECK", "CHEQUE", "OUT",
                          "DEBET"})
_CREDIT_FLAGS = frozenset({"CREDIT", "CR", "C", "DEPOSIT", "DSLIP", "IN", "KREDIT"})
_FLAGS = _DEBIT_FLAGS | _CREDIT_FLAGS
# Status words. Posted rows count (a blank status is posted); the others never moved money
# and are left out, counted in `pending_excluded` and named in a note. Any other value is
# counted with a warning: nothing says whether it posted.
_POSTED = frozenset({"posted", "cleared", "completed", "complete", "settled", "paid", "booked",
                     "succeeded", "successful", "processed"})
_NOT_POSTED = {"pending": "Pending", "failed": "Failed", "declined": "Declined",
               "cancelled": "Cancelled", "canceled": "Cancelled", "returned": "Returned",
               "reversed": "Reversed", "hold": "On hold", "on hold": "On hold",
               "held": "On hold", "rejected": "Rejected", "void": "Voided", "voided": "Voided"}
_NOT_POSTED_WORD = re.compile(r"(on hold|" + "|".join(k for k in _NOT_POSTED if " " not in k)
                              + r")\b")


def _status(cell: str) -> str | None:
    """"" for a posted row, the reason (`Declined`) for one that never posted, None when
    the value is neither."""
    value = re.sub(r"[\s_-]+", " ", cell).strip().lower()
    if not value or value in _POSTED:
        return ""
    if m := _NOT_POSTED_WORD.match(value):
        return _NOT_POSTED[m[1]]
    return None


@dataclass
class _Row:
    line: int  # 1-based line in the file, for messages
    date: dt.date
    time: dt.time | None
    description: str
    amount: Decimal
    balance: Decimal | None


@dataclass
class _Read:
    """Rows of one reading before ordering."""

    rows: list[_Row]
    not_posted: Counter[str] = field(default_factory=Counter)  # reason -> rows left out
    unknown_status: dict[str, list[int]] = field(default_factory=dict)  # value -> lines
    opening: Decimal | None = None  # from a balance row inside the table
    closing: Decimal | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    order: DateOrder | None = None

    @property
    def pending(self) -> int:
        """Rows not posted (Pending, Declined, ...), left out of the transactions."""
        return sum(self.not_posted.values())


@dataclass
class _Summary:
    opening: Decimal | None = None
    closing: Decimal | None = None
    total_credits: Decimal | None = None
    total_debits: Decimal | None = None
    period: tuple[dt.date, dt.date] | None = None
    account_id: str | None = None
    bank_name: str | None = None
    notes: list[str] = field(default_factory=list)


def parse_statement_csv(text: str, *, source: str) -> Statement:
    """Parse a CSV export. Raises StatementParseError."""
    text = text.lstrip("\ufeff")
    delimiter = _delimiter(text)
    table = [[cell.strip() for cell in row]
             for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    comma = delimiter == ";" and _decimal_comma(table)
    header_index, readings = _header_readings(table, comma)
    if header_index is None:
        start, summary = 0, _Summary()
        readings = _headerless_readings(table, comma)
        if not readings:
            raise StatementParseError("STATEMENT_NO_COLUMNS",
                                      f"{source}: no header row and no date and amount "
                                      "columns found in the content")
    else:
        start, summary = header_index + 1, _summary(table[:header_index], comma)
    body = table[start:]

    candidates: list[tuple[tuple[Reading, _Read, list[_Row]], Verdict]] = []
    for reading in readings:
        read = _read_rows(body, start, reading, comma, summary, source)
        stated = stated_for(summary, read)
        for ordered in _orders(read.rows, reading):
            verdict = judge([r.amount for r in ordered], [r.balance for r in ordered],
                            [f"line {r.line} ({r.date})" for r in ordered], stated)
            candidates.append(((reading, read, ordered), verdict))
            if verdict.reconciles is True:
                break
        if candidates[-1][1].reconciles is True:
            break
    choice = choose(candidates)
    reading, read, ordered = choice.reading
    verdict = choice.verdict
    if verdict.reconciles and any(r.balance is not None for r in ordered):
        _warn_if_order_ambiguous(read, ordered, verdict, stated_for(summary, read))
    if not ordered and (verdict.opening is None or verdict.closing is None):
        why = "; ".join(read.warnings[:3])
        raise StatementParseError("STATEMENT_NO_TRANSACTIONS",
                                  f"{source}: no transaction rows" + (f" ({why})" if why else ""))
    return _statement(source, reading, read, ordered, verdict, summary)


def stated_for(summary: _Summary, read: _Read) -> Stated:
    return Stated(summary.opening if summary.opening is not None else read.opening,
                  summary.closing if summary.closing is not None else read.closing,
                  summary.total_credits, summary.total_debits)


def _warn_if_order_ambiguous(read: _Read, ordered: list[_Row], verdict: Verdict,
                             stated: Stated) -> None:
    """Same-day rows whose chain holds in two orders with different balances: say so."""
    for other in (list(reversed(ordered)), sorted(reversed(ordered), key=lambda r: r.date)):
        if [r.date for r in other] != [r.date for r in ordered] or other == ordered:
            continue
        alternative = judge([r.amount for r in other], [r.balance for r in other],
                            [str(r.line) for r in other], stated)
        if alternative.reconciles and (alternative.opening, alternative.closing) != (
                verdict.opening, verdict.closing):
            read.warnings.append(
                "the running balance holds in two orders of the same-day rows (opening "
                f"{verdict.opening} or {alternative.opening}); the file order was kept")
            return


def _statement(source: str, reading: Reading, read: _Read, ordered: list[_Row],
               verdict: Verdict, summary: _Summary) -> Statement:
    warnings = list(read.warnings) + list(verdict.breaks)
    notes = list(summary.notes) + list(read.notes)
    if reading.doubt:
        how = "the column decided" if reading.indicator >= 0 else "the signs were kept"
        if ordered and verdict.reconciles and verdict.checked_rows == len(ordered):
            notes.append(f"{reading.doubt}, not all; {how}, and every row's running balance "
                         "confirms it")
        else:
            warnings.append(f"{reading.doubt}, not all; {how}, not verified")
    if read.order is not None:
        notes.append(f"dates read {read.order.order.upper()}: {read.order.how}")
    if verdict.reconciles is None:
        unsigned = (reading.amount >= 0 and reading.indicator < 0
                    and all(r.amount >= 0 for r in ordered) and len(ordered) > 1)
        if unsigned:
            warnings.append(f"all {len(ordered)} amounts are positive and nothing (balance, "
                            "indicator, layout) says whether they are money in or out")
        elif reading.name.startswith("inferred:headerless") and reading.debit >= 0:
            warnings.append("headerless debit/credit columns without a balance: which is "
                            "which is assumed, not verified")
    if summary.period is not None:
        period = summary.period
    elif ordered:
        period = (ordered[0].date, ordered[-1].date)
    else:
        raise StatementParseError("STATEMENT_NO_DATES", f"{source}: no statement period")
    return Statement(
        source=source, format="csv", period_start=period[0], period_end=period[1],
        transactions=[Transaction(r.date, r.description, r.amount, r.balance) for r in ordered],
        opening_balance=verdict.opening, closing_balance=verdict.closing,
        opening_balance_source=verdict.opening_source, bank_name=summary.bank_name,
        account_id=summary.account_id, page_count=1, notes=notes, layout=reading.name,
        pending_excluded=read.pending, warnings=warnings, chain_verdict=verdict.reconciles)


# --- the table ------------------------------------------------------------------------------

def _delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:40] if line.strip()]
    best, best_score = ",", 0.0
    for candidate in (",", ";", "\t", "|"):
        counts = [line.count(candidate) for line in lines]
        score = statistics.median(counts) if counts else 0
        if score > best_score:
            best, best_score = candidate, score
    return best


def _decimal_comma(table: list[list[str]]) -> bool:
    cells = [re.sub(r"[^\d.,()+-]", "", c) for row in table for c in row]
    commas = sum(1 for c in cells if re.fullmatch(r"[-+(]?[\d.]*\d,\d{1,2}\)?-?", c))
    points = sum(1 for c in cells if re.fullmatch(r"[-+(]?[\d,]*\d\.\d{2}\)?-?", c))
    return commas > points


def _money(cells: list[str], index: int, comma: bool) -> Decimal | None:
    """None for an empty cell; ValueError for a cell that is not money."""
    if index < 0 or index >= len(cells) or not cells[index].strip():
        return None
    return parse_money(cells[index], decimal_comma=comma)


# --- readings from a header -----------------------------------------------------------------

_DATE_NAMES = (r"^(transaction|trans\.?|txn|posting|posted|post|booking|run)?\s*date$",
               r"^(date|created|datum)\b", r"date")
_SECONDARY_DATE = re.compile(r"value|settle|effective|post(ed|ing)?\s+date", re.I)
_DESCRIPTION_NAMES = (r"description|narrative|narration", r"payee|merchant|^name$|counterparty",
                      r"memo|details|particulars|^transactions?$|reference")
_DEBIT_NAME = re.compile(r"withdrawal|debit|money out|paid out|outflow|^payments?\b|charges?",
                         re.I)
_CREDIT_NAME = re.compile(r"deposit|credit|money in|paid in|inflow|receipts?", re.I)
_FLAG_NAME = re.compile(r"^(type|transaction type|details|cr/dr|dr/cr|debit/credit|"
                        r"credit/debit|d/c|c/d|af bij|debit or credit)$", re.I)
_AMOUNT_NAME = re.compile(r"^(transaction |net ?|)amount\b|\bamount$|^amt\b|^value$|^sum$", re.I)
_NOT_AMOUNT = re.compile(r"original|local|foreign|transfer|fee|commission|tax", re.I)


def _find(names: list[str], patterns: Sequence[str], exclude: set[int]) -> int:
    for pattern in patterns:
        for index, name in enumerate(names):
            if index not in exclude and re.search(pattern, name):
                return index
    return -1


def _generic_header(cells: list[str]) -> Reading | None:
    names = [normalize(c) for c in cells]
    dates = [i for i in range(len(names)) if any(re.search(p, names[i]) for p in _DATE_NAMES)]
    if not dates:
        return None
    primary = [i for i in dates if not _SECONDARY_DATE.search(names[i])]
    date = (primary or dates)[0]
    used = set(dates)
    balance = next((i for i, n in enumerate(names) if i not in used
                    and re.search(r"balance|running bal|saldo", n)), -1)
    used.add(balance)
    flag = next((i for i, n in enumerate(names) if _FLAG_NAME.match(n)), -1)
    debit = next((i for i, n in enumerate(names) if i not in used and i != flag
                  and _DEBIT_NAME.search(n) and not _CREDIT_NAME.search(n)), -1)
    credit = next((i for i, n in enumerate(names) if i not in used and i != flag
                   and _CREDIT_NAME.search(n) and not _DEBIT_NAME.search(n)), -1)
    amount = -1
    if debit < 0 or credit < 0:
        debit = credit = -1
        amount = next((i for i, n in enumerate(names) if i not in used
                       and _AMOUNT_NAME.search(n) and not _NOT_AMOUNT.search(n)), -1)
        if amount < 0:
            return None
    money = {debit, credit, amount}
    description = _find(names, _DESCRIPTION_NAMES, used | money | {flag} - {-1})
    status = next((i for i, n in enumerate(names)
                   if re.fullmatch(r"(transaction |txn |payment |posting )?status", n)), -1)
    time = next((i for i, n in enumerate(names) if i not in used and re.search(r"\btime\b", n)
                 and "zone" not in n), -1)
    return Reading(name="inferred:header", date=date,
                   description=(description,) if description >= 0 else (),
                   amount=amount, debit=debit, credit=credit, balance=balance,
                   indicator=flag, status=status, time=time)


def _header_readings(table: list[list[str]], comma: bool
                     ) -> tuple[int | None, list[Reading]]:
    for index, row in enumerate(table[:60]):
        if sum(1 for c in row if c) < 2 or any(is_date(c) for c in row):
            continue
        layout = layout_for_header(row)
        reading = layout.reading() if layout is not None else _generic_header(row)
        if reading is None:
            continue
        generic = _generic_header(row)
        readings = [reading]
        if generic is not None and layout is not None:
            readings.append(generic)
        body = table[index + 1:]
        return index, _with_variants(readings, body, comma)
    return None, []


def _with_variants(readings: list[Reading], body: list[list[str]], comma: bool
                   ) -> list[Reading]:
    """Each reading, settled on its indicator, then the re-signed / swapped variants.

    A variant comes after the reading it varies, so it is kept only where the chain holds
    under it and not under the reading itself (balance_chain.choose).
    """
    out: list[Reading] = []
    for reading in readings:
        values = _column_values(body, reading.amount, comma) if reading.amount >= 0 else []
        signed = any(v < 0 for v in values)
        flags = _flag_column(body, reading)
        settled = replace(reading, indicator=-1 if signed or flags < 0 else flags)
        variants = [settled]
        if reading.amount >= 0 and signed and flags >= 0:
            # Signed amounts beside a DEBIT/CREDIT column: signs that agree need nothing;
            # signs inverse to it on every row (card exports: charges positive, DEBIT)
            # follow the column; signs that disagree on some rows only are in doubt.
            agreement = _flag_agreement(body, reading.amount, flags, comma)
            if agreement == "inverse":
                variants = [replace(settled, indicator=flags), settled]
            elif agreement == "mixed":
                doubt = "the DEBIT/CREDIT column and the amounts' signs disagree on some rows"
                variants = [replace(settled, doubt=doubt),
                            replace(settled, indicator=flags, doubt=doubt)]
        if reading.amount >= 0 and not signed and settled.indicator < 0:
            variants.append(replace(settled, amount_sign=-settled.amount_sign))
        if reading.debit >= 0:
            variants.append(replace(settled, debit=reading.credit, credit=reading.debit))
        for index, variant in enumerate(variants):
            # A layout read other than as the table says is no longer that layout.
            if variant.name.startswith("inferred") or index > 0:
                kind = "headerless" if "headerless" in variant.name else "header"
                variant = replace(variant, name=f"inferred:{kind}({variant.describe()})")
            out.append(variant)
    return out


def _column_values(body: list[list[str]], index: int, comma: bool) -> list[Decimal]:
    values = []
    for row in body:
        if index < len(row) and row[index]:
            try:
                values.append(parse_money(row[index], decimal_comma=comma))
            except ValueError:
                continue
    return values


def _flag_agreement(body: list[list[str]], amount: int, flags: int, comma: bool) -> str:
    """How signed amounts sit with a DEBIT/CREDIT column: "agree" (DEBIT rows negative,
    CREDIT rows positive), "inverse" (the opposite on every row), else "mixed"."""
    seen: set[tuple[bool, bool]] = set()  # (flag says debit, amount negative)
    for row in body:
        if max(amount, flags) >= len(row) or row[flags].upper() not in _FLAGS:
            continue
        try:
            value = parse_money(row[amount], decimal_comma=comma) if row[amount] else ZERO
        except ValueError:
            continue
        if value != 0:
            seen.add((row[flags].upper() in _DEBIT_FLAGS, value < 0))
    if all(debit == negative for debit, negative in seen):
        return "agree"
    if all(debit != negative for debit, negative in seen):
        return "inverse"
    return "mixed"


def _flag_column(body: list[list[str]], reading: Reading) -> int:
    """A column of DEBIT/CREDIT-like flags on every row with money (a balance row without
    an amount may leave it blank): the named one, else any."""
    rows = [r for r in body if len(r) > reading.date and is_date(r[reading.date])]
    money = [r for r in rows if any(i < len(r) and r[i] for i in reading.money_columns)]
    if not money:
        return -1
    width = max(len(r) for r in rows)
    order = ([reading.indicator] if reading.indicator >= 0 else []) + list(range(width))
    taken = {reading.date, *reading.money_columns, reading.balance, reading.status,
             *reading.description}
    for index in order:
        if index in taken and index != reading.indicator:
            continue
        values = {r[index].upper() for r in rows if index < len(r) and r[index]}
        if values and values <= _FLAGS and all(index < len(r) and r[index] for r in money):
            return index
    return -1


# --- readings from content ------------------------------------------------------------------

def _headerless_readings(table: list[list[str]], comma: bool) -> list[Reading]:
    # Rows without any date are headers we do not know, summaries or footers.
    rows = [r for r in table if sum(1 for c in r if c) >= 2 and any(is_date(c) for c in r)]
    if not rows:
        return []
    width = Counter(len(r) for r in rows).most_common(1)[0][0]
    rows = [r for r in rows if len(r) == width]

    def share(index: int, test: Callable[[str], bool]) -> float:
        values = [r[index] for r in rows if r[index]]
        return sum(1 for v in values if test(v)) / len(values) if values else 0.0

    date = next((i for i in range(width) if share(i, is_date) >= 0.8
                 and sum(1 for r in rows if r[i]) >= 0.8 * len(rows)), -1)
    if date < 0:
        return []
    money = [i for i in range(width) if i != date
             and share(i, lambda v: is_money(v, decimal_comma=comma)) >= 0.9
             and any(re.search(r"[.,]\d{1,2}\)?-?$|^-", r[i]) for r in rows if r[i])]
    flags = [i for i in range(width) if i not in money and i != date
             and {r[i].upper() for r in rows if r[i]} <= _FLAGS and any(r[i] for r in rows)]
    statuses = [i for i in range(width) if i not in money and i != date and i not in flags
                and any(r[i] for r in rows)
                and all(_status(r[i]) is not None and not is_date(r[i]) for r in rows)]
    status = statuses[0] if statuses else -1
    texts = [i for i in range(width) if i not in money and i != date and i not in flags
             and i != status]
    base = Reading(name="inferred:headerless", date=date, description=_descriptions(rows, texts),
                   indicator=flags[0] if flags else -1, status=status)
    inferred: list[Reading] = []
    if len(money) == 1:
        inferred.append(replace(base, amount=money[0]))
    elif len(money) >= 2:
        first, second = money[0], money[1]
        exclusive = sum(1 for r in rows if bool(_nonzero(r[first], comma))
                        != bool(_nonzero(r[second], comma))) >= 0.9 * len(rows)
        balance = money[2] if len(money) >= 3 else -1
        if exclusive:
            inferred.append(replace(base, debit=first, credit=second, balance=balance))
            inferred.append(replace(base, credit=first, debit=second, balance=balance))
        else:
            inferred.append(replace(base, amount=first, balance=second))
            inferred.append(replace(base, amount=second, balance=first))
    known = [layout.reading() for layout in headerless_layouts(width)]
    known = [r for r in known if _fits(r, rows, comma)]
    if status >= 0:  # a Posted / Pending column a known layout skips
        known = [replace(r, status=status) if r.status < 0 and status not in (
            r.date, *r.money_columns, r.balance, *r.description) else r for r in known]
    return _with_variants(known + inferred, rows, comma)


def _descriptions(rows: list[list[str]], texts: list[int]) -> tuple[int, ...]:
    """Text columns that say something: not one value throughout, not reference numbers."""
    def says_something(index: int) -> bool:
        values = [r[index] for r in rows if r[index]]
        ids = sum(1 for v in values if " " not in v and re.search(r"\d", v))
        return len(set(values)) > 1 and ids < 0.8 * len(values)

    chosen = tuple(i for i in texts if says_something(i))
    if chosen:
        return chosen
    longest = max(texts, key=lambda i: sum(len(r[i]) for r in rows), default=-1)
    return (longest,) if longest >= 0 else ()


def _nonzero(cell: str, comma: bool) -> bool:
    if not cell:
        return False
    try:
        return parse_money(cell, decimal_comma=comma) != 0
    except ValueError:
        return False


def _fits(reading: Reading, rows: list[list[str]], comma: bool) -> bool:
    """A headerless layout fits when its date and money columns hold dates and money."""
    if not all(is_date(r[reading.date]) for r in rows):
        return False
    for index in (*reading.money_columns, reading.balance):
        if index >= 0 and not all(not r[index] or is_money(r[index], decimal_comma=comma)
                                  for r in rows):
            return False
    for index in reading.description:  # a DEBIT/CREDIT flag column is no description
        values = {r[index].upper() for r in rows if r[index]}
        if values and values <= _FLAGS:
            return False
    return reading.money_columns != ()


# --- rows -----------------------------------------------------------------------------------

def _read_rows(body: list[list[str]], offset: int, reading: Reading, comma: bool,
               summary: _Summary, source: str) -> _Read:
    read = _Read(rows=[])
    tokens: list[tuple[int, list[str], DateToken]] = []
    footers: list[tuple[int, list[str], str]] = []
    pending_section = False
    last: list[str] | None = None
    unknown: dict[int, str] = {}  # line -> a status value neither posted nor not posted
    for number, cells in enumerate(body, offset + 1):
        filled = [c for c in cells if c]
        if not filled:
            continue
        if len(filled) == 1 and not is_money(filled[0], decimal_comma=comma):
            label = filled[0].lower()
            if label.startswith("pending"):
                pending_section = "not reflected" not in label
            elif label.startswith("posted"):
                pending_section = False
            elif last is not None and reading.description and any(
                    i < len(cells) and cells[i] == filled[0] for i in reading.description):
                first = reading.description[0]  # a wrapped description line
                last[first] = f"{last[first]} {filled[0]}".strip()
            continue
        date_cell = cells[reading.date] if reading.date < len(cells) else ""
        token = tokenize_date(date_cell) if date_cell else None
        if token is None:
            money = _any_money(cells, reading, comma)
            label = " ".join(c for c in cells if c and not is_money(c, decimal_comma=comma))
            if "pending" in date_cell.lower():
                read.not_posted["Pending"] += 1  # "Pending" printed for the posting date
            elif money and _FOOTER.search(label):
                footers.append((number, cells, label))
            elif money and date_cell:
                read.warnings.append(f"line {number}: date {date_cell!r} cannot be read; "
                                     "the row is not counted")
            elif money:
                read.warnings.append(f"line {number}: money without a date; not counted")
            elif not date_cell and last is not None and reading.description:
                extra = " ".join(cells[i] for i in reading.description if i < len(cells))
                if extra.strip():  # a wrapped description line
                    first = reading.description[0]
                    last[first] = f"{last[first]} {extra.strip()}".strip()
            continue
        status_cell = cells[reading.status] if 0 <= reading.status < len(cells) else ""
        status = "Pending" if pending_section else _status(status_cell)
        if status:
            read.not_posted[status] += 1
            last = None
            continue
        if status is None:
            unknown[number] = status_cell
        tokens.append((number, cells, token))
        last = cells
    if not tokens:
        return read
    try:
        order = infer_order([t for _, _, t in tokens],
                            reading.date_order if reading.date_order in ("mdy", "dmy") else None)
    except ValueError as exc:
        raise StatementParseError("STATEMENT_BAD_DATE", f"{source}: {exc}") from exc
    read.order = order
    if order.ambiguous:
        read.warnings.append("every date fits both month-first and day-first; read "
                             "month-first, not verified")
    for number, cells, token in tokens:
        try:
            date = token_date(token, order.order)
            if token.year is None:
                if summary.period is None:
                    raise StatementParseError(
                        "STATEMENT_NO_DATES", f"{source}: dates have no year and no period")
                date = resolve_year(date.month, date.day, *summary.period)
        except ValueError:
            read.warnings.append(f"line {number}: date {cells[reading.date]!r} is not a valid "
                                 f"{order.order.upper()} date; the row is not counted")
            continue
        try:
            amount = _amount(cells, reading, comma)
            balance = _money(cells, reading.balance, comma)
        except ValueError as exc:
            read.warnings.append(f"line {number}: {exc}; the row is not counted")
            continue
        description = " ".join(" ".join(cells[i].split()) for i in reading.description
                               if i < len(cells) and cells[i])
        if amount is None:
            if balance is not None and _OPENING.search(description):
                read.opening = read.opening if read.opening is not None else balance
            elif balance is not None and _CLOSING.search(description):
                read.closing = balance
            continue  # a balance or memo row, not a transaction
        time = parse_time(cells[reading.time]) if 0 <= reading.time < len(cells) else None
        read.rows.append(_Row(number, date, time, description, amount, balance))
        if number in unknown:
            read.unknown_status.setdefault(unknown[number], []).append(number)
    if read.pending:
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(read.not_posted.items()))
        read.notes.append(f"{read.pending} row(s) not posted left out: {why}")
    for value, lines in read.unknown_status.items():
        where = ", ".join(str(n) for n in lines[:5]) + (", ..." if len(lines) > 5 else "")
        read.warnings.append(f"status {value!r} (line {where}) is neither posted nor a known "
                             "not-posted status; the row(s) are counted")
    _check_footers(read, footers, reading, comma)
    return read


_FOOTER = re.compile(r"\b(total|totals|subtotal|sum)\b", re.I)


def _check_footers(read: _Read, footers: list[tuple[int, list[str], str]], reading: Reading,
                   comma: bool) -> None:
    """`Total` rows below the table state sums: check them against the rows read."""
    amounts = [r.amount for r in read.rows]
    credits = sum((a for a in amounts if a > 0), ZERO)
    debits = -sum((a for a in amounts if a < 0), ZERO)
    for number, cells, _label in footers:
        try:
            if reading.amount >= 0:
                stated = _money(cells, reading.amount, comma)
                ok = stated is None or abs(stated) == abs(credits - debits)
                found = credits - debits
            else:
                debit, credit = (_money(cells, reading.debit, comma),
                                 _money(cells, reading.credit, comma))
                ok = (debit is None or abs(debit) == debits) and (
                    credit is None or abs(credit) == credits)
                stated, found = debit if debit is not None else credit, debits
        except ValueError:
            ok, stated, found = False, None, credits - debits
        if not ok:
            read.warnings.append(f"line {number}: stated total {stated} does not match the "
                                 f"rows read ({found})")


def _any_money(cells: list[str], reading: Reading, comma: bool) -> bool:
    return any(_nonzero(cells[i], comma) for i in reading.money_columns if i < len(cells))


def _amount(cells: list[str], reading: Reading, comma: bool) -> Decimal | None:
    if reading.amount >= 0:
        value = _money(cells, reading.amount, comma)
        if value is None:
            return None
        if reading.indicator >= 0 and reading.indicator < len(cells):
            flag = cells[reading.indicator].upper()
            if flag in _DEBIT_FLAGS:
                return -abs(value)
            if flag in _CREDIT_FLAGS:
                return abs(value)
            raise ValueError(f"indicator {cells[reading.indicator]!r} is neither debit nor "
                             "credit")
        return value * reading.amount_sign
    debit = _money(cells, reading.debit, comma)
    credit = _money(cells, reading.credit, comma)
    if debit is None and credit is None:
        return None
    # `0` in the unused cell is common; a negative debit is still money out.
    return abs(credit or ZERO) - abs(debit or ZERO)


# --- order ----------------------------------------------------------------------------------

def _orders(rows: list[_Row], reading: Reading) -> Iterator[list[_Row]]:
    """Chronological orders to try, the natural one first (made only when needed)."""
    if not rows:
        yield []
        return

    def key(row: _Row) -> tuple[dt.date, dt.time]:
        return (row.date, row.time or dt.time(0))

    newest_first = rows[0].date > rows[-1].date or (
        rows[0].date == rows[-1].date and reading.time >= 0 and key(rows[0]) > key(rows[-1]))
    natural = sorted(reversed(rows) if newest_first else rows, key=key)
    yield natural
    if any(r.balance is not None for r in rows):
        yield sorted(rows if newest_first else reversed(rows), key=key)
        yield _chain_order(natural)


def _chain_order(rows: list[_Row]) -> list[_Row]:
    """Within each day, the row whose balance follows from the previous one comes next."""
    result: list[_Row] = []
    running: Decimal | None = None
    for _, same_day in groupby(rows, key=lambda r: r.date):
        group = list(same_day)
        while group:
            pick = None
            if running is not None:
                pick = next((r for r in group if r.balance is not None
                             and running + r.amount == r.balance), None)
            elif all(r.balance is not None for r in group):
                balances = {r.balance for r in group}
                pick = next((r for r in group if r.balance - r.amount not in balances), None)
            pick = pick or group[0]
            group.remove(pick)
            result.append(pick)
            running = pick.balance if pick.balance is not None else (
                None if running is None else running + pick.amount)
    return result


# --- summary block --------------------------------------------------------------------------

def _summary(rows: list[list[str]], comma: bool) -> _Summary:
    summary = _Summary()
    for row in rows:
        cells = [c for c in row if c]
        if not cells:
            continue
        label = cells[0]
        amounts = []
        for cell in cells[1:]:
            try:
                amounts.append(parse_money(cell, decimal_comma=comma))
            except ValueError:
                continue
        value = amounts[0] if amounts else None
        if _AVAILABLE.search(label):
            if value is not None:
                summary.notes.append(f"available balance {value} (not the ledger balance)")
        elif _OPENING.search(label) and value is not None:
            summary.opening = value if summary.opening is None else summary.opening
        elif _CLOSING.search(label) and value is not None:
            summary.closing = value
        elif _TOTAL_CREDITS.search(label) and value is not None:
            summary.total_credits = abs(value)
        elif _TOTAL_DEBITS.search(label) and value is not None:
            summary.total_debits = abs(value)
        elif _PERIOD.search(label):
            found = [t for c in cells for part in re.split(r"\s+(?:-|to|through|thru|–)\s+|\s*-\s+",
                                                           c)
                     if (t := tokenize_date(part)) is not None and t.year is not None]
            if len(found) >= 2:
                order = infer_order(found[:2]).order
                summary.period = (token_date(found[0], order), token_date(found[1], order))
        elif re.search(r"account", label, re.I) and (
                m := re.search(r"(\d{4})\D*$", " ".join(cells[1:]) or label)):
            summary.account_id = m[1]
        elif label.lower() in {"bank", "institution", "financial institution"} and len(cells) > 1:
            summary.bank_name = cells[1]
    return summary
