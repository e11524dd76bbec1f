from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from aura_dagster.domain.money import jsonable
from aura_dagster.domain.processors.bank_statement import (
    BankStatementProcessor,
    Statement,
    Transaction,
    analyze_statements,
)
from aura_dagster.domain.processors.base import ExecutionStatus, UnderwritingContext
from aura_dagster.domain.validation import DEFAULT_AUTO_APPROVE_ABOVE
from aura_dagster.sample_data.bank_statements import (
    render_csv_split,
    render_ofx_xml,
    render_pdf,
    sample_statements,
)
from aura_dagster_tests.domain.statement_helpers import document, expected_factors

D = Decimal
UW = UnderwritingContext("uw_1", "org_1")


@pytest.fixture(scope="module")
def first_demo_result():  # type: ignore[no-untyped-def]
    truths = [s for s in sample_statements() if s.layout == "first_demo"]
    docs = [document(f"fd_{i}.pdf", render_pdf(s), i) for i, s in enumerate(truths)]
    return truths, BankStatementProcessor().execute(UW, docs)


def test_factors_equal_ground_truth(first_demo_result) -> None:  # type: ignore[no-untyped-def]
    truths, result = first_demo_result
    assert result.status is ExecutionStatus.COMPLETED, result.error_message
    expected = jsonable(expected_factors(truths))
    for name, value in expected.items():
        assert result.factors[name] == value, name
    # The story the generator wrote, in plain numbers.
    assert result.factors["bank_negative_balance_days"] == 3  # Fri 9 Feb to Sun 11 Feb
    assert result.factors["bank_negative_balance_days_by_month"] == {
        "2024-01": 0, "2024-02": 3, "2024-03": 0}
    assert result.factors["bank_nsf_count"] == 1 and result.factors["bank_overdraft_count"] == 1
    assert result.factors["bank_stacking_funders"] == ["Kabbage", "OnDeck"]
    assert result.factors["bank_all_statements_reconcile"] is True
    assert result.factors["bank_months_contiguous"] is True
    assert result.cost_cents == 9 * 2  # 9 pages at the default 2 cents


def test_non_revenue_deposits_by_category(first_demo_result) -> None:  # type: ignore[no-untyped-def]
    truths, result = first_demo_result
    kinds = {"loan_proceeds": "loan_proceeds", "own_transfer": "own_account_transfer",
             "owner_contribution": "owner_contribution", "tax_refund": "tax_refund",
             "refund": "refund_reversal", "nsf_item": "refund_reversal"}
    expected: dict[str, Decimal] = {}
    for txn in (t for s in truths for t in s.transactions if t.kind in kinds):
        expected[kinds[txn.kind]] = expected.get(kinds[txn.kind], D("0")) + txn.amount
    assert result.factors["bank_non_revenue_deposits_by_category"] == jsonable(expected)


def test_traces_and_evidence(first_demo_result) -> None:  # type: ignore[no-untyped-def]
    _, result = first_demo_result
    points = [t.decision_point for t in result.traces]
    assert points.count("parse_statement") == 3 and points.count("reconciliation") == 3
    assert "stacking" in points
    types = [e.evidence_type for e in result.evidence]
    assert types.count("statement_reconciliation") == 3 and "stacking_position" in types


def test_unreconciled_statement_counts() -> None:
    harbor = [s for s in sample_statements() if s.layout == "harbor"]
    docs = [document(f"h{i}.pdf", render_pdf(s), i) for i, s in enumerate(harbor)]
    result = BankStatementProcessor().execute(UW, docs)
    assert result.factors["bank_all_statements_reconcile"] is False
    assert result.factors["bank_unreconciled_statement_count"] == 1
    # Confidence follows reconciliation: below the review threshold, with the reason.
    assert result.confidence is not None and result.confidence < DEFAULT_AUTO_APPROVE_ABOVE
    assert any("does not reconcile" in r for r in result.output["review_reasons"])
    verdicts = [e.evidence_data["reconciles"] for e in result.evidence
                if e.evidence_type == "statement_reconciliation"]
    assert verdicts == [True, True, False]


def test_ofx_makes_overall_reconciliation_unjudged() -> None:
    harbor = [s for s in sample_statements() if s.layout == "harbor"]
    result = BankStatementProcessor().execute(UW, [
        document("h1.pdf", render_pdf(harbor[0]), 1),
        document("h2.ofx", render_ofx_xml(harbor[1]), 2)])
    assert result.factors["bank_all_statements_reconcile"] is None
    assert result.factors["bank_unjudged_statement_count"] == 1


def _statement(source: str, start: dt.date, end: dt.date, opening: str, closing: str,
               rows: list[tuple[dt.date, str, str]]) -> Statement:
    return Statement(source, "pdf", start, end,
                     [Transaction(d, text, D(amount)) for d, text, amount in rows],
                     D(opening), D(closing), account_id="1111")


def test_hand_worked_small_statement() -> None:
    # 1-7 Jan 2024 (Mon-Sun). Opening 100.00.
    statement = _statement("tiny.pdf", dt.date(2024, 1, 1), dt.date(2024, 1, 7), "100.00",
                           "50.00", [
        (dt.date(2024, 1, 2), "SQUARE INC DEPOSIT", "200.00"),   # revenue
        (dt.date(2024, 1, 3), "CHECK 12", "-400.00"),            # -> -100.00
        (dt.date(2024, 1, 3), "OVERDRAFT ITEM FEE", "-35.00"),   # -> -135.00, 1 overdraft
        (dt.date(2024, 1, 4), "ONLINE TRANSFER FROM SAVINGS", "185.00"),  # -> 50.00, not revenue
        (dt.date(2024, 1, 5), "NSF FEE", "-36.00"),              # -> 14.00
        (dt.date(2024, 1, 5), "RETURNED ITEM ONDECK", "36.00"),  # same day: still 1 NSF event
    ])
    factors = analyze_statements([statement])["factors"]
    # Daily closes: 1st 100, 2nd 300, 3rd -135, 4th 50, 5th 50, 6th 50, 7th 50 = 465 / 7.
    assert factors["bank_average_daily_balance"] == D("66.43")
    assert factors["bank_negative_balance_days"] == 1
    assert factors["bank_lowest_daily_balance"] == D("-135.00")
    assert factors["bank_total_deposits"] == D("421.00")
    assert factors["bank_revenue"] == D("200.00")
    assert factors["bank_largest_deposit_share"] == D("0.4751")  # 200 / 421
    assert factors["bank_overdraft_count"] == 1 and factors["bank_nsf_count"] == 1
    assert factors["bank_all_statements_reconcile"] is True
    assert factors["bank_revenue_trend_slope"] is None


def test_unnamed_fixed_daily_and_weekly_debits_are_stacking() -> None:
    start = dt.date(2024, 4, 1)  # a Monday
    rows = []
    for offset in range(28):
        day = start + dt.timedelta(days=offset)
        if day.weekday() < 5:
            rows.append((day, f"ACH WEB {offset:03d}", "-99.00"))  # memo changes every day
        if day.weekday() == 3:
            rows.append((day, "PMT 55", "-500.00"))
        rows.append((day, "STRIPE TRANSFER", "1000.00"))
    rows.append((dt.date(2024, 4, 10), "PAYROLL GUSTO", "-500.00"))  # same amount, not financing
    statement = _statement("s.pdf", start, dt.date(2024, 4, 28), "0.00", "0.00", rows)
    factors = analyze_statements([statement])["factors"]
    positions = {p["name"]: p for p in factors["bank_stacking_positions"]}
    assert positions["recurring 99.00 daily"]["debit_count"] == 20
    assert positions["recurring 500.00 weekly"]["debit_count"] == 4
    assert factors["bank_stacking_position_count"] == 2
    assert factors["bank_stacking_total_debits"] == D("3980.00")  # 20 x 99 + 4 x 500
    assert factors["bank_stacking_funders"] == []


def test_consolidate_drops_overlap_and_reports_gaps() -> None:
    jan = _statement("jan.pdf", dt.date(2024, 1, 1), dt.date(2024, 1, 31), "0.00", "30.00", [
        (dt.date(2024, 1, 5), "DEPOSIT", "10.00"), (dt.date(2024, 1, 20), "COFFEE", "-5.00"),
        (dt.date(2024, 1, 20), "COFFEE", "-5.00"), (dt.date(2024, 1, 25), "DEPOSIT", "30.00")])
    # Mid-January to mid-February: repeats the last three January lines.
    overlap = _statement("mid.pdf", dt.date(2024, 1, 15), dt.date(2024, 2, 14), "10.00", "40.00", [
        (dt.date(2024, 1, 20), "COFFEE", "-5.00"), (dt.date(2024, 1, 20), "COFFEE", "-5.00"),
        (dt.date(2024, 1, 25), "DEPOSIT", "30.00"), (dt.date(2024, 2, 2), "DEPOSIT", "10.00")])
    april = _statement("apr.pdf", dt.date(2024, 4, 1), dt.date(2024, 4, 30), "40.00", "50.00", [
        (dt.date(2024, 4, 2), "DEPOSIT", "10.00")])
    outputs = [jsonable(analyze_statements([jan])), jsonable(analyze_statements([overlap, april]))]
    outputs.append(jsonable(analyze_statements([jan])))  # the same file analysed twice
    factors = BankStatementProcessor.consolidate(outputs)
    assert factors["bank_statement_count"] == 3
    assert factors["bank_transaction_count"] == 6  # 4 + 1 new in mid + 1 in April
    assert factors["bank_duplicate_transactions_dropped"] == 3
    assert factors["bank_total_deposits"] == D("60.00")
    assert factors["bank_total_withdrawals"] == D("10.00")  # both coffees kept
    assert factors["bank_month_gaps"] == ["2024-03"]
    assert factors["bank_months_contiguous"] is False
    assert factors["bank_months"] == ["2024-01", "2024-02", "2024-04"]


def test_consolidate_over_sample_exports_dedups_pdf_csv_and_ofx() -> None:
    truths = sample_statements()
    harbor_jan = truths[3]
    docs = [document("h1.pdf", render_pdf(harbor_jan), 1),
            document("h1.csv", render_csv_split(harbor_jan), 2)]
    result = BankStatementProcessor().execute(UW, docs)
    assert result.factors["bank_transaction_count"] == len(harbor_jan.transactions)
    assert result.factors["bank_duplicate_transactions_dropped"] == len(harbor_jan.transactions)


def test_a_lenders_category_order_does_not_depend_on_how_the_config_was_stored() -> None:
    # PostgreSQL's JSONB gives keys back in its own order: a lender's category must rank
    # the same (after the defaults, by name) whichever order its config arrives in.
    jan = _statement("jan.pdf", dt.date(2024, 1, 1), dt.date(2024, 1, 31), "0.00", "55.00", [
        (dt.date(2024, 1, 5), "OWNER DEPOSIT", "10.00"),
        (dt.date(2024, 1, 9), "ZZ HOLDINGS DEPOSIT", "20.00"),
        (dt.date(2024, 1, 12), "AA GRANT DEPOSIT", "25.00")])
    lender = {"zz_related_party": [r"\bZZ\b", r"\bOWNER\b"], "aa_grants": [r"\bAA\b"]}
    defaults = dict(BankStatementProcessor.CONFIG["revenue_exclusion_patterns"])
    orders = [defaults | lender, dict(sorted((defaults | lender).items())),
              dict(reversed((defaults | lender).items()))]
    results = [analyze_statements([jan], {"revenue_exclusion_patterns": exclusions})
               ["factors"]["bank_non_revenue_deposits_by_category"] for exclusions in orders]
    assert results[0] == {"owner_contribution": D("10.00"), "zz_related_party": D("20.00"),
                          "aa_grants": D("25.00")}
    assert results[1] == results[0] and results[2] == results[0]
    # The merge recomputes under the lender's rules, not the defaults.
    output = jsonable(analyze_statements([jan], {"revenue_exclusion_patterns": orders[2]}))
    merged = BankStatementProcessor.consolidate(
        [output], {"revenue_exclusion_patterns": orders[1]})
    assert merged["bank_non_revenue_deposits_by_category"] == results[0]
    assert merged["bank_revenue"] == D("0.00")


def test_unreadable_content_fails_permanently() -> None:
    result = BankStatementProcessor().execute(UW, [document("bad.pdf", b"%PDF-1.4 broken")])
    assert result.status is ExecutionStatus.FAILED
    assert result.error_code == "CORRUPT_DOCUMENT" and result.error_class == "permanent"
    result = BankStatementProcessor().execute(UW, [document("letter.pdf", b"x").with_changes(
        content=None)])
    assert result.error_code == "STATEMENT_CONTENT_MISSING"


def test_every_factor_the_processor_produces_is_declared(first_demo_result) -> None:  # type: ignore[no-untyped-def]
    """The factor dictionary (docs/factors.md, catalog column descriptions) covers every
    factor the bank statement processor writes, with a matching type."""
    from aura_dagster.domain.factor_dictionary import factor_dictionary
    from aura_dagster.domain.factors import value_matches

    _, result = first_demo_result
    declared = {e.name: e for e in factor_dictionary()
                if e.processor == BankStatementProcessor.PROCESSOR_ID}
    produced = jsonable(result.factors)
    assert set(produced) - set(declared) == set(), "undeclared factors: add them to FACTORS"
    for name, value in produced.items():
        assert value_matches(declared[name], value), (name, value)
