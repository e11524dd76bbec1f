"""CSV statement features, one class of broken input per test (issue 7).

Files come from the corpus (aura_dagster_tests/fixtures/statements/csv/) or are written
inline; the expected values are the ones a person reads off the file.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.processors.bank_statement import StatementParseError, parse_statements
from aura_dagster.domain.processors.bank_statement.balance_chain import Stated, choose, judge
from aura_dagster.domain.processors.bank_statement.csv_export import parse_statement_csv
from aura_dagster.domain.processors.bank_statement.layouts import known_layouts
from aura_dagster.domain.processors.bank_statement.processor import BankStatementProcessor
from aura_dagster.domain.processors.base import ExecutionStatus, UnderwritingContext
from aura_dagster.domain.validation import (
    DEFAULT_AUTO_APPROVE_ABOVE,
    review_decision,
    validate_factors,
)

D = Decimal
CORPUS = Path(__file__).parents[1] / "fixtures" / "statements" / "csv"


def corpus(name: str):  # type: ignore[no-untyped-def]
    (statement,) = parse_statements((CORPUS / name).read_bytes(), name)
    return statement


def csv_text(text: str, name: str = "inline.csv"):  # type: ignore[no-untyped-def]
    return parse_statement_csv(text.lstrip("\n"), source=name)


# --- signed amounts are never re-signed ------------------------------------------------------

def test_signed_amount_is_not_overridden_by_a_type_column() -> None:
    statement = corpus("gen_chase_business_checking.csv")
    by_text = {t.description: t.amount for t in statement.transactions}
    assert by_text["ORIG CO NAME:ADP PAYROLL"] == D("-3120.00")  # Type ACH_DEBIT
    assert by_text["STRIPE TRANSFER ST-A1B2C3"] == D("4210.55")  # Type ACH_CREDIT
    assert by_text["CHECK 1042"] == D("-850.00")  # Details CHECK
    assert statement.total_debits == D("8111.81")
    assert statement.layout == "chase_checking_csv" and statement.reconciles is True


def test_unsigned_amount_takes_its_sign_from_a_details_indicator() -> None:
    statement = csv_text("""
Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #
CHECK,03/04/2024,CHECK 1042,850.00,CHECK_PAID,,1042
DSLIP,03/05/2024,DEPOSIT ID NUMBER 88213,2400.00,DEPOSIT,,
DEBIT,03/06/2024,CARD PURCHASE,12.00,DEBIT_CARD,,
""")
    assert [t.amount for t in statement.transactions] == [D("-850.00"), D("2400.00"),
                                                          D("-12.00")]


# --- balance rows, summary blocks, totals ----------------------------------------------------

def test_beginning_balance_row_is_a_balance_not_a_transaction() -> None:
    statement = corpus("gen_bofa_checking.csv")
    assert len(statement.transactions) == 7
    assert not any("Beginning balance" in t.description for t in statement.transactions)
    assert statement.opening_balance == D("1034.56")
    assert statement.opening_balance_source == "stated"


def test_stated_totals_are_checked_against_the_rows() -> None:
    statement = corpus("gen_bofa_checking_totals_mismatch.csv")
    assert statement.reconciles is False
    assert any("stated total" in w for w in statement.warnings)


def test_ledger_balance_is_the_closing_and_the_opening_stays_unknown() -> None:
    statement = corpus("gen_ledger_balance_block.csv")
    assert statement.closing_balance == D("3803.26")
    assert statement.opening_balance is None and statement.reconciles is None
    assert any("available balance" in n for n in statement.notes)


# --- headerless files ------------------------------------------------------------------------

def test_headerless_columns_are_inferred_and_confirmed_by_the_balance() -> None:
    statement = corpus("gen_headerless_dayfirst_balance.csv")
    assert statement.layout == "inferred:headerless(date=0,amount=2,balance=3)"
    assert statement.reconciles is True
    assert statement.transactions[3].date == dt.date(2024, 8, 13)


def test_headerless_debit_credit_pair_is_ordered_by_the_chain() -> None:
    # Credit column first, debit second: only that reading reproduces the balances.
    statement = csv_text("""
01/02/2024,PAYROLL,1000.00,,1500.00
01/03/2024,RENT,,800.00,700.00
01/05/2024,REFUND,25.00,,725.00
""")
    assert [t.amount for t in statement.transactions] == [D("1000.00"), D("-800.00"),
                                                          D("25.00")]
    assert statement.reconciles is True and statement.opening_balance == D("500.00")


# --- dates -----------------------------------------------------------------------------------

def test_day_first_is_decided_by_the_whole_column() -> None:
    statement = csv_text("""
Date,Description,Amount
03/04/2024,A,-1.00
05/04/2024,B,-2.00
19/04/2024,C,-3.00
""")
    assert [t.date for t in statement.transactions] == [
        dt.date(2024, 4, 3), dt.date(2024, 4, 5), dt.date(2024, 4, 19)]
    assert not statement.warnings


def test_day_first_is_decided_by_order_when_no_day_exceeds_12() -> None:
    statement = corpus("gen_dayfirst_by_order.csv")
    assert [t.date for t in statement.transactions] == [
        dt.date(2024, 1, 5), dt.date(2024, 2, 3), dt.date(2024, 3, 1), dt.date(2024, 4, 2),
        dt.date(2024, 5, 4)]


def test_month_names_and_two_digit_years() -> None:
    statement = corpus("gen_month_names.csv")
    assert statement.transactions[0].date == dt.date(2019, 12, 2)
    assert csv_text("Date,Description,Amount\n12-Dec-19,X,-1.00\n").transactions[0].date \
        == dt.date(2019, 12, 12)


def test_ofx_style_dates_in_a_csv() -> None:
    statement = csv_text("""
Date,Description,Amount
20091224120000[0:GMT],A,-1.00
20091224120000.000[-5:EST],B,-2.00
20091224,C,3.00
20091225233000.123[-3.5:NST],D,4.00
""")
    assert [t.date for t in statement.transactions] == [dt.date(2009, 12, 24)] * 3 + [
        dt.date(2009, 12, 25)]
    assert statement.warnings == []
    corpus_file = corpus("gen_ofx_style_dates.csv")
    assert corpus_file.reconciles is True
    assert corpus_file.transactions[1].date == dt.date(2024, 5, 3)  # 23:15 at -5 stays


def test_an_unreadable_date_is_reported_not_skipped() -> None:
    statement = csv_text("""
Date,Description,Amount,Balance
01/02/2024,A,-1.00,99.00
01/0X/2024,B,-2.00,97.00
01/04/2024,C,-3.00,94.00
""")
    assert any("01/0X/2024" in w and "not counted" in w for w in statement.warnings)


def test_placeholder_amounts_are_a_typed_error_with_the_rows() -> None:
    # bank2ynab's OCBC test file: every amount is an `X.XX` placeholder.
    with pytest.raises(StatementParseError) as info:
        csv_text("""
Account details for:,FRANK Account XXX-XXXXXX-XXX
Available Balance,"XXXXX.XX"
Ledger Balance,"XXXXX.XX"

Transaction History
Transaction date,Value date,Description,Withdrawals (SGD),Deposits (SGD)
18/04/2018,18/04/2018,DEBIT PURCHASE,X.XX,
,,15/04/18  xx-XXXX PAYEE INFORMATION
17/04/2018,17/04/2018,CASH WITHDRAWAL  ATM,XX.XX,
""")
    assert info.value.code == "STATEMENT_NO_TRANSACTIONS"
    assert "X.XX" in str(info.value)


def test_dates_mixing_both_orders_are_a_typed_error() -> None:
    with pytest.raises(StatementParseError) as info:
        csv_text("Date,Description,Amount\n13/01/2024,A,-1.00\n01/14/2024,B,-2.00\n")
    assert info.value.code == "STATEMENT_BAD_DATE"


def test_ambiguous_dates_are_flagged() -> None:
    statement = corpus("bank2ynab_first_direct.csv")
    assert any("month-first and day-first" in w for w in statement.warnings)


# --- amounts ---------------------------------------------------------------------------------

def test_pounds_parentheses_and_trailing_minus() -> None:
    statement = corpus("gen_pounds.csv")
    assert statement.reconciles is True
    assert D("-1450.00") in [t.amount for t in statement.transactions]


def test_euro_decimal_comma() -> None:
    statement = corpus("gen_euro_semicolon.csv")
    assert statement.transactions[0].amount == D("2310.45") and statement.reconciles is True


def test_cr_dr_flag_in_an_unnamed_column() -> None:
    statement = corpus("gen_crdr_unnamed_column.csv")
    assert statement.total_debits == D("1876.19") and statement.reconciles is True


def test_cr_dr_flag_blank_on_a_brought_forward_row() -> None:
    # lowercase cr/dr under an empty header cell; the balance row has no amount, no flag.
    statement = corpus("gen_crdr_brought_forward.csv")
    assert statement.total_debits == D("1876.19") and statement.total_credits == D("4644.89")
    assert statement.reconciles is True and statement.opening_balance == D("1034.56")


def test_cr_dr_flag_before_the_amount_in_a_headerless_file() -> None:
    # Width 4 fits a known headerless layout (date, description, amount, skip) whose
    # "description" would be the CR/DR column.
    statement = corpus("gen_crdr_headerless_flag_first.csv")
    assert statement.layout == "inferred:headerless(date=0,amount=2,indicator=1)"
    assert statement.total_debits == D("1876.19") and statement.total_credits == D("4644.89")
    assert statement.transactions[0].description == "PAYROLL DIRECT DEP"
    assert statement.warnings == []


def test_card_signs_inverse_to_the_debit_credit_column_follow_the_column() -> None:
    statement = corpus("gen_card_inverse_indicator.csv")
    by_text = {t.description: t.amount for t in statement.transactions}
    assert by_text["AIRLINE TICKET"] == D("-489.00")  # 489.00, Debit
    assert by_text["PAYMENT THANK YOU"] == D("1210.40")  # -1210.40, Credit
    assert statement.total_debits == D("781.33") and statement.total_credits == D("1254.26")
    assert statement.warnings == []


def test_signs_mixed_against_the_debit_credit_column_are_a_warning() -> None:
    statement = csv_text("""
Date,Description,Amount,Type
01/22/2024,GROCERY,54.20,DEBIT
01/23/2024,FUEL,-38.00,DEBIT
01/24/2024,PAYMENT,-500.00,CREDIT
""")
    assert any("DEBIT/CREDIT" in w for w in statement.warnings)


def test_mixed_signs_confirmed_by_every_running_balance_are_a_note() -> None:
    statement = csv_text("""
Date,Description,Amount,Type,Balance
01/22/2024,GROCERY,54.20,DEBIT,45.80
01/23/2024,FUEL,-38.00,DEBIT,7.80
01/24/2024,PAYMENT,-500.00,CREDIT,507.80
""")
    assert [t.amount for t in statement.transactions] == [D("-54.20"), D("-38.00"),
                                                          D("500.00")]
    assert statement.reconciles is True and statement.warnings == []
    assert any("DEBIT/CREDIT" in n for n in statement.notes)


def test_signs_that_agree_with_the_debit_credit_column_are_kept_quietly() -> None:
    statement = csv_text("""
Date,Description,Amount,Type
01/22/2024,GROCERY,-54.20,DEBIT
01/23/2024,REFUND,8.00,CREDIT
""")
    assert [t.amount for t in statement.transactions] == [D("-54.20"), D("8.00")]
    assert statement.layout == "inferred:header(date=0,amount=2)"
    assert statement.warnings == []


def test_money_with_more_than_cents_is_not_rounded_silently() -> None:
    statement = csv_text("Date,Description,Amount\n01/02/2024,A,-1.005\n01/03/2024,B,-2.00\n")
    assert len(statement.transactions) == 1
    assert any("more than cents" in w for w in statement.warnings)


def test_positive_card_charges_are_signed_by_the_balance() -> None:
    statement = corpus("gen_card_positive_charges.csv")
    assert statement.total_credits == 0 and statement.total_debits == D("184.64")


def test_unsigned_amounts_with_nothing_to_sign_them_are_a_warning() -> None:
    statement = corpus("csv2ofx_default.csv")
    assert any("positive" in w for w in statement.warnings)


def test_footer_totals_are_checked_and_wrapped_descriptions_joined() -> None:
    text = """
Date,Description,Debit,Credit
01/22/2024,CARD PURCHASE,10.00,
01/23/2024,WIRE FROM,,25.00
,ACME CORP REF 1182,,
Total,,10.00,25.00
"""
    statement = csv_text(text)
    assert statement.warnings == []
    assert statement.transactions[1].description == "WIRE FROM ACME CORP REF 1182"
    wrong = csv_text(text.replace("Total,,10.00", "Total,,12.00"))
    assert any("stated total 12.00" in w for w in wrong.warnings)


# --- pending, order --------------------------------------------------------------------------

def test_pending_rows_are_excluded_and_counted() -> None:
    statement = corpus("gen_citi_pending.csv")
    assert statement.pending_excluded == 2
    assert not any("PENDING" in t.description for t in statement.transactions)


def test_pending_printed_in_the_date_column() -> None:
    statement = csv_text("Date,Description,Amount\n01/22/2024,A,-1.00\nPending,B,-2.00\n")
    assert statement.pending_excluded == 1 and len(statement.transactions) == 1
    assert not any("cannot be read" in w for w in statement.warnings)


def test_rows_that_never_posted_are_left_out_and_counted() -> None:
    # Failed, DECLINED, Canceled, Returned, reversed, On Hold, Cancelled, pending, hold:
    # only Posted / Cleared / completed / blank / Settled / POSTED rows count.
    statement = corpus("gen_status_not_posted.csv")
    assert len(statement.transactions) == 6 and statement.pending_excluded == 9
    assert statement.total_debits == D("2032.29") and statement.total_credits == D("4350.75")
    assert statement.reconciles is True
    assert "9 row(s) not posted left out: 2 Cancelled, 1 Declined, 1 Failed, 2 On hold, " \
        "1 Pending, 1 Returned, 1 Reversed" in statement.notes
    assert statement.warnings == []


def test_not_posted_note_says_how_many_and_why() -> None:
    statement = csv_text("""
Date,Description,Amount,Transaction Status
01/22/2024,A,-1.00,Posted
01/23/2024,B,-2.00,Declined
01/24/2024,C,-3.00,Pending
01/25/2024,D,-4.00,PENDING
""")
    assert [t.amount for t in statement.transactions] == [D("-1.00")]
    assert statement.pending_excluded == 3
    assert "3 row(s) not posted left out: 1 Declined, 2 Pending" in statement.notes


def test_an_unknown_status_is_counted_and_warned() -> None:
    statement = csv_text("""
Date,Description,Amount,Status
01/22/2024,A,-1.00,Posted
01/23/2024,B,-2.00,Disputed
01/24/2024,C,-3.00,
""")
    assert statement.total_debits == D("6.00") and statement.pending_excluded == 0
    assert any("'Disputed'" in w and "line 3" in w for w in statement.warnings)


def test_a_status_column_is_found_in_a_headerless_file() -> None:
    statement = csv_text("""
01/22/2024,CARD A,-1.00,Posted
01/23/2024,CARD B,-2.00,Failed
01/24/2024,CARD C,-3.00,Posted
""")
    assert statement.total_debits == D("4.00") and statement.pending_excluded == 1


def test_same_day_newest_first_order_comes_from_the_balance_chain() -> None:
    statement = corpus("gen_chase_business_same_day.csv")
    assert [t.description for t in statement.transactions][:2] == ["MOBILE DEPOSIT",
                                                                   "COFFEE SHOP"]
    assert statement.opening_balance == D("500.00")
    assert statement.closing_balance == D("167.15")


def test_time_column_orders_same_day_rows() -> None:
    statement = corpus("gen_time_column.csv")
    assert [t.description for t in statement.transactions] == [
        "MOBILE DEPOSIT", "COFFEE SHOP", "FUEL STATION", "TRANSFER FROM SAVINGS", "WIRE OUT"]


def test_an_order_the_chain_cannot_decide_is_a_warning() -> None:
    statement = corpus("csv2ofx_schwab_baltest_case7.csv")
    assert any("two orders" in w for w in statement.warnings)


# --- the balance chain -----------------------------------------------------------------------

def test_chain_reports_the_breaking_rows() -> None:
    statement = corpus("gen_broken_chain.csv")
    assert statement.reconciles is False
    assert statement.reconciliation_difference == 0  # the breaks cancel out overall
    assert any("line 5" in w for w in statement.warnings)


def test_judge_and_choose_are_format_independent() -> None:
    amounts, balances = [D("10.00"), D("-4.00")], [D("110.00"), D("106.00")]
    good = judge(amounts, balances, ["a", "b"])
    flipped = judge([-a for a in amounts], balances, ["a", "b"])
    assert good.reconciles is True and good.opening == D("100.00")
    assert flipped.reconciles is False and flipped.breaks
    assert choose([("flipped", flipped), ("good", good)]).reading == "good"
    assert choose([("first", flipped), ("second", flipped)]).reading == "first"
    unknown = judge(amounts, [None, None], ["a", "b"])
    assert (unknown.reconciles, unknown.opening, unknown.closing) == (None, None, None)
    stated = judge(amounts, [None, None], ["a", "b"], Stated(D("100.00"), D("106.00")))
    assert stated.reconciles is True


# --- layouts ---------------------------------------------------------------------------------

def test_layout_table_is_attributed_and_well_formed() -> None:
    layouts = known_layouts()
    assert len(layouts) >= 20
    assert all(layout.source for layout in layouts)
    assert len({layout.name for layout in layouts}) == len(layouts)
    assert any("bank2ynab" in layout.source for layout in layouts)
    assert any("csv2ofx" in layout.source for layout in layouts)


def test_unknown_layout_falls_back_to_inference() -> None:
    statement = csv_text("Booked,Text,Value\n2024-01-02,A,-1.00\n2024-01-03,B,2.00\n")
    assert statement.layout is not None and statement.layout.startswith("inferred:")


# --- confidence follows reconciliation -------------------------------------------------------

def _run(name: str):  # type: ignore[no-untyped-def]
    content = (CORPUS / name).read_bytes()
    doc = Document(document_id="doc_001", revision_id="1", content_location=str(CORPUS / name),
                   document_type=DocumentType.BANK_STATEMENT, filename=name, content=content)
    result = BankStatementProcessor().execute(UnderwritingContext("uw_1", "org_1"), [doc])
    assert result.status is ExecutionStatus.COMPLETED, result.error_message
    return result


@pytest.mark.parametrize("name", ["gen_broken_chain.csv", "gen_bofa_checking_totals_mismatch.csv",
                                  "bank2ynab_first_direct.csv"])
def test_unconfirmed_statements_park_the_case_with_the_reason(name: str) -> None:
    result = _run(name)
    assert result.confidence is not None and result.confidence < DEFAULT_AUTO_APPROVE_ABOVE
    assert result.output["review_reasons"]
    decision = review_decision(validate_factors(result.factors, ["p_bank_statement"]),
                               {"p_bank_statement": result.confidence})
    assert decision.needs_review
    assert result.factors["bank_statement_warnings"]


def test_a_reconciled_statement_is_confident() -> None:
    result = _run("gen_chase_business_checking.csv")
    assert result.confidence == 1.0 and result.output["review_reasons"] == []


def test_every_known_layout_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "statement_layouts.md").read_text()
    assert all(f"`{layout.name}`" in docs for layout in known_layouts())


def test_balance_factors_are_null_when_no_balance_is_stated() -> None:
    result = _run("gen_us_bank.csv")  # signed amounts, no balance anywhere
    assert result.factors["bank_average_daily_balance"] is None
    assert result.factors["bank_lowest_daily_balance"] is None
    assert result.factors["bank_negative_balance_days"] is None
    assert result.factors["bank_balances_unknown_for"] == ["gen_us_bank.csv"]
    assert D(str(result.factors["bank_total_withdrawals"])) == D("1876.19")
