"""The generated bank-statement PDF corpus: committed bytes, sidecars and ground truth.

The corpus (aura_dagster_tests/fixtures/pdf_corpus) draws statements in the layouts US
banks print; these tests check the generator, not any reader: the committed files are
what the generator writes, each sidecar is the generator's truth, balances add up, and
every layout feature the corpus promises is printed.
"""

from __future__ import annotations

import ctypes
import json
from collections import defaultdict
from decimal import Decimal

import pypdfium2
import pytest

from aura_dagster_tests.fixtures.pdf_corpus import (
    FOLDER,
    LAYOUTS,
    VARIANTS,
    cases,
    render,
    sidecar,
)

BROKEN = "broken_omitted_row_pdf.pdf"


def test_committed_corpus_matches_its_generator() -> None:
    for case in cases():
        assert (FOLDER / case.name).read_bytes() == render(case), case.name
        assert (FOLDER / f"{case.name}.expected.json").read_text() == sidecar(case), case.name


def test_rendering_is_deterministic() -> None:
    case = cases()[0]
    assert render(case) == render(case)


def test_corpus_size_and_names() -> None:
    all_cases = cases()
    assert len(all_cases) >= 32
    per_layout = defaultdict(list)
    for case in all_cases:
        per_layout[case.layout].append(case.name)
        if case.name != BROKEN:
            assert case.name.startswith(f"{case.layout}_") and case.name.endswith(".pdf")
        assert not case.name.startswith("period_")
    assert len(per_layout) >= 16
    assert set(per_layout) == set(LAYOUTS) | {layout.key for layout in VARIANTS.values()}
    assert {case.variant for case in all_cases} == {"", *VARIANTS}
    assert all(len([n for n in names if n != BROKEN]) >= 2 for names in per_layout.values())


def test_each_sidecar_is_the_cases_expected_values() -> None:
    for case in cases():
        written = json.loads((FOLDER / f"{case.name}.expected.json").read_text())
        assert written == case.expected(), case.name
        assert set(written) == {"transactions", "opening_balance", "closing_balance",
                                "total_credits", "total_debits", "reconciles",
                                "pending_excluded", "layout"}
        if len(case.statements) == 1:
            assert written == case.statements[0].expected(case.expected_layout)


def test_opening_plus_rows_is_closing_except_the_broken_case() -> None:
    for case in cases():
        for st in case.statements:
            net = sum((r.amount for r in st.rows), Decimal("0"))
            assert (st.opening + net == st.closing) is (case.name != BROKEN), case.name
            assert st.reconciles is (case.name != BROKEN)
            assert 25 <= len(st.rows) <= 90, case.name
            assert all(st.period_start <= r.date <= st.period_end for r in st.rows), case.name
            assert all(10 <= len(r.description) <= 60 for r in st.rows), case.name
    broken = next(c for c in cases() if c.name == BROKEN)
    (st,) = broken.statements
    (omitted,) = st.omitted
    assert st.opening + sum((r.amount for r in st.rows), omitted.amount) == st.closing


def test_statements_chain_and_pending_rows_are_outside_the_balances() -> None:
    for case in cases():
        for earlier, later in zip(case.statements, case.statements[1:], strict=False):
            assert earlier.closing == later.opening
            assert earlier.period_end < later.period_start
        for st in case.statements:
            assert all(r.date >= st.period_end for r in st.pending)
    assert sum(len(st.pending) for c in cases() for st in c.statements) > 0


# One printed string (a single text cell) per promised layout feature.
FEATURES = {
    "chase_pdf": ["CHASE", "JPMorgan Chase Bank, N.A.", "May 1, 2026 through May 31, 2026",
                  "CHECKING SUMMARY", "INSTANCES", "DEPOSITS AND ADDITIONS (continued)",
                  "CHECK NO.", "DATE PAID", "Total Deposits and Additions",
                  "ATM & DEBIT CARD WITHDRAWALS", "ELECTRONIC WITHDRAWALS", "FEES",
                  "DAILY ENDING BALANCE", "CHECK IMAGES", "^ There is a gap"],
    "bank_of_america_pdf": ["Bank of America", "for April 1, 2026 to April 30, 2026",
                            "Beginning balance on April 1, 2026",
                            "Withdrawals and other debits - continued",
                            "Total withdrawals and other debits", "Daily ledger balances",
                            "Balance($)", "* There is a gap in sequential check numbers"],
    "wells_fargo_pdf": ["April 30, 2026", "Beginning balance on 4/1", "Ending balance on 4/30",
                        "Transaction history", "Deposits/", "Withdrawals/", "Ending daily",
                        "Totals"],
    "us_bank_pdf": ["U.S. Bank", "Statement Period: Mar 1, 2026 through Mar 31, 2026",
                    "Other Deposits", "Card Withdrawals", "Other Withdrawals",
                    "Total Other Deposits", "Checks Presented Conventionally", "Balance Summary"],
    "pnc_pdf": ["PNC Bank", "For the period 05/01/2026 to 05/31/2026", "Balance Summary",
                "Deposits and other additions", "Checks and Substitute Checks",
                "Banking/Debit Card Withdrawals and Purchases",
                "Online and Electronic Banking Deductions", "Other Deductions", "Date posted",
                "Reference number", "Daily Balance Detail"],
    "td_pdf": ["TD Bank", "Mar 01 2026-Mar 31 2026", "DAILY ACCOUNT ACTIVITY",
               "Electronic Deposits", "Other Credits", "Checks Paid", "Electronic Payments",
               "Other Withdrawals", "Service Charges", "POSTING DATE", "Subtotal:",
               "DAILY BALANCE SUMMARY"],
    "capital_one_pdf": ["Capital One", "Mar 1 - Mar 31, 2026", "Category", "Opening Balance",
                        "Closing Balance"],
    "citi_pdf": ["citibank", "Statement Period: Apr 1 - Apr 30, 2026", "Debits", "Credits"],
    "credit_union_pdf": ["HARBOR FEDERAL CREDIT UNION",
                              "April 30, 2026 through May 29, 2026", "Trans Date", "Eff Date",
                              "(512.40)"],
    "mercury_pdf": ["Mercury", "Statement start", "Statement end", "May 1, 2026", "May 31, 2026",
                    "Money in", "Money out"],
    "novo_pdf": ["novo", "Statement Period", "April 1, 2026 -", "April 30, 2026"],
    "bluevine_pdf": ["bluevine", "Mar 01 2026-Mar 31 2026"],
    "relay_pdf": ["Relay", "Dec 16, 2025 - Jan 15, 2026", "Dec 18", "Jan 05", "Running balance"],
    "online_printout_pdf": ["Printed on 06/02/2026 10:41 AM", "Pending", "Available balance",
                            "Current balance",
                            "https://online.keystonecommunitybank.example/accounts/checking/"
                            "activity"],
    "regions_pdf": ["Regions Bank", "Deposits/Credits", "Withdrawals/Debits",
                    "Ending daily balance", "Subtotal", "Effective"],
    "truist_pdf": ["TRUIST", "Deposits, credits and interest", "Checks",
                   "Other withdrawals, debits and service charges",
                   "Total deposits, credits and interest", "Opening balance", "Closing balance",
                   "(512.40)"],
}


@pytest.fixture(scope="module")
def printed_text() -> dict[str, str]:
    texts: dict[str, list[str]] = defaultdict(list)
    for case in cases():
        pdf = pypdfium2.PdfDocument((FOLDER / case.name).read_bytes())
        try:
            for index in range(len(pdf)):
                texts[case.layout].append(pdf[index].get_textpage().get_text_range())
        finally:
            pdf.close()
    return {layout: "\n".join(parts) for layout, parts in texts.items()}


@pytest.mark.parametrize("layout", sorted(FEATURES))
def test_every_promised_layout_feature_is_printed(layout: str,
                                                  printed_text: dict[str, str]) -> None:
    missing = [text for text in FEATURES[layout] if text not in printed_text[layout]]
    assert not missing


def test_every_row_amount_is_printed_and_pages_are_numbered() -> None:
    for case in cases():
        pdf = pypdfium2.PdfDocument((FOLDER / case.name).read_bytes())
        try:
            pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        finally:
            pdf.close()
        assert 2 <= len(pages) <= 7, case.name
        text = "\n".join(pages)
        for st in case.statements:
            for row in st.rows:
                assert f"{abs(row.amount):,.2f}" in text, (case.name, row)
        assert all(("Page " in page) or (" of " in page) for page in pages), case.name


# The harder drawings (banks_hard): what each promises to print, by file.
VARIANT_FEATURES = {
    "generic_bank_pdf_legacy_courier.pdf": ["MIDLAND PRAIRIE BANK",
                                            "STATEMENT PERIOD 05/01/26 THRU 05/31/26",
                                            "BALANCE FORWARD", "CONTINUED ON NEXT PAGE",
                                            "*** END OF STATEMENT ***"],
    "wells_fargo_pdf_stacked_header.pdf": ["Deposits/", "Credits", "Withdrawals/", "Debits",
                                           "Ending daily", "balance", "Beginning balance on 5/1"],
    "citi_pdf_wrapped_bottom.pdf": ["CHECKING ACTIVITY (continued)", "Total Debits/Credits"],
    "credit_union_pdf_cr_suffix.pdf": ["CASCADE FEDERAL CREDIT UNION", " CR",
                                       "Beginning Balance", "Ending Balance"],
    "regions_pdf_landscape.pdf": ["Regions Bank", "Deposits & Credits (", "Withdrawals (",
                                  "Reference", "Type", "Effective"],
    "generic_bank_pdf_right_box.pdf": ["Lakeshore Community Bank", "Deposits & Other Credits",
                                       "Electronic Debits", "Checks Cleared",
                                       "Statement Period:", "Beginning Balance"],
    "chase_pdf_mixed_case.pdf": ["Deposits and Additions:", "Total deposits and additions:",
                                 "Total for this page:", "Continued on next page",
                                 "Electronic Withdrawals: (continued)", "Checking Summary:"],
    "online_printout_pdf_status_column.pdf": ["Status", "Pending", "Posted",
                                              "Showing: All transactions, newest first"],
}


@pytest.mark.parametrize("name", sorted(VARIANT_FEATURES))
def test_every_harder_drawing_prints_what_it_promises(name: str) -> None:
    pdf = pypdfium2.PdfDocument((FOLDER / name).read_bytes())
    try:
        text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        sizes = [pdf[i].get_size() for i in range(len(pdf))]
    finally:
        pdf.close()
    assert not [feature for feature in VARIANT_FEATURES[name] if feature not in text]
    landscape = all(width > height for width, height in sizes)
    assert landscape is (name == "regions_pdf_landscape.pdf")


def test_the_harder_drawings_are_all_in_the_corpus() -> None:
    drawn = {case.name for case in cases() if case.variant}
    assert drawn == set(VARIANT_FEATURES)
    twin = next(c for c in cases() if c.name == "online_printout_pdf_status_column.pdf")
    (st,) = twin.statements
    same_day = [(r.date, r.amount) for r in st.rows]
    assert any(same_day.count(key) > 1 for key in same_day)


def test_legacy_rows_are_one_text_string_each() -> None:
    case = next(c for c in cases() if c.variant == "legacy_courier")
    pdf = pypdfium2.PdfDocument((FOLDER / case.name).read_bytes())
    try:
        page = pdf[0]
        textpage = page.get_textpage()
        objects = []
        for obj in page.get_objects(filter=[pypdfium2.raw.FPDF_PAGEOBJ_TEXT]):
            size = pypdfium2.raw.FPDFTextObj_GetText(obj.raw, textpage.raw, None, 0)
            buffer = ctypes.create_string_buffer(size)
            pypdfium2.raw.FPDFTextObj_GetText(
                obj.raw, textpage.raw, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)), size)
            objects.append(buffer.raw[:size - 2].decode("utf-16-le"))
    finally:
        pdf.close()
    row = next(r for r in case.statements[0].rows if r.amount > 0)
    # PDFium reads the padding as one space: the row is one text object all the same
    assert any(text.startswith(f"{row.date:%m/%d} {row.description} ")
               and f"{row.amount:,.2f}" in text for text in objects)
