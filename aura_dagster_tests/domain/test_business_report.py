"""ClearBusinessReportProcessor through BaseProcessor.execute against the sandbox server.

Expected values are worked out from aura_dagster/sandbox/payloads/clear_*.json.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from aura_dagster.domain.processors.base import ErrorClass, ExecutionStatus, ProcessorResult
from aura_dagster.domain.processors.business_report import (
    ClearBusinessReportProcessor,
    UccFiling,
    add_months,
    ucc_chains,
)
from aura_dagster.domain.processors.vendor_http import VendorSettings
from aura_dagster.sandbox import CLEAR_REPORT_PATH, SandboxServer
from aura_dagster_tests.domain.vendor_helpers import AS_OF, money, underwriting


def run(settings: VendorSettings, name: str | None, state: str | None = None,
        as_of: dt.date = AS_OF, **config: object) -> ProcessorResult:
    return ClearBusinessReportProcessor(settings).execute(underwriting(name, state, as_of), [],
                                                          config)


def assert_failed(result: ProcessorResult, code: str, error_class: ErrorClass) -> None:
    assert (result.status, result.error_code, result.error_class) == (
        ExecutionStatus.FAILED, code, error_class), result.error_message


def test_liens_judgments_bankruptcies_and_ucc_chains(vendor_settings: VendorSettings) -> None:
    result = run(vendor_settings, "Redwood Auto Repair LLC", "CA")
    assert result.status is ExecutionStatus.COMPLETED
    factors = dict(result.factors)
    # Liens: IRS 18,450.22 released 2023-01-19; FTB 6,210.50 and mechanics 12,000.00 open.
    assert money(factors.pop("biz_open_lien_amount")) == Decimal("6210.50") + Decimal("12000.00")
    # Judgments: Capital One satisfied 2021; Bay Area Parts 23,999.99 open.
    assert money(factors.pop("biz_open_judgment_amount")) == Decimal("23999.99")
    assert factors == {
        "biz_report_found": True,
        "biz_report_id": "CLR-BR-20250602-000409",
        "biz_lien_count": 3,
        "biz_open_lien_count": 2,
        "biz_judgment_count": 2,
        "biz_open_judgment_count": 1,
        # Chapter 11 of 2019 dismissed 2020-06-30; Chapter 11 of 2024-12-02 still open.
        "biz_bankruptcy_count": 2,
        "biz_active_bankruptcy": True,
        "biz_most_recent_bankruptcy_date": "2024-12-02",
        "biz_months_since_bankruptcy": 6,
        # Five UCC-1 chains. Active: Ally (2016, continued 2021 -> lapses 2026-08-10, assigned
        # to Ally Financial 2022), Forward Financing 2024 (amended) and 2025. Not active:
        # Kapitus (terminated 2023) and Navitas (2017, lapsed 2022-03-03).
        "biz_ucc_filing_count": 5,
        "biz_active_ucc_count": 3,
        "biz_ucc_secured_parties": ["Ally Financial Inc.", "Forward Financing LLC"],
        "biz_risk_flags": ["ACTIVE_BANKRUPTCY", "MULTIPLE_FUNDERS", "TAX_LIEN_OPEN"],
        "biz_high_severity_flag_count": 1,
    }
    assert result.cost_cents == 150
    chains = {c["original_number"]: c for c in result.output["report"]["ucc_chains"]}
    assert chains["16-7532198841"]["lapse_date"] == "2026-08-10"
    assert chains["16-7532198841"]["filings"] == ["16-7532198841", "21-7790012350",
                                                  "22-7801145528"]
    assert [e.evidence_type for e in result.evidence] == ["business_report"]


def test_the_same_report_judged_at_an_earlier_date(vendor_settings: VendorSettings) -> None:
    factors = run(vendor_settings, "Redwood Auto Repair LLC", "CA", dt.date(2022, 6, 30)).factors
    # Only the IRS lien was filed by then, and not yet released.
    assert (factors["biz_lien_count"], factors["biz_open_lien_count"]) == (1, 1)
    assert money(factors["biz_open_lien_amount"]) == Decimal("18450.22")
    assert (factors["biz_judgment_count"], factors["biz_open_judgment_count"]) == (1, 0)
    assert money(factors["biz_open_judgment_amount"]) == Decimal("0")
    assert (factors["biz_bankruptcy_count"], factors["biz_active_bankruptcy"]) == (1, False)
    assert factors["biz_most_recent_bankruptcy_date"] == "2019-10-04"
    # Ally (continued) and Kapitus (terminated only in 2023) active; Navitas lapsed 2022-03-03.
    assert factors["biz_active_ucc_count"] == 2
    assert factors["biz_ucc_secured_parties"] == ["Ally Financial Inc.", "Kapitus LLC"]


def test_history_that_is_no_longer_open(vendor_settings: VendorSettings) -> None:
    factors = run(vendor_settings, "Harbor Freight Logistics Inc", "TX").factors
    assert factors["biz_lien_count"] == 1 and factors["biz_open_lien_count"] == 0
    assert money(factors["biz_open_lien_amount"]) == Decimal("0")
    # Comerica 2014 lapsed 2019; Ascentium 2021 terminated 2024; Texas Capital 2023 active.
    assert (factors["biz_ucc_filing_count"], factors["biz_active_ucc_count"]) == (3, 1)
    assert factors["biz_ucc_secured_parties"] == ["Texas Capital Bank"]
    assert factors["biz_bankruptcy_count"] == 0
    assert factors["biz_active_bankruptcy"] is False
    assert factors["biz_most_recent_bankruptcy_date"] is None
    assert factors["biz_risk_flags"] == []


def test_dissolved_entity_carries_its_flag(vendor_settings: VendorSettings) -> None:
    factors = run(vendor_settings, "Golden Gate Dry Cleaners Inc", "CA").factors
    assert factors["biz_risk_flags"] == ["INACTIVE_ENTITY"]
    assert factors["biz_high_severity_flag_count"] == 1
    assert factors["biz_active_ucc_count"] == 0


def test_not_found_is_a_completed_answer_without_counts(vendor_settings: VendorSettings) -> None:
    for name, state in (("Nowhere Ventures LLC", "NV"), ("Sunrise Bakery LLC", "TX")):
        result = run(vendor_settings, name, state)
        assert result.status is ExecutionStatus.COMPLETED
        assert result.factors == {"biz_report_found": False}


def test_missing_business_name_is_a_permanent_failure(vendor_settings: VendorSettings) -> None:
    assert_failed(run(vendor_settings, "  "), "MISSING_BUSINESS_NAME", ErrorClass.PERMANENT)


def test_slow_vendor_hits_the_per_call_timeout(vendor_settings: VendorSettings) -> None:
    started = time.monotonic()
    result = run(vendor_settings, "Slowpoke Trading Co", "CA", request_timeout_seconds=0.3)
    assert_failed(result, "VENDOR_TIMEOUT", ErrorClass.TEMPORARY)
    assert time.monotonic() - started < 1.5


def test_slow_vendor_is_cut_by_the_processor_deadline(vendor_settings: VendorSettings) -> None:
    started = time.monotonic()
    result = run(vendor_settings, "Slowpoke Trading Co", "CA", timeout_seconds=0.4)
    assert result.status in {ExecutionStatus.TIMEOUT, ExecutionStatus.FAILED}
    assert result.error_code in {"TIMEOUT", "VENDOR_TIMEOUT"}
    assert result.retryable
    assert time.monotonic() - started < 1.2


def test_503_and_429_are_temporary(vendor_settings: VendorSettings) -> None:
    assert_failed(run(vendor_settings, "Outage Holdings Inc", "CA"), "VENDOR_UNAVAILABLE",
                  ErrorClass.TEMPORARY)
    assert_failed(run(vendor_settings, "Throttle Media LLC", "CA"), "VENDOR_RATE_LIMITED",
                  ErrorClass.TEMPORARY)


def test_html_instead_of_json_is_permanent(vendor_settings: VendorSettings) -> None:
    assert_failed(run(vendor_settings, "Garbled Data Corp", "CA"), "VENDOR_MALFORMED_PAYLOAD",
                  ErrorClass.PERMANENT)


def test_wrong_api_key_is_critical(keyed_sandbox_server: SandboxServer) -> None:
    wrong = VendorSettings(keyed_sandbox_server.base_url, "not-the-key", 2.0)
    assert_failed(run(wrong, "Sunrise Bakery LLC", "CA"), "VENDOR_AUTH", ErrorClass.CRITICAL)


def test_flaky_vendor_fails_once_then_answers(fresh_sandbox_server: SandboxServer) -> None:
    settings = VendorSettings(fresh_sandbox_server.base_url, None, 2.0)
    assert_failed(run(settings, "Flaky Fabrication LLC", "CA"), "VENDOR_UNAVAILABLE",
                  ErrorClass.TEMPORARY)
    second = run(settings, "Flaky Fabrication LLC", "CA")
    assert second.status is ExecutionStatus.COMPLETED
    assert second.factors["biz_ucc_secured_parties"] == ["Balboa Capital Corporation"]
    assert fresh_sandbox_server.request_count(CLEAR_REPORT_PATH) == 2


# -- UCC rules ---------------------------------------------------------------------------------
def filing(kind: str, number: str, day: str, original: str | None = None,
           party: str | None = None) -> UccFiling:
    return UccFiling(filing_type=kind, filing_number=number, filing_date=dt.date.fromisoformat(day),
                     original_filing_number=original, secured_party=party)


def test_a_continuation_outside_the_six_month_window_does_not_extend() -> None:
    filings = [filing("UCC-1", "A", "2018-01-10", party="Bank"),
               filing("UCC-3 CONTINUATION", "B", "2022-05-01", original="A"),  # 8 months early
               filing("UCC-1", "C", "2018-01-10", party="Other"),
               filing("UCC-3 CONTINUATION", "D", "2022-09-01", original="C")]  # 4 months before
    chains = {c.original_number: c for c in ucc_chains(filings, AS_OF)}
    assert chains["A"].lapse_date == dt.date(2023, 1, 10) and not chains["A"].active_at(AS_OF)
    assert chains["C"].lapse_date == dt.date(2028, 1, 10) and chains["C"].active_at(AS_OF)


def test_an_amendment_whose_original_is_missing_starts_its_own_chain() -> None:
    chains = ucc_chains([filing("UCC-3 AMENDMENT", "X2", "2024-02-01", original="X1",
                                party="Lender")], AS_OF)
    assert [(c.original_number, c.filed, c.active_at(AS_OF)) for c in chains] == [
        ("X1", dt.date(2024, 2, 1), True)]


def test_filings_after_as_of_are_ignored() -> None:
    assert ucc_chains([filing("UCC-1", "F", "2025-07-01", party="Later")], AS_OF) == []


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(dt.date(2020, 2, 29), 12) == dt.date(2021, 2, 28)
    assert add_months(dt.date(2024, 8, 31), -6) == dt.date(2024, 2, 29)
