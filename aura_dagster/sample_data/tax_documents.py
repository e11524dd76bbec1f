"""Sample business tax returns and driver's licenses as PDFs with a real text layer.

The layouts follow the IRS forms (line numbers and captions of the 2023 editions:
1120-S, 1120, 1065 and Schedule C) and the AAMVA card layout of US driver's
licenses (DL, EXP, LN, FN, DOB, CLASS, ISS). Classification and the processors key
on these cues, so keep them when changing the layout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF

from aura_dagster.domain.money import to_cents
from aura_dagster.domain.processors.drivers_license import STATE_NAMES as LICENSE_STATE_CODES

ZERO = Decimal("0")


@dataclass(frozen=True)
class _FormLayout:
    header: str  # top-left form name
    title: str
    line_gross: str
    line_returns: str
    line_balance: str
    line_cogs: str
    line_gross_profit: str
    line_total_income: str
    caption_total_income: str
    line_total_deductions: str
    caption_total_deductions: str
    line_net: str
    caption_net: str


FORM_LAYOUTS: dict[str, _FormLayout] = {
    "1120-S": _FormLayout("Form 1120-S", "U.S. Income Tax Return for an S Corporation",
                          "1a", "1b", "1c", "2", "3",
                          "6", "Total income (loss). Add lines 3 through 5",
                          "20", "Total deductions. Add lines 7 through 19",
                          "21", "Ordinary business income (loss). Subtract line 20 from line 6"),
    "1120": _FormLayout("Form 1120", "U.S. Corporation Income Tax Return",
                        "1a", "1b", "1c", "2", "3", "11", "Total income. Add lines 3 through 10",
                        "27", "Total deductions. Add lines 12 through 26",
                        "28", "Taxable income before net operating loss deduction and special "
                              "deductions. Subtract line 27 from line 11"),
    "1065": _FormLayout("Form 1065", "U.S. Return of Partnership Income",
                        "1a", "1b", "1c", "2", "3",
                        "8", "Total income (loss). Combine lines 3 through 7",
                        "22", "Total deductions. Add lines 9 through 21",
                        "23", "Ordinary business income (loss). Subtract line 22 from line 8"),
    "Schedule C": _FormLayout("SCHEDULE C (Form 1040)",
                              "Profit or Loss From Business (Sole Proprietorship)",
                              "1", "2", "3", "4", "5", "7", "Gross income. Add lines 5 and 6",
                              "28", "Total expenses before expenses for business use of home",
                              "31", "Net profit or (loss). Subtract line 30 from line 29"),
}
TAX_FORMS: tuple[str, ...] = tuple(FORM_LAYOUTS)


def format_amount(value: Decimal) -> str:
    """IRS style with cents; losses in parentheses."""
    text = f"{abs(value):,.2f}"
    return f"({text})" if value < 0 else text


class _Page(FPDF):
    def row(self, label: str, text: str, amount: Decimal | None = None, *,
            bold: bool = False) -> None:
        self.set_font("Helvetica", "B" if bold else "", 9)
        self.cell(10, 5.5, label)
        self.cell(140, 5.5, text)
        self.cell(40, 5.5, "" if amount is None else format_amount(amount), align="R",
                  new_x="LMARGIN", new_y="NEXT")

    def text_line(self, text: str, *, size: float = 9, bold: bool = False) -> None:
        self.set_font("Helvetica", "B" if bold else "", size)
        self.cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")


def write_tax_return_pdf(path: str | Path, *, business_name: str, tax_year: int, form: str,
                         gross_receipts: Decimal | int | str, net_income: Decimal | int | str,
                         ein: str = "84-1234567", returns_and_allowances: Decimal | int | str = 0,
                         cost_of_goods_sold: Decimal | int | str = 0,
                         other_income: Decimal | int | str = 0,
                         address: str = "1450 Mission St",
                         city_state_zip: str = "San Francisco, CA 94103",
                         proprietor: str | None = None) -> Path:
    """Write one return. Total income and deductions are derived so the lines add up."""
    if form not in FORM_LAYOUTS:
        raise ValueError(f"unknown form {form!r}; one of {', '.join(TAX_FORMS)}")
    layout = FORM_LAYOUTS[form]
    gross, returns = to_cents(gross_receipts), to_cents(returns_and_allowances)
    cogs, other, net = to_cents(cost_of_goods_sold), to_cents(other_income), to_cents(net_income)
    balance = gross - returns
    gross_profit = balance - cogs
    total_income = gross_profit + other
    total_deductions = total_income - net

    pdf = _Page(format="Letter")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"{layout.header} {tax_year} {business_name}")
    pdf.add_page()
    pdf.text_line(f"{layout.header}    {layout.title}    {tax_year}", size=12, bold=True)
    pdf.text_line("Department of the Treasury  Internal Revenue Service")
    pdf.text_line(f"For calendar year {tax_year} or tax year beginning 01/01/{tax_year}, "
             f"ending 12/31/{tax_year}")
    pdf.text_line(f"Tax year {tax_year}")
    if form == "Schedule C":
        pdf.text_line(f"Name of proprietor  {proprietor or 'Owner of ' + business_name}")
        pdf.text_line(f"Business name  {business_name}")
        pdf.text_line(f"Employer ID number (EIN)  {ein}")
    else:
        pdf.text_line(f"Name  {business_name}")
        pdf.text_line(f"Employer identification number  {ein}")
    pdf.text_line(f"Number, street, and room or suite no.  {address}")
    pdf.text_line(f"City or town, state, and ZIP code  {city_state_zip}")
    pdf.ln(3)
    pdf.text_line("Income", bold=True)
    pdf.row(layout.line_gross, "Gross receipts or sales", gross)
    pdf.row(layout.line_returns, "Returns and allowances", returns)
    pdf.row(layout.line_balance, f"Balance. Subtract line {layout.line_returns} from line "
            f"{layout.line_gross}", balance)
    pdf.row(layout.line_cogs, "Cost of goods sold", cogs)
    pdf.row(layout.line_gross_profit, "Gross profit", gross_profit)
    pdf.row("", "Other income (loss)", other)
    pdf.row(layout.line_total_income, layout.caption_total_income, total_income, bold=True)
    pdf.ln(3)
    pdf.text_line("Deductions" if form != "Schedule C" else "Expenses", bold=True)
    for caption, share in _deduction_lines(form):
        pdf.row("", caption, to_cents(total_deductions * share))
    pdf.row(layout.line_total_deductions, layout.caption_total_deductions, total_deductions,
            bold=True)
    pdf.row(layout.line_net, layout.caption_net, net, bold=True)
    pdf.ln(6)
    pdf.text_line("Under penalties of perjury, I declare that I have examined this return.", size=7)
    pdf.text_line("Paid Preparer Use Only", size=7)
    return _save(pdf, path)


def _deduction_lines(form: str) -> list[tuple[str, Decimal]]:
    # Shares of the total; shown for realism, the parsers read only the totals.
    if form == "Schedule C":
        return [("Advertising", Decimal("0.05")), ("Rent or lease", Decimal("0.20")),
                ("Wages (less employment credits)", Decimal("0.45")),
                ("Other expenses", Decimal("0.30"))]
    return [("Salaries and wages (less employment credits)", Decimal("0.45")),
            ("Rents", Decimal("0.20")), ("Taxes and licenses", Decimal("0.07")),
            ("Other deductions (attach statement)", Decimal("0.28"))]


def write_drivers_license_pdf(path: str | Path, *, name: str, state: str, license_number: str,
                              dob: dt.date, issued: dt.date, expires: dt.date,
                              license_class: str = "C", address: str = "123 Main St",
                              city_state_zip: str | None = None, sex: str = "M",
                              height: str = "5-10", eyes: str = "BRN") -> Path:
    """Write a card-sized scan of the front of a US driver's license (AAMVA field labels).

    `name` is "First [Middle] Last"; it is printed as LN (last) and FN (first and middle).
    """
    state = state.upper()
    parts = name.upper().split()
    last, first = parts[-1], " ".join(parts[:-1])
    pdf = _Page(format=(85.6, 54.0), orientation="L")  # ID-1 card size in mm
    pdf.set_auto_page_break(False)
    pdf.set_margins(3, 3, 3)
    pdf.set_title(f"Driver license {state}")
    pdf.add_page()

    def field(text: str, size: float = 6, bold: bool = False) -> None:
        pdf.set_font("Helvetica", "B" if bold else "", size)
        pdf.cell(0, 3.2, text, new_x="LMARGIN", new_y="NEXT")

    field(f"{STATE_NAMES.get(state, state)}  USA", 9, True)
    field("DRIVER LICENSE", 8, True)
    field(f"DL {license_number}", 7, True)
    field(f"EXP {_us_date(expires)}", 7)
    field(f"LN {last}")
    field(f"FN {first}")
    field(address.upper())
    field((city_state_zip or f"SACRAMENTO, {state} 95814").upper())
    field(f"DOB {_us_date(dob)}", 7, True)
    field(f"CLASS {license_class.upper()}    RSTR NONE    END NONE")
    field(f"SEX {sex}    HGT {height}    EYES {eyes}")
    field(f"ISS {_us_date(issued)}")
    return _save(pdf, path)


def _us_date(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def _save(pdf: FPDF, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


# Two-letter code -> name, the inverse of what the license parser reads back.
STATE_NAMES: dict[str, str] = {code: name for name, code in LICENSE_STATE_CODES.items()}
