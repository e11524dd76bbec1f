"""PDF statements: the period phrases banks print, on one line or wrapped, and the layout.

Dates printed without a year can only be placed through the statement period, so a
period phrase that is missed fails the whole statement. Expected values come from the
generator's rows (statement_pdf_fixtures.py), never from the parser.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from aura_dagster.domain.processors.bank_statement import (
    StatementParseError,
    parse_statement_text,
    parse_statements,
)
from aura_dagster.sample_data.bank_statements import render_pdf, sample_statements
from aura_dagster_tests.domain.statement_pdf_fixtures import CASES, FOLDER, PdfCase

D = Decimal
_ROWS = """Beginning Balance $1,000.00
Ending Balance $1,130.00
Date Description Amount Balance
{first} STRIPE TRANSFER 200.00 1,200.00
{second} CHECK 1043 -70.00 1,130.00
"""


def _text(period_block: str, first: str = "06/03", second: str = "06/28") -> str:
    return ("FIRST EXAMPLE BANK\nAccount Number: ****4821\n" + period_block + "\n"
            + _ROWS.format(first=first, second=second))


@pytest.mark.parametrize("block, start, end", [
    ("Statement period 06/01/2026 through 06/30/2026", "2026-06-01", "2026-06-30"),
    ("Statement period 06/01/2026\nthrough 06/30/2026", "2026-06-01", "2026-06-30"),
    ("Statement period 06/01/2026 through\n06/30/2026", "2026-06-01", "2026-06-30"),
    ("Statement Period\n06/01/2026 to 06/30/2026", "2026-06-01", "2026-06-30"),
    ("Statement Period:\n06/01/2026 - 06/30/2026", "2026-06-01", "2026-06-30"),
    ("Statement period: June 1, 2026 \u2013 June 30, 2026", "2026-06-01", "2026-06-30"),
    ("Statement period: June 1, 2026 \u2013\nJune 30, 2026", "2026-06-01", "2026-06-30"),
    ("For the period June 1 to June 30, 2026", "2026-06-01", "2026-06-30"),
    ("Account activity for the period\nJune 1, 2026 through June 30, 2026", "2026-06-01",
     "2026-06-30"),
    ("Statement Dates 06/01/26 thru\n06/30/26", "2026-06-01", "2026-06-30"),
    ("May 30, 2026 to June 30, 2026", "2026-05-30", "2026-06-30"),
    ("06/01/2026 - 06/30/2026", "2026-06-01", "2026-06-30"),
    ("Opening Date 06/01/2026 Closing Date 06/30/2026", "2026-06-01", "2026-06-30"),
    ("Statement Opening Date: June 1, 2026\nStatement Closing Date: June 30, 2026",
     "2026-06-01", "2026-06-30"),
])
def test_period_phrases_place_dates_without_a_year(block: str, start: str, end: str) -> None:
    statement = parse_statement_text(_text(block), source="s.pdf")
    assert (statement.period_start, statement.period_end) == (
        dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    assert [(t.date, t.amount) for t in statement.transactions] == [
        (dt.date(2026, 6, 3), D("200.00")), (dt.date(2026, 6, 28), D("-70.00"))]
    assert statement.reconciles is True
    assert any("no year" in w for w in statement.warnings)


def test_period_across_the_year_end_gives_each_row_its_year() -> None:
    block = "Statement period: December 15 \u2013\nJanuary 14, 2026"
    statement = parse_statement_text(_text(block, "12/20", "01/05"), source="s.pdf")
    assert (statement.period_start, statement.period_end) == (dt.date(2025, 12, 15),
                                                              dt.date(2026, 1, 14))
    assert [t.date for t in statement.transactions] == [dt.date(2025, 12, 20),
                                                        dt.date(2026, 1, 5)]


@pytest.mark.parametrize("block", [
    "Statement period 06/01 through 06/30",  # no year anywhere: cannot be placed
    "Customer since 06/01/2019",
])
def test_no_period_means_an_error_not_a_guessed_year(block: str) -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_text(_text(block), source="s.pdf")
    assert caught.value.code == "STATEMENT_NO_DATES"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_generated_period_layout_pdfs(case: PdfCase) -> None:
    content = (FOLDER / case.name).read_bytes()
    (statement,) = parse_statements(content, case.name)
    assert statement.format == "pdf"
    assert (statement.period_start, statement.period_end) == case.period
    assert sorted((t.date, t.amount) for t in statement.transactions) == sorted(
        (r.date, r.amount) for r in case.rows)
    assert (statement.opening_balance, statement.closing_balance) == (case.opening,
                                                                      case.closing)
    assert statement.reconciles is True
    assert statement.layout == case.layout


def test_sample_statements_report_their_layout() -> None:
    layouts = {}
    for truth in sample_statements():
        (statement,) = parse_statements(render_pdf(truth), f"{truth.layout}.pdf")
        layouts[truth.layout] = statement.layout
    # A credit union is a known layout; an unknown bank is read by inference.
    assert layouts == {"first_demo": "pdf_signed_amount", "harbor": "credit_union_pdf"}


def test_committed_pdf_fixtures_match_their_generator() -> None:
    from aura_dagster_tests.domain.statement_pdf_fixtures import render

    for case in CASES:
        assert Path(FOLDER / case.name).read_bytes() == render(case), case.name
