"""Deterministic sample bank statements, with the ground truth the generator wrote.

Two accounts of one business ("Acme Bakery LLC"), January to March 2024:

- First Demo Bank, checking ****4821: PDF with one signed `Amount` column and a
  running balance, oldest first, full dates. Card-processor and mobile deposits,
  a daily OnDeck debit, a weekly Kabbage debit, a fixed unnamed daily debit
  (`ACH DEBIT WEBPMT 88213`), a check that overdraws the account on Friday 9 Feb
  (overdraft fee, three negative days), Forward Financing proceeds, a returned
  Kabbage payment with its NSF fee, a transfer from savings, a tax refund, an
  owner contribution and a merchant refund.
- Harbor Credit Union, share draft ****7730: PDF with separate Withdrawals /
  Deposits columns, newest first, dates without the year, a summary block.
  Weekly Fundbox and unnamed weekly debits, SBA loan proceeds, transfers from the
  checking account, one NSF fee. Its March statement leaves out one posted
  transaction, so it does not reconcile.

Exports of the same data: CSV with one signed amount column (First Demo Bank),
CSV with a summary block and withdrawal / deposit columns in `$1,234.56` form
(Harbor), OFX 1.x SGML (First Demo Bank, January) and OFX 2.x XML (Harbor, February).

`GeneratedTransaction.kind` says what each line really is (see REVENUE_KINDS), so
tests compute expected factors without the processor's rules.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache

from fpdf import FPDF

ZERO = Decimal("0.00")
HOLDER = "Acme Bakery LLC"

# Kinds that are revenue; every other credit kind is excluded from revenue.
REVENUE_KINDS = frozenset({"card_settlement", "mobile_payment", "cash_deposit"})
STACKING_KINDS = frozenset({"funder_debit", "recurring_debit"})


@dataclass(frozen=True)
class GeneratedTransaction:
    date: dt.date
    description: str
    amount: Decimal  # signed: credits positive
    balance: Decimal  # running balance after this line, as printed
    kind: str
    counterparty: str | None = None  # the funder of a funder_debit


@dataclass(frozen=True)
class GeneratedStatement:
    """One statement as printed. `omitted` are posted lines missing from the printout."""

    bank_name: str
    layout: str  # "first_demo" | "harbor"
    account_number: str
    period_start: dt.date
    period_end: dt.date
    opening_balance: Decimal
    closing_balance: Decimal  # as printed in the summary
    transactions: tuple[GeneratedTransaction, ...]
    omitted: tuple[GeneratedTransaction, ...] = ()

    @property
    def account_last4(self) -> str:
        return self.account_number[-4:]

    @property
    def total_credits(self) -> Decimal:
        return sum((t.amount for t in self.transactions if t.amount > 0), ZERO)

    @property
    def total_debits(self) -> Decimal:
        return -sum((t.amount for t in self.transactions if t.amount < 0), ZERO)

    @property
    def reconciles(self) -> bool:
        return self.opening_balance + self.total_credits - self.total_debits == (
            self.closing_balance)


# -- simulation ------------------------------------------------------------------------------
@dataclass
class _Day:
    """Lines of one day, in posting order, before balances are known."""

    lines: list[tuple[str, Decimal, str, str | None]] = field(default_factory=list)

    def add(self, description: str, amount: Decimal, kind: str,
            counterparty: str | None = None) -> None:
        self.lines.append((description, amount, kind, counterparty))


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _token(rng: random.Random, length: int = 6) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(length))


_CUSTOMERS = ("J SMITH", "M GARCIA", "L CHEN", "R PATEL", "K OBRIEN", "T NGUYEN", "A ROSSI")
_VENDORS = ("SYSCO FOODS", "RESTAURANT DEPOT", "HOME DEPOT", "COSTCO WHSE", "STAPLES",
            "SHELL OIL", "KING ARTHUR FLOUR", "WEBSTAURANT")


def _first_demo_day(rng: random.Random, day: dt.date) -> _Day:
    lines = _Day()
    if day.weekday() >= 5:
        if rng.random() < 0.5:
            lines.add(f"SQUARE INC DEPOSIT SQ{_token(rng, 5)}", _money(rng, 300, 900),
                      "card_settlement")
        return lines
    lines.add(f"STRIPE TRANSFER ST-{_token(rng)}", _money(rng, 700, 1700), "card_settlement")
    if rng.random() < 0.6:
        lines.add(f"SQUARE INC DEPOSIT SQ{_token(rng, 5)}", _money(rng, 200, 700),
                  "card_settlement")
    if rng.random() < 0.25:
        lines.add(f"ZELLE FROM {rng.choice(_CUSTOMERS)}", _money(rng, 60, 350), "mobile_payment")
    if rng.random() < 0.1:
        lines.add(f"DEPOSIT BRANCH {rng.randint(10, 99):03d}", _money(rng, 200, 800),
                  "cash_deposit")
    lines.add("ONDECK CAPITAL ACH DEBIT", Decimal("-289.00"), "funder_debit", "OnDeck")
    lines.add("ACH DEBIT WEBPMT 88213", Decimal("-147.50"), "recurring_debit")
    if day.weekday() == 4:
        lines.add("KABBAGE INC PAYMENT", Decimal("-612.00"), "funder_debit", "Kabbage")
        if day.isocalendar().week % 2 == 0:
            lines.add("GUSTO PAYROLL 4821", -_money(rng, 5200, 6400), "payroll")
    if rng.random() < 0.5:
        lines.add(f"POS PURCHASE {rng.choice(_VENDORS)}", -_money(rng, 20, 420), "expense")
    return lines


def _harbor_day(rng: random.Random, day: dt.date) -> _Day:
    lines = _Day()
    if day.weekday() >= 5:
        return lines
    lines.add(f"MERCHANT BNKCD DEPOSIT {rng.randint(100000, 999999)}", _money(rng, 250, 900),
              "card_settlement")
    if rng.random() < 0.3:
        lines.add(f"PAYPAL TRANSFER {_token(rng, 8)}", _money(rng, 50, 400), "card_settlement")
    if rng.random() < 0.15:
        lines.add("VENMO CASHOUT", _money(rng, 40, 250), "mobile_payment")
    if day.weekday() == 0:
        lines.add("FUNDBOX INC DEBIT", Decimal("-450.00"), "funder_debit", "Fundbox")
    if day.weekday() == 2:
        lines.add("WEB PMT BFS 10442", Decimal("-725.00"), "recurring_debit")
    if rng.random() < 0.35:
        lines.add(f"DEBIT CARD {rng.choice(_VENDORS)}", -_money(rng, 15, 300), "expense")
    return lines


def _rent(day: dt.date, first_business_day: dt.date) -> tuple[str, Decimal, str] | None:
    if day == first_business_day:
        return ("RENT MAIN ST PROPERTIES", Decimal("-3200.00"), "rent")
    return None


Scenario = Callable[[Decimal], list[tuple[str, Decimal, str, str | None]]]


def _simulate(start: dt.date, end: dt.date, opening: Decimal, seed: int,
              routine: Callable[[random.Random, dt.date], _Day],
              scenario: dict[dt.date, Scenario]) -> list[GeneratedTransaction]:
    rng = random.Random(seed)
    balance = opening
    out: list[GeneratedTransaction] = []
    day = start
    while day <= end:
        lines = routine(rng, day).lines
        first_business = next(d for d in (dt.date(day.year, day.month, i) for i in range(1, 8))
                              if d.weekday() < 5)
        rent = _rent(day, first_business)
        if rent:
            lines.append((*rent, None))
        for description, amount, kind, counterparty in lines:
            balance += amount
            out.append(GeneratedTransaction(day, description, amount, balance, kind,
                                            counterparty))
        if day in scenario:
            for description, amount, kind, counterparty in scenario[day](balance):
                balance += amount
                out.append(GeneratedTransaction(day, description, amount, balance, kind,
                                                counterparty))
        day += dt.timedelta(days=1)
    return out


def _fixed(*lines: tuple[str, str, str] | tuple[str, str, str, str]) -> Scenario:
    def make(_balance: Decimal) -> list[tuple[str, Decimal, str, str | None]]:
        return [(line[0], Decimal(line[1]), line[2], line[3] if len(line) > 3 else None)
                for line in lines]
    return make


def _overdraw(target: Decimal) -> Scenario:
    """A check that takes the balance to `target`, then the overdraft fee."""
    def make(balance: Decimal) -> list[tuple[str, Decimal, str, str | None]]:
        return [("CHECK 1047", target - balance, "expense", None),
                ("OVERDRAFT ITEM FEE", Decimal("-35.00"), "overdraft_fee", None)]
    return make


def _first_demo_scenario() -> dict[dt.date, Scenario]:
    return {
        dt.date(2024, 1, 10): _fixed(("ONLINE TRANSFER FROM SAVINGS 9921", "2500.00",
                                      "own_transfer")),
        dt.date(2024, 1, 17): _fixed(("ONLINE TRANSFER TO HARBOR 7730", "-1500.00",
                                      "transfer_out")),
        dt.date(2024, 1, 22): _fixed(("IRS TREAS 310 TAX REF", "1843.27", "tax_refund")),
        dt.date(2024, 2, 9): _overdraw(Decimal("-1250.00")),
        dt.date(2024, 2, 12): _fixed(("FORWARD FINANCING FUNDING", "20000.00", "loan_proceeds")),
        dt.date(2024, 2, 21): _fixed(("ONLINE TRANSFER TO HARBOR 7730", "-2000.00",
                                      "transfer_out")),
        dt.date(2024, 3, 8): _fixed(("RETURNED ITEM KABBAGE INC PAYMENT", "612.00", "nsf_item"),
                                    ("NSF RETURNED ITEM FEE", "-36.00", "nsf_fee")),
        dt.date(2024, 3, 15): _fixed(("OWNER CONTRIBUTION J DOE", "5000.00",
                                      "owner_contribution")),
        dt.date(2024, 3, 25): _fixed(("WEBSTAURANT REFUND", "84.12", "refund")),
    }


def _harbor_scenario() -> dict[dt.date, Scenario]:
    return {
        dt.date(2024, 1, 16): _fixed(("SBA EIDL LOAN PROCEEDS", "15000.00", "loan_proceeds")),
        dt.date(2024, 1, 17): _fixed(("TRANSFER FROM CHECKING 4821", "1500.00",
                                      "own_transfer")),
        dt.date(2024, 2, 21): _fixed(("TRANSFER FROM CHECKING 4821", "2000.00",
                                      "own_transfer")),
        dt.date(2024, 2, 27): _fixed(("NSF FEE", "-36.00", "nsf_fee")),
        dt.date(2024, 3, 4): _fixed(("PAYROLL GUSTO 7730", "-8400.00", "payroll")),
    }


def _month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _split_months(bank_name: str, layout: str, account: str, opening: Decimal,
                  txns: list[GeneratedTransaction], months: list[tuple[int, int]],
                  omit: dict[tuple[int, int], int] | None = None) -> list[GeneratedStatement]:
    statements: list[GeneratedStatement] = []
    balance = opening
    for year, month in months:
        start, end = _month_bounds(year, month)
        in_month = [t for t in txns if start <= t.date <= end]
        closing = in_month[-1].balance if in_month else balance
        omitted: tuple[GeneratedTransaction, ...] = ()
        printed = in_month
        if omit and (year, month) in omit:
            index = omit[(year, month)]
            omitted = (in_month[index],)
            printed = in_month[:index] + in_month[index + 1:]
            running = balance
            rebalanced = []
            for txn in printed:  # the printout's running balance follows its own rows
                running += txn.amount
                rebalanced.append(replace(txn, balance=running))
            printed = rebalanced
        statements.append(GeneratedStatement(bank_name, layout, account, start, end, balance,
                                             closing, tuple(printed), omitted))
        balance = closing
    return statements


@lru_cache(maxsize=4)
def sample_statements(seed: int = 2024) -> tuple[GeneratedStatement, ...]:
    """The six monthly statements (3 First Demo Bank, 3 Harbor Credit Union), as printed."""
    first = _simulate(dt.date(2024, 1, 1), dt.date(2024, 3, 31), Decimal("8000.00"), seed,
                      _first_demo_day, _first_demo_scenario())
    harbor = _simulate(dt.date(2024, 1, 1), dt.date(2024, 3, 31), Decimal("12000.00"), seed + 1,
                       _harbor_day, _harbor_scenario())
    months = [(2024, 1), (2024, 2), (2024, 3)]
    return tuple(
        _split_months("First Demo Bank", "first_demo", "000012344821", Decimal("8000.00"),
                      first, months)
        + _split_months("Harbor Credit Union", "harbor", "0088107730", Decimal("12000.00"),
                        harbor, months, omit={(2024, 3): 5}))


def long_statement(pages: int = 200, seed: int = 99) -> GeneratedStatement:
    """One First Demo Bank statement long enough to print on about `pages` pages."""
    rows = pages * _ROWS_PER_PAGE - 12
    start = dt.date(2020, 1, 1)
    # About 1,300 lines a year: simulate long enough, then keep the first `rows`.
    end = dt.date(start.year + rows // 1200 + 1, 12, 31)
    txns = _simulate(start, end, Decimal("25000.00"), seed, _first_demo_day, {})[:rows]
    end = txns[-1].date
    return GeneratedStatement("First Demo Bank", "first_demo", "000012344821", start, end,
                              Decimal("25000.00"), txns[-1].balance, tuple(txns))


# -- rendering -------------------------------------------------------------------------------
_ROWS_PER_PAGE = 53  # letter page, 4.6 mm rows, under the two header lines
_ROW_H = 4.6


def _fmt(amount: Decimal, *, dollar: bool = False) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{'$' if dollar else ''}{abs(amount):,.2f}"


class _StatementPdf(FPDF):
    def __init__(self, title: str, columns: list[tuple[str, float, str]]) -> None:
        super().__init__(orientation="P", unit="mm", format="letter")
        self.title_line = title
        self.columns = columns
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(15, 12, 15)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(0, 5, f"{self.title_line}    Page {self.page_no()}",
                  new_x="LMARGIN", new_y="NEXT")
        if self.page_no() > 1:
            self.column_header()

    def column_header(self) -> None:
        self.set_font("Helvetica", "B", 8)
        for name, width, align in self.columns:
            self.cell(width, _ROW_H, name, align=align)
        self.ln(_ROW_H)
        self.set_font("Helvetica", "", 8)

    def row(self, cells: list[str]) -> None:
        for text, (_, width, align) in zip(cells, self.columns, strict=True):
            self.cell(width, _ROW_H, text, align=align)
        self.ln(_ROW_H)

    def lines(self, texts: list[str], *, bold_first: bool = False) -> None:
        for index, text in enumerate(texts):
            self.set_font("Helvetica", "B" if bold_first and index == 0 else "", 9)
            self.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")


def render_first_demo_pdf(statement: GeneratedStatement) -> bytes:
    """Signed amount column, running balance, oldest first, MM/DD/YYYY dates."""
    pdf = _StatementPdf("First Demo Bank - Business Checking Statement",
                        [("Date", 24, "L"), ("Description", 96, "L"), ("Amount", 30, "R"),
                         ("Balance", 30, "R")])
    pdf.add_page()
    period = (f"{statement.period_start:%m/%d/%Y} - {statement.period_end:%m/%d/%Y}")
    pdf.lines([HOLDER, f"Account Number: ****{statement.account_last4}",
               f"Statement Period: {period}", "", "Account Summary",
               f"Beginning Balance: {_fmt(statement.opening_balance, dollar=True)}",
               f"Total Deposits and Credits: {_fmt(statement.total_credits, dollar=True)}",
               f"Total Withdrawals and Debits: {_fmt(statement.total_debits, dollar=True)}",
               f"Ending Balance: {_fmt(statement.closing_balance, dollar=True)}", ""])
    pdf.column_header()
    for txn in statement.transactions:
        pdf.row([f"{txn.date:%m/%d/%Y}", txn.description, _fmt(txn.amount), _fmt(txn.balance)])
    return bytes(pdf.output())


def render_harbor_pdf(statement: GeneratedStatement) -> bytes:
    """Withdrawals / Deposits columns, newest first, `Jan 05` dates, summary block above."""
    pdf = _StatementPdf("HARBOR CREDIT UNION - Member Statement",
                        [("Date", 16, "L"), ("Description", 80, "L"), ("Withdrawals", 28, "R"),
                         ("Deposits", 28, "R"), ("Balance", 28, "R")])
    pdf.add_page()
    period = (f"{statement.period_start:%b} {statement.period_start.day}, "
              f"{statement.period_start.year} through {statement.period_end:%b} "
              f"{statement.period_end.day}, {statement.period_end.year}")
    pdf.lines([HOLDER.upper(), f"Business Share Draft Account: xxxxxx{statement.account_last4}",
               f"Statement Period: {period}", "", "Summary of Account Activity",
               f"Previous Balance {_fmt(statement.opening_balance, dollar=True)}",
               f"Deposits & Credits (+) {_fmt(statement.total_credits, dollar=True)}",
               f"Withdrawals & Debits (-) {_fmt(statement.total_debits, dollar=True)}",
               f"New Balance {_fmt(statement.closing_balance, dollar=True)}", "",
               "Transactions (newest first)"])
    pdf.column_header()
    for txn in reversed(statement.transactions):
        withdrawal = _fmt(-txn.amount) if txn.amount < 0 else ""
        deposit = _fmt(txn.amount) if txn.amount > 0 else ""
        pdf.row([f"{txn.date:%b %d}", txn.description, withdrawal, deposit, _fmt(txn.balance)])
    return bytes(pdf.output())


def render_pdf(statement: GeneratedStatement) -> bytes:
    if statement.layout == "harbor":
        return render_harbor_pdf(statement)
    return render_first_demo_pdf(statement)


def render_csv_signed(statements: list[GeneratedStatement]) -> bytes:
    """One signed Amount column, running balance, oldest first, no summary block."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Date", "Description", "Amount", "Running Balance"])
    for statement in statements:
        for txn in statement.transactions:
            writer.writerow([f"{txn.date:%m/%d/%Y}", txn.description, f"{txn.amount:.2f}",
                             f"{txn.balance:.2f}"])
    return out.getvalue().encode("utf-8")


def render_csv_split(statement: GeneratedStatement) -> bytes:
    """Summary block, then Withdrawals / Deposits columns in `$1,234.56` form, newest first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Bank", statement.bank_name])
    writer.writerow(["Account", f"xxxxxx{statement.account_last4}"])
    writer.writerow(["Statement Period",
                     f"{statement.period_start:%m/%d/%Y} - {statement.period_end:%m/%d/%Y}"])
    writer.writerow(["Beginning Balance", _fmt(statement.opening_balance, dollar=True)])
    writer.writerow(["Ending Balance", _fmt(statement.closing_balance, dollar=True)])
    writer.writerow([])
    writer.writerow(["Posting Date", "Description", "Withdrawals", "Deposits", "Balance"])
    for txn in reversed(statement.transactions):
        writer.writerow([f"{txn.date:%m/%d/%Y}", txn.description,
                         _fmt(-txn.amount, dollar=True) if txn.amount < 0 else "",
                         _fmt(txn.amount, dollar=True) if txn.amount > 0 else "",
                         _fmt(txn.balance, dollar=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # Excel-style BOM


def _ofx_body(statement: GeneratedStatement, *, close_leaves: bool) -> list[str]:
    def leaf(tag: str, value: str) -> str:
        return f"<{tag}>{value}</{tag}>" if close_leaves else f"<{tag}>{value}"

    lines = ["<OFX>", "<SIGNONMSGSRSV1>", "<SONRS>", "<STATUS>", leaf("CODE", "0"),
             leaf("SEVERITY", "INFO"), "</STATUS>",
             leaf("DTSERVER", f"{statement.period_end:%Y%m%d}120000"), leaf("LANGUAGE", "ENG"),
             "<FI>", leaf("ORG", statement.bank_name), leaf("FID", "10898"), "</FI>",
             "</SONRS>", "</SIGNONMSGSRSV1>", "<BANKMSGSRSV1>", "<STMTTRNRS>",
             leaf("TRNUID", "1"), "<STATUS>", leaf("CODE", "0"), leaf("SEVERITY", "INFO"),
             "</STATUS>", "<STMTRS>", leaf("CURDEF", "USD"), "<BANKACCTFROM>",
             leaf("BANKID", "021000021"), leaf("ACCTID", statement.account_number),
             leaf("ACCTTYPE", "CHECKING"), "</BANKACCTFROM>", "<BANKTRANLIST>",
             leaf("DTSTART", f"{statement.period_start:%Y%m%d}"),
             leaf("DTEND", f"{statement.period_end:%Y%m%d}")]
    for index, txn in enumerate(statement.transactions, 1):
        lines += ["<STMTTRN>", leaf("TRNTYPE", "CREDIT" if txn.amount > 0 else "DEBIT"),
                  leaf("DTPOSTED", f"{txn.date:%Y%m%d}"), leaf("TRNAMT", f"{txn.amount:.2f}"),
                  leaf("FITID", f"{txn.date:%Y%m%d}{index:05d}"),
                  leaf("NAME", txn.description), "</STMTTRN>"]
    lines += ["</BANKTRANLIST>", "<LEDGERBAL>", leaf("BALAMT", f"{statement.closing_balance:.2f}"),
              leaf("DTASOF", f"{statement.period_end:%Y%m%d}"), "</LEDGERBAL>", "</STMTRS>",
              "</STMTTRNRS>", "</BANKMSGSRSV1>", "</OFX>"]
    return lines


def render_ofx_sgml(statement: GeneratedStatement) -> bytes:
    """OFX 1.x: colon headers, SGML without closing tags on leaf elements."""
    header = ["OFXHEADER:100", "DATA:OFXSGML", "VERSION:102", "SECURITY:NONE",
              "ENCODING:USASCII", "CHARSET:1252", "COMPRESSION:NONE", "OLDFILEUID:NONE",
              "NEWFILEUID:NONE", ""]
    return "\r\n".join(header + _ofx_body(statement, close_leaves=False)).encode("ascii")


def render_ofx_xml(statement: GeneratedStatement) -> bytes:
    """OFX 2.x: an XML document with a processing-instruction header."""
    header = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
              '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" '
              'NEWFILEUID="NONE"?>']
    return "\n".join(header + _ofx_body(statement, close_leaves=True)).encode("utf-8")
