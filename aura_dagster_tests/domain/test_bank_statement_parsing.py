from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from aura_dagster.domain.processors.bank_statement import (
    StatementParseError,
    parse_statement_text,
    parse_statements,
)
from aura_dagster.domain.processors.bank_statement.values import parse_amount, parse_date
from aura_dagster.sample_data.bank_statements import (
    long_statement,
    render_csv_signed,
    render_csv_split,
    render_ofx_sgml,
    render_ofx_xml,
    render_pdf,
    sample_statements,
)

D = Decimal


def _rows(statement):  # type: ignore[no-untyped-def]
    return [(t.date, t.description, t.amount) for t in statement.transactions]


@pytest.mark.parametrize("text, expected", [
    ("1,234.56", "1234.56"), ("$1,234.56", "1234.56"), ("-$1,234.56", "-1234.56"),
    ("($12.00)", "-12.00"), ("12.00-", "-12.00"), ("12.00 CR", "12.00"), ("12.00 DR", "-12.00"),
    ("+5.10", "5.10"),
])
def test_amounts(text: str, expected: str) -> None:
    assert parse_amount(text) == D(expected)


def test_dates() -> None:
    assert parse_date("01/05/2024") == (dt.date(2024, 1, 5), True)
    assert parse_date("2024-01-05") == (dt.date(2024, 1, 5), True)
    assert parse_date("Jan 5, 2024") == (dt.date(2024, 1, 5), True)
    assert parse_date("Jan 05")[1] is False


@pytest.mark.parametrize("index", range(6))
def test_pdf_statements_match_ground_truth(index: int) -> None:
    truth = sample_statements()[index]
    (statement,) = parse_statements(render_pdf(truth), f"s{index}.pdf")
    assert [(t.date, t.description, t.amount, t.balance) for t in statement.transactions] == [
        (t.date, t.description, t.amount, t.balance) for t in truth.transactions]
    assert statement.opening_balance == truth.opening_balance
    assert statement.closing_balance == truth.closing_balance
    assert (statement.period_start, statement.period_end) == (truth.period_start,
                                                              truth.period_end)
    assert statement.account_id == truth.account_last4
    assert statement.bank_name == truth.bank_name or statement.bank_name == "HARBOR CREDIT UNION"
    assert statement.reconciles is truth.reconciles


def test_unreconciled_statement_is_flagged_with_its_difference() -> None:
    truth = sample_statements()[5]
    assert truth.omitted and not truth.reconciles
    (statement,) = parse_statements(render_pdf(truth), "harbor_march.pdf")
    assert statement.reconciles is False
    # The missing line is exactly what the printed closing balance still contains.
    assert statement.reconciliation_difference == -truth.omitted[0].amount
    assert "off by" in statement.reconciliation_note


def test_csv_signed_amount_column_oldest_first() -> None:
    truths = list(sample_statements()[:3])
    (statement,) = parse_statements(render_csv_signed(truths), "export.csv")
    assert _rows(statement) == [(t.date, t.description, t.amount)
                                for s in truths for t in s.transactions]
    assert statement.opening_balance == truths[0].opening_balance
    assert statement.opening_balance_source == "running_balance"
    assert statement.closing_balance == truths[-1].closing_balance
    assert statement.reconciles is True


def test_csv_split_columns_newest_first_with_summary_block() -> None:
    truth = sample_statements()[3]
    (statement,) = parse_statements(render_csv_split(truth), "harbor.csv")
    assert _rows(statement) == [(t.date, t.description, t.amount) for t in truth.transactions]
    assert statement.opening_balance == truth.opening_balance
    assert statement.opening_balance_source == "stated"
    assert statement.closing_balance == truth.closing_balance
    assert (statement.period_start, statement.period_end) == (truth.period_start,
                                                              truth.period_end)
    assert statement.account_id == "7730" and statement.bank_name == "Harbor Credit Union"
    assert statement.total_credits == truth.total_credits
    assert statement.total_debits == truth.total_debits


@pytest.mark.parametrize("render, index", [(render_ofx_sgml, 0), (render_ofx_xml, 4)])
def test_ofx_both_versions_cannot_be_judged(render, index: int) -> None:  # type: ignore[no-untyped-def]
    truth = sample_statements()[index]
    (statement,) = parse_statements(render(truth), "export.ofx")
    assert statement.format == "ofx"
    assert _rows(statement) == [(t.date, t.description, t.amount) for t in truth.transactions]
    assert statement.closing_balance == truth.closing_balance
    assert statement.opening_balance is None
    assert statement.reconciles is None  # never "passed"
    assert "cannot be judged" in statement.reconciliation_note
    assert statement.effective_opening_balance() == truth.opening_balance


def test_sectioned_layout_without_balances() -> None:
    # Hand-made: section headings carry the sign, Daily Balance section is skipped.
    text = "\n".join([
        "Sample Savings Bank", "Account Number: 99-1234",
        "Statement Period 03/01/2024 to 03/31/2024",
        "Beginning Balance $1,000.00", "Ending Balance $1,150.00",
        "Deposits and Additions", "Date Description Amount",
        "03/04 CARD SETTLEMENT STRIPE 500.00", "03/18 MOBILE DEPOSIT 50.00",
        "Withdrawals", "Date Description Amount", "03/05 ACH RENT 375.00",
        "03/20 CHECK 101 25.00", "Daily Ending Balance", "03/04 1,500.00", "03/05 1,125.00",
    ])
    statement = parse_statement_text(text, source="sectioned.pdf")
    assert _rows(statement) == [
        (dt.date(2024, 3, 4), "CARD SETTLEMENT STRIPE", D("500.00")),
        (dt.date(2024, 3, 5), "ACH RENT", D("-375.00")),
        (dt.date(2024, 3, 18), "MOBILE DEPOSIT", D("50.00")),
        (dt.date(2024, 3, 20), "CHECK 101", D("-25.00")),
    ]
    assert statement.account_id == "1234"
    assert statement.reconciles is True


def test_year_rollover_for_dates_without_year() -> None:
    text = "\n".join([
        "Statement Period: 12/15/2023 - 01/14/2024", "Beginning Balance 100.00",
        "Ending Balance 80.00", "Date Description Amount Balance",
        "12/30 FEE -30.00 70.00", "01/03 DEPOSIT 10.00 80.00"])
    statement = parse_statement_text(text, source="rollover.pdf")
    assert [t.date for t in statement.transactions] == [dt.date(2023, 12, 30),
                                                       dt.date(2024, 1, 3)]


def test_text_without_a_table_is_a_permanent_error() -> None:
    with pytest.raises(StatementParseError) as info:
        parse_statement_text("Dear customer,\nthank you for banking with us.", source="x.pdf")
    assert info.value.code == "STATEMENT_NO_TRANSACTIONS"
    assert info.value.error_class == "permanent"


def test_200_page_statement_parses_exactly_and_fast() -> None:
    truth = long_statement(pages=200)
    content = render_pdf(truth)
    started = time.perf_counter()
    (statement,) = parse_statements(content, "long.pdf")
    elapsed = time.perf_counter() - started
    assert statement.page_count == 200
    assert len(statement.transactions) == len(truth.transactions) > 10_000
    assert statement.transactions[-1].balance == truth.closing_balance
    assert statement.reconciles is True
    assert elapsed < 5.0, f"200 pages took {elapsed:.1f}s"
