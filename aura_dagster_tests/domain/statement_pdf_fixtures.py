"""Generated PDF statements for the period phrases banks print, with their ground truth.

Run `python -m aura_dagster_tests.domain.statement_pdf_fixtures` to rewrite the files in
aura_dagster_tests/fixtures/statements/pdf/. Each PDF's `.expected.json` comes from the rows
written here (opening + the signed amounts), never from the parser. Rendering follows
aura_dagster/sample_data/bank_statements.py (fpdf2, core Helvetica, letter pages); the core
font is encoded as cp1252 so an en dash can be printed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "statements" / "pdf"
_ROW_H = 4.6
_FIXED_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # stable bytes across runs


@dataclass(frozen=True)
class Row:
    date: dt.date
    description: str
    amount: Decimal  # signed: credits positive


@dataclass(frozen=True)
class PdfCase:
    name: str
    layout: str  # the layout the parser should report
    bank: str
    period_lines: tuple[str, ...]  # exactly as printed, one entry per printed line
    period: tuple[dt.date, dt.date]
    opening: Decimal
    rows: tuple[Row, ...]
    render: str  # "signed" | "split" | "sectioned"
    date_format: str  # strftime format of row dates (no year)

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((r.amount for r in self.rows), Decimal("0"))

    def expected(self) -> dict[str, object]:
        credits = sum((r.amount for r in self.rows if r.amount > 0), Decimal("0"))
        debits = -sum((r.amount for r in self.rows if r.amount < 0), Decimal("0"))
        return {"transactions": len(self.rows), "opening_balance": f"{self.opening:.2f}",
                "closing_balance": f"{self.closing:.2f}", "total_credits": f"{credits:.2f}",
                "total_debits": f"{debits:.2f}",
                "reconciles": self.opening + credits - debits == self.closing,
                "pending_excluded": 0, "layout": self.layout}


def _money(value: Decimal) -> str:
    return f"{'-' if value < 0 else ''}{abs(value):,.2f}"


def _rows(start: dt.date, plan: list[tuple[int, str, str]]) -> tuple[Row, ...]:
    return tuple(Row(start + dt.timedelta(days=offset), text, Decimal(amount))
                 for offset, text, amount in plan)


_JUNE = [(2, "STRIPE TRANSFER ST-4KD9", "1840.25"), (3, "ONDECK CAPITAL ACH DEBIT", "-289.00"),
         (5, "POS PURCHASE SYSCO FOODS", "-412.67"), (9, "SQUARE INC DEPOSIT SQ7781", "655.10"),
         (12, "CHECK 1043", "-1200.00"), (16, "ZELLE FROM M GARCIA", "150.00"),
         (22, "GUSTO PAYROLL 4821", "-3105.44"), (26, "STRIPE TRANSFER ST-9QW2", "2210.80"),
         (29, "MONTHLY SERVICE FEE", "-15.00")]

CASES: tuple[PdfCase, ...] = (
    PdfCase("period_through_one_line.pdf", "pdf_signed_amount", "Generated National Bank",
            ("Statement period 06/01/2026 through 06/30/2026",), (dt.date(2026, 6, 1),
                                                                 dt.date(2026, 6, 30)),
            Decimal("4200.00"), _rows(dt.date(2026, 6, 1), _JUNE), "signed", "%m/%d"),
    PdfCase("period_through_wrapped.pdf", "pdf_split_columns", "Generated National Bank",
            ("Statement period 06/01/2026", "through 06/30/2026"),
            (dt.date(2026, 6, 1), dt.date(2026, 6, 30)), Decimal("980.55"),
            _rows(dt.date(2026, 6, 1), _JUNE), "split", "%m/%d"),
    PdfCase("period_label_wrapped_to.pdf", "pdf_signed_amount", "Generated Trust Bank",
            ("Statement Period", "May 1, 2026 to May 31, 2026"),
            (dt.date(2026, 5, 1), dt.date(2026, 5, 31)), Decimal("12500.00"),
            _rows(dt.date(2026, 5, 1), [(0, "DEPOSIT BRANCH 012", "900.00"),
                                        (6, "KABBAGE INC PAYMENT", "-612.00"),
                                        (13, "MERCHANT BNKCD DEPOSIT 448812", "2301.45"),
                                        (20, "POS PURCHASE HOME DEPOT", "-77.19"),
                                        (30, "INTEREST PAID", "1.12")]),
            "signed", "%b %d"),
    PdfCase("period_en_dash_year_end_wrapped.pdf", "pdf_split_columns",
            "Generated Savings Bank",
            ("Statement period: December 15, 2025 \u2013", "January 14, 2026"),
            (dt.date(2025, 12, 15), dt.date(2026, 1, 14)), Decimal("2750.00"),
            _rows(dt.date(2025, 12, 15), [(1, "SQUARE INC DEPOSIT SQ1120", "845.00"),
                                          (5, "RESTAURANT DEPOT", "-366.40"),
                                          (10, "STRIPE TRANSFER ST-77AA", "1290.05"),
                                          (17, "ACH DEBIT WEBPMT 88213", "-147.50"),
                                          (21, "STRIPE TRANSFER ST-81BB", "990.00"),
                                          (28, "CHECK 2201", "-2400.00")]),
            "split", "%m/%d"),
    PdfCase("period_for_the_period_sectioned.pdf", "credit_union_pdf", "Generated Credit Union",
            ("Account activity for the period April 1 - April 30, 2026",),
            (dt.date(2026, 4, 1), dt.date(2026, 4, 30)), Decimal("6010.10"),
            _rows(dt.date(2026, 4, 1), [(2, "MOBILE DEPOSIT", "410.00"),
                                        (8, "CARD SETTLEMENT 5521", "1725.35"),
                                        (15, "WIRE IN ACME DISTRIBUTING", "3000.00"),
                                        (4, "FUNDBOX DEBIT", "-250.00"),
                                        (11, "UTILITY PAYMENT", "-318.22"),
                                        (25, "LEASE PAYMENT", "-2100.00")]),
            "sectioned", "%m/%d"),
    PdfCase("period_thru_two_digit_years_wrapped.pdf", "pdf_signed_amount",
            "Generated Community Bank", ("Statement Period 07/01/26", "thru 07/31/26"),
            (dt.date(2026, 7, 1), dt.date(2026, 7, 31)), Decimal("310.00"),
            _rows(dt.date(2026, 7, 1), [(0, "PAYPAL TRANSFER 8HQ2KD", "620.00"),
                                        (3, "SHELL OIL 5512", "-42.18"),
                                        (3, "SHELL OIL 5512", "-42.18"),
                                        (14, "STRIPE TRANSFER ST-1PPX", "1333.33"),
                                        (30, "OVERDRAFT FEE", "-35.00")]),
            "signed", "%m/%d"),
)


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="letter")
        self.core_fonts_encoding = "cp1252"  # en dash and other cp1252 punctuation
        self.title_line = title
        self.set_creation_date(_FIXED_DATE)
        self.set_margins(15, 12, 15)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(0, 5, f"{self.title_line}    Page {self.page_no()}",
                  new_x="LMARGIN", new_y="NEXT")

    def line_text(self, text: str) -> None:
        self.set_font("Helvetica", "", 9)
        self.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")

    def table_row(self, cells: list[tuple[str, float, str]], *, bold: bool = False) -> None:
        self.set_font("Helvetica", "B" if bold else "", 8)
        for text, width, align in cells:
            self.cell(width, _ROW_H, text, align=align)
        self.ln(_ROW_H)


def render(case: PdfCase) -> bytes:
    pdf = _Pdf(f"{case.bank} - Business Checking")
    pdf.add_page()
    for line in ("ACME BAKERY LLC", "Account Number: ****5521", *case.period_lines, "",
                 f"Beginning Balance ${_money(case.opening)}",
                 f"Ending Balance ${_money(case.closing)}", ""):
        pdf.line_text(line)
    _TABLES[case.render](pdf, case)
    return bytes(pdf.output())


def _signed(pdf: _Pdf, case: PdfCase) -> None:
    widths = [("Date", 22, "L"), ("Description", 100, "L"), ("Amount", 30, "R"),
              ("Balance", 30, "R")]
    pdf.table_row(widths, bold=True)
    balance = case.opening
    for row in case.rows:
        balance += row.amount
        pdf.table_row([(row.date.strftime(case.date_format), 22, "L"),
                       (row.description, 100, "L"), (_money(row.amount), 30, "R"),
                       (_money(balance), 30, "R")])


def _split(pdf: _Pdf, case: PdfCase) -> None:
    pdf.table_row([("Date", 18, "L"), ("Description", 84, "L"), ("Withdrawals", 27, "R"),
                   ("Deposits", 27, "R"), ("Balance", 27, "R")], bold=True)
    balance = case.opening
    for row in case.rows:
        balance += row.amount
        pdf.table_row([(row.date.strftime(case.date_format), 18, "L"),
                       (row.description, 84, "L"),
                       (_money(-row.amount) if row.amount < 0 else "", 27, "R"),
                       (_money(row.amount) if row.amount > 0 else "", 27, "R"),
                       (_money(balance), 27, "R")])


def _sectioned(pdf: _Pdf, case: PdfCase) -> None:
    for title, keep in (("Deposits and Additions", lambda a: a > 0),
                        ("Withdrawals", lambda a: a < 0)):
        pdf.line_text(title)
        for row in sorted((r for r in case.rows if keep(r.amount)), key=lambda r: r.date):
            pdf.table_row([(row.date.strftime(case.date_format), 22, "L"),
                           (row.description, 120, "L"), (_money(abs(row.amount)), 30, "R")])
        pdf.line_text("")


_TABLES: dict[str, Callable[[_Pdf, PdfCase], None]] = {
    "signed": _signed, "split": _split, "sectioned": _sectioned}


def write_all(folder: Path = FOLDER) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        (folder / case.name).write_bytes(render(case))
        (folder / f"{case.name}.expected.json").write_text(
            json.dumps(case.expected(), indent=2) + "\n")


if __name__ == "__main__":
    write_all()
