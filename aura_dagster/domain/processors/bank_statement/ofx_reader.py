"""A tolerant OFX reader, and the facts about an OFX file both readers share.

OFX 1.x is SGML: leaf elements usually have no closing tag (`<TRNAMT>-6.60`), aggregates
do. OFX 2.x is XML. Real files mix the two (an XML header over an SGML body, closing tags
on some leaves only), put everything on one line, leave elements empty (`<BALAMT></BALAMT>`)
and escape text with entities or CDATA. This reader builds an element tree from any of
these: a leaf ends at the next tag, an aggregate at its closing tag. It never refuses a
file for an empty or odd element; it says what it could not read instead.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from aura_dagster.domain.processors.bank_statement.common import clean_description
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError

# Tags, CDATA sections, comments and processing instructions; text is what lies between.
_TOKEN = re.compile(r"<!\[CDATA\[(?P<cdata>.*?)\]\]>|<!--.*?-->|<\?.*?\?>"
                    r"|<(?P<close>/)?(?P<name>[A-Za-z0-9_.]+)\s*(?P<self>/)?>", re.DOTALL)
_CLOSING = re.compile(r"</([A-Za-z0-9_.]+)\s*>")
_OFX_DATE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})")
_AMOUNT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")

# Investment aggregates whose TOTAL is cash into (+) or out of (-) the account.
CASH_LEG_TYPES = ("BUYDEBT", "BUYMF", "BUYOPT", "BUYOTHER", "BUYSTOCK", "SELLDEBT", "SELLMF",
                  "SELLOPT", "SELLOTHER", "SELLSTOCK", "INCOME", "INVEXPENSE",
                  "MARGININTEREST", "RETOFCAP")
# Investment aggregates that move securities or shift cash inside the account: no cash leg.
NO_CASH_TYPES = ("REINVEST", "TRANSFER", "JRNLFUND", "JRNLSEC", "SPLIT", "CLOSUREOPT")


@dataclass
class Element:
    name: str
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find(self, name: str) -> Element | None:
        """The first descendant called `name` (depth first, document order)."""
        for child in self.children:
            if child.name == name:
                return child
            found = child.find(name)
            if found is not None:
                return found
        return None

    def find_all(self, name: str) -> list[Element]:
        """Every descendant called `name`, also inside one another: an aggregate whose
        closing tag is missing swallows the next one, which must not be lost."""
        found: list[Element] = []
        for child in self.children:
            if child.name == name:
                found.append(child)
            found.extend(child.find_all(name))
        return found

    def value(self, name: str) -> str | None:
        """Text of the first descendant `name`; None when absent or empty."""
        element = self.find(name)
        text = element.text.strip() if element is not None else ""
        return text or None


@dataclass
class OfxRow:
    date: dt.date
    description: str
    amount: Decimal  # as written in the file, before rounding to cents


@dataclass
class OfxAccount:
    """One statement aggregate (STMTRS, CCSTMTRS or INVSTMTRS) as read from the file."""

    kind: str  # "bank" | "creditcard" | "investment"
    account_id: str | None
    bank_name: str | None
    start: dt.date | None
    end: dt.date | None
    rows: list[OfxRow]
    closing: Decimal | None
    warnings: list[str] = field(default_factory=list)


# -- the file as text --------------------------------------------------------------------------
def decode(content: bytes) -> str:
    """UTF-8 when the bytes are UTF-8 (also when mislabelled), else the declared 8-bit charset."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    head = content[:2048].upper()
    charset = "cp1252"  # OFX 1.x default (CHARSET:1252)
    if b"CHARSET:8859-1" in head or b"ISO-8859-1" in head:
        charset = "latin-1"
    return content.decode(charset, errors="replace")


def layout(text: str, *, investment: bool) -> str:
    """`ofx1_sgml`, `ofx2_xml`, `ofx2_sgml` (XML header over an SGML body), ... or
    `ofx_investment`: the header kind, then whether the body closes its leaf elements."""
    if investment:
        return "ofx_investment"
    head = text[: max(text.upper().find("<OFX>"), 0)].lstrip()
    if head.upper().startswith("OFXHEADER"):
        header = "ofx1"
    elif "<?OFX" in head.upper() or head.startswith("<?xml"):
        header = "ofx2"
    else:
        header = "ofx"  # no header at all
    return f"{header}_{'sgml' if has_unclosed_leaves(text) else 'xml'}"


def has_unclosed_leaves(text: str) -> bool:
    """True when some element with text is not followed by its own closing tag (SGML)."""
    body = text[max(text.upper().find("<OFX>"), 0):]
    return re.search(r"<([A-Za-z0-9_.]+)>[^<]*[^<\s][^<]*<(?!/\1>)", body,
                     re.IGNORECASE) is not None


def ofx_date(text: str | None) -> dt.date | None:
    """The date an OFX datetime names, in the bank's own time zone (`[-5:EST]` is ignored:
    converting to UTC would move an evening posting to the next day)."""
    m = _OFX_DATE.match(text or "")
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def ofx_amount(text: str | None) -> Decimal | None:
    """An OFX amount: `-6.60`, `+00000000000050.0100`, `120`, `1234,56`. None when empty."""
    raw = (text or "").strip().replace(" ", "")
    if "," in raw and "." in raw:  # thousands separators: the last mark is the decimal one
        raw = (raw.replace(",", "") if raw.rfind(".") > raw.rfind(",")
               else raw.replace(".", "").replace(",", "."))
    elif raw.count(",") == 1:  # decimal comma (European exports)
        raw = raw.replace(",", ".")
    if not _AMOUNT.match(raw):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


# -- tolerant tree -----------------------------------------------------------------------------
def parse_tree(text: str) -> Element:
    """The <OFX> element of any OFX text. Raises StatementParseError without one."""
    start = text.upper().find("<OFX>")
    if start < 0:
        raise StatementParseError("STATEMENT_OFX_INVALID", "no <OFX> element")
    body = text[start:]
    closed = {name.upper() for name in _CLOSING.findall(body)}
    root = Element("#root")
    stack = [root]
    position = 0
    for m in _TOKEN.finditer(body):
        _add_text(stack[-1], body[position:m.start()])
        position = m.end()
        if m["cdata"] is not None:
            stack[-1].text += m["cdata"]
            continue
        name = m["name"]
        if name is None:  # comment or processing instruction
            continue
        name = name.upper()
        if m["close"]:
            if any(e.name == name for e in stack[1:]):
                while stack[-1].name != name:
                    stack.pop()
                stack.pop()
            continue
        # A leaf that never closes (SGML) ends where the next tag starts.
        top = stack[-1]
        if top is not root and (top.text.strip() or top.name not in closed):
            stack.pop()
        element = Element(name)
        stack[-1].children.append(element)
        if not m["self"]:
            stack.append(element)
    _add_text(stack[-1], body[position:])
    ofx = root.find("OFX")
    if ofx is None:
        raise StatementParseError("STATEMENT_OFX_INVALID", "no <OFX> element")
    return ofx


def _add_text(element: Element, raw: str) -> None:
    if raw.strip():
        element.text += html.unescape(raw)


def read_accounts(ofx: Element) -> list[OfxAccount]:
    """Every statement aggregate in document order."""
    fi = ofx.find("FI")
    bank_name = fi.value("ORG") if fi is not None else None
    accounts: list[OfxAccount] = []
    for kind, tag in (("bank", "STMTRS"), ("creditcard", "CCSTMTRS"),
                      ("investment", "INVSTMTRS")):
        for aggregate in ofx.find_all(tag):
            accounts.append(_account(kind, aggregate, bank_name))
    return accounts


def _account(kind: str, aggregate: Element, bank_name: str | None) -> OfxAccount:
    warnings: list[str] = []
    tranlist = aggregate.find("INVTRANLIST" if kind == "investment" else "BANKTRANLIST")
    start = ofx_date(tranlist.value("DTSTART")) if tranlist is not None else None
    end = ofx_date(tranlist.value("DTEND")) if tranlist is not None else None
    rows: list[OfxRow] = []
    if kind == "investment":
        closing = _investment_rows(aggregate, rows, warnings)
    else:
        rows = [_bank_row(t) for t in aggregate.find_all("STMTTRN")]
        ledger = aggregate.find("LEDGERBAL")
        closing = ofx_amount(ledger.value("BALAMT")) if ledger is not None else None
        if ledger is not None and closing is None:
            warnings.append("the ledger balance (LEDGERBAL) is empty: closing balance unknown")
    return OfxAccount(kind, aggregate.value("ACCTID"), bank_name, start, end, rows, closing,
                      warnings)


def _bank_row(transaction: Element) -> OfxRow:
    fitid = transaction.value("FITID") or "?"
    day = ofx_date(transaction.value("DTPOSTED"))
    if day is None:
        raise StatementParseError("STATEMENT_OFX_INVALID",
                                  f"transaction {fitid} has no readable posted date")
    amount = ofx_amount(transaction.value("TRNAMT"))
    if amount is None:
        raise StatementParseError("STATEMENT_OFX_INVALID",
                                  f"transaction {fitid} has no readable amount")
    return OfxRow(day, describe(transaction.value("NAME"), transaction.value("MEMO")), amount)


def _investment_rows(aggregate: Element, rows: list[OfxRow], warnings: list[str]) -> Decimal | None:
    """Cash legs of an investment statement into `rows`; returns the stated cash balance."""
    tranlist = aggregate.find("INVTRANLIST")
    skipped = 0
    for element in tranlist.children if tranlist is not None else []:
        if element.name == "INVBANKTRAN":
            rows.extend(_bank_row(t) for t in element.find_all("STMTTRN"))
        elif element.name in CASH_LEG_TYPES:
            fitid = element.value("FITID") or "?"
            day = ofx_date(element.value("DTSETTLE") or element.value("DTTRADE"))
            total = ofx_amount(element.value("TOTAL"))
            if day is None or total is None:
                raise StatementParseError(
                    "STATEMENT_OFX_INVALID",
                    f"investment transaction {fitid} has no readable date or total")
            rows.append(OfxRow(day, describe(element.name, element.value("MEMO")
                                             or element.value("UNIQUEID")), total))
        elif element.name in NO_CASH_TYPES:
            skipped += 1
    if skipped:
        warnings.append(no_cash_warning(skipped))
    balance = aggregate.find("INVBAL")
    return ofx_amount(balance.value("AVAILCASH")) if balance is not None else None


def no_cash_warning(count: int) -> str:
    return (f"{count} investment transaction(s) without a cash leg (reinvestment, securities "
            "transfer, journal, split) are not counted")


def describe(*parts: str | None) -> str:
    kept: list[str] = []
    for part in parts:
        text = clean_description(part or "")
        if text and text not in kept:
            kept.append(text)
    return " ".join(kept)
