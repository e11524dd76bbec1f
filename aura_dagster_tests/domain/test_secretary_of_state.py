"""SecretaryOfStateProcessor through BaseProcessor.execute against the sandbox server.

Expected values are read off the recorded payloads
(aura_dagster/sandbox/payloads/opencorporates_*.json) at AS_OF = 2025-06-30.
"""

from __future__ import annotations

import time

from aura_dagster.domain.processors.base import ErrorClass, ExecutionStatus, ProcessorResult
from aura_dagster.domain.processors.secretary_of_state import (
    SecretaryOfStateProcessor,
    full_months_between,
    name_match_confidence,
    normalize_entity_type,
    normalize_status,
    split_business_name,
)
from aura_dagster.domain.processors.vendor_http import VendorSettings
from aura_dagster.sandbox import OPENCORPORATES_SEARCH_PATH, SandboxServer
from aura_dagster_tests.domain.vendor_helpers import AS_OF, underwriting
from aura_dagster_tests.fixtures.sandbox import SANDBOX_API_KEY


def run(settings: VendorSettings, name: str | None, state: str | None = None,
        **config: object) -> ProcessorResult:
    return SecretaryOfStateProcessor(settings).execute(underwriting(name, state), [], config)


def assert_failed(result: ProcessorResult, code: str, error_class: ErrorClass) -> None:
    assert (result.status, result.error_code, result.error_class) == (
        ExecutionStatus.FAILED, code, error_class), result.error_message


# -- matches ---------------------------------------------------------------------------------
def test_active_llc_in_its_home_state(vendor_settings: VendorSettings) -> None:
    result = run(vendor_settings, "Sunrise Bakery LLC", "CA")
    assert result.status is ExecutionStatus.COMPLETED
    assert result.factors == {
        "sos_registered": True,
        "sos_entity_name": "SUNRISE BAKERY LLC",
        "sos_entity_status": "active",
        "sos_good_standing": True,
        "sos_registration_date": "2016-03-14",
        # 2016-03-14 -> 2025-06-30: 9 years and 3 months, the 30th being past the 14th.
        "sos_time_in_business_months": 111,
        "sos_dissolution_date": None,
        "sos_entity_type": "llc",  # "Domestic Limited Liability Company"
        "sos_jurisdiction": "us_ca",
        "sos_company_number": "201607510123",
        "sos_match_confidence": 1.0,
        # The Nevada registration is filtered out by jurisdiction_code=us_ca.
        "sos_candidate_count": 2,
    }
    assert result.cost_cents == 25
    assert result.confidence == 1.0
    assert [e.evidence_type for e in result.evidence] == ["registry_record"]
    assert result.evidence[0].evidence_data["company_number"] == "201607510123"
    assert [c["company_number"] for c in result.output["candidates"]] == [
        "201607510123", "C4012877"]


def test_state_wording_and_corporation_type(vendor_settings: VendorSettings) -> None:
    factors = run(vendor_settings, "Harbor Freight Logistics Inc", "TX").factors
    assert factors["sos_entity_name"] == "HARBOR FREIGHT LOGISTICS, INC."
    assert factors["sos_entity_status"] == "active"  # Texas says "In Existence"
    assert factors["sos_good_standing"] is True
    assert factors["sos_entity_type"] == "corporation"  # "Domestic For-Profit Corporation"
    # 2009-11-02 -> 2025-06-30: 16 years minus 5 months = 187 months.
    assert factors["sos_time_in_business_months"] == 187
    assert factors["sos_match_confidence"] == 1.0


def test_dissolved_entity_is_registered_but_not_in_good_standing(
        vendor_settings: VendorSettings) -> None:
    factors = run(vendor_settings, "Golden Gate Dry Cleaners Inc", "CA").factors
    assert factors["sos_registered"] is True
    assert factors["sos_entity_status"] == "dissolved"
    assert factors["sos_good_standing"] is False
    assert factors["sos_dissolution_date"] == "2023-02-28"
    # 1998-07-21 -> 2025-06-30: 27 years minus 1 month = 323 months.
    assert factors["sos_time_in_business_months"] == 323


def test_without_a_state_the_live_home_registration_wins(vendor_settings: VendorSettings) -> None:
    # Both "SUNRISE BAKERY LLC" (CA active, NV revoked) match the name exactly.
    factors = run(vendor_settings, "Sunrise Bakery LLC").factors
    assert factors["sos_jurisdiction"] == "us_ca"
    assert factors["sos_candidate_count"] == 3


def test_not_found_is_a_completed_answer(vendor_settings: VendorSettings) -> None:
    result = run(vendor_settings, "Nowhere Ventures LLC", "NV")
    assert result.status is ExecutionStatus.COMPLETED
    assert result.factors == {"sos_registered": False, "sos_good_standing": False,
                              "sos_match_confidence": 0.0, "sos_candidate_count": 0}
    assert result.output["match"] is None


def test_a_match_below_the_configured_confidence_is_not_accepted(
        vendor_settings: VendorSettings) -> None:
    factors = run(vendor_settings, "Sunrise Bakery LLC", "CA", min_match_confidence=1.01).factors
    assert factors == {"sos_registered": False, "sos_good_standing": False,
                       "sos_match_confidence": 1.0, "sos_candidate_count": 2}


def test_missing_business_name_is_a_permanent_failure(vendor_settings: VendorSettings) -> None:
    result = run(vendor_settings, None, "CA")
    assert_failed(result, "MISSING_BUSINESS_NAME", ErrorClass.PERMANENT)
    assert not result.skipped


def test_runs_without_documents_and_skips_when_disabled(vendor_settings: VendorSettings) -> None:
    processor = SecretaryOfStateProcessor(vendor_settings)
    assert processor.should_execute([], processor.CONFIG).should_run
    result = processor.execute(underwriting("Sunrise Bakery LLC", "CA"), [], {"enabled": False})
    assert result.skipped and result.status is ExecutionStatus.COMPLETED


def test_settings_from_an_environment_mapping(sandbox_server: SandboxServer) -> None:
    environ = {"AURA_OPENCORPORATES_BASE_URL": sandbox_server.base_url}
    settings = VendorSettings.from_env("AURA_OPENCORPORATES", "http://unused", environ)
    result = SecretaryOfStateProcessor(settings).execute(
        underwriting("Sunrise Bakery LLC", "CA"), [])
    assert result.factors["sos_company_number"] == "201607510123"


# -- vendor failures -------------------------------------------------------------------------
def test_slow_vendor_hits_the_per_call_timeout(vendor_settings: VendorSettings) -> None:
    started = time.monotonic()
    result = run(vendor_settings, "Slowpoke Trading Co", "CA", request_timeout_seconds=0.3)
    assert_failed(result, "VENDOR_TIMEOUT", ErrorClass.TEMPORARY)
    assert result.retryable
    assert time.monotonic() - started < 1.5


def test_slow_vendor_is_cut_by_the_processor_deadline(vendor_settings: VendorSettings) -> None:
    # The request timeout (2 s) is longer than the processor's 0.4 s: the deadline decides.
    # Whichever fires first, the client bounded by ctx.remaining() or execute's own wait,
    # the result is a retryable timeout well before the vendor answers.
    started = time.monotonic()
    result = run(vendor_settings, "Slowpoke Trading Co", "CA", timeout_seconds=0.4)
    elapsed = time.monotonic() - started
    assert (result.status, result.error_code) in {(ExecutionStatus.TIMEOUT, "TIMEOUT"),
                                                  (ExecutionStatus.FAILED, "VENDOR_TIMEOUT")}
    assert result.error_class is ErrorClass.TEMPORARY and result.retryable
    assert elapsed < 1.2


def test_503_is_a_temporary_failure(vendor_settings: VendorSettings) -> None:
    assert_failed(run(vendor_settings, "Outage Holdings Inc", "CA"), "VENDOR_UNAVAILABLE",
                  ErrorClass.TEMPORARY)


def test_429_is_a_temporary_failure_with_retry_after(vendor_settings: VendorSettings) -> None:
    result = run(vendor_settings, "Throttle Media LLC", "CA")
    assert_failed(result, "VENDOR_RATE_LIMITED", ErrorClass.TEMPORARY)
    assert "retry after 7s" in (result.error_message or "")


def test_malformed_payload_is_permanent(vendor_settings: VendorSettings) -> None:
    assert_failed(run(vendor_settings, "Garbled Data Corp", "CA"), "VENDOR_MALFORMED_PAYLOAD",
                  ErrorClass.PERMANENT)


def test_wrong_api_key_is_critical(keyed_sandbox_server: SandboxServer) -> None:
    wrong = VendorSettings(keyed_sandbox_server.base_url, "not-the-key", 2.0)
    assert_failed(run(wrong, "Sunrise Bakery LLC", "CA"), "VENDOR_AUTH", ErrorClass.CRITICAL)
    right = VendorSettings(keyed_sandbox_server.base_url, SANDBOX_API_KEY, 2.0)
    assert run(right, "Sunrise Bakery LLC", "CA").status is ExecutionStatus.COMPLETED


def test_flaky_vendor_fails_once_then_answers(fresh_sandbox_server: SandboxServer) -> None:
    settings = VendorSettings(fresh_sandbox_server.base_url, None, 2.0)
    first = run(settings, "Flaky Fabrication LLC", "CA")
    assert_failed(first, "VENDOR_UNAVAILABLE", ErrorClass.TEMPORARY)
    second = run(settings, "Flaky Fabrication LLC", "CA")
    assert second.status is ExecutionStatus.COMPLETED
    assert second.factors["sos_company_number"] == "201831210777"
    assert fresh_sandbox_server.request_count(OPENCORPORATES_SEARCH_PATH) == 2


# -- pure helpers ----------------------------------------------------------------------------
def test_name_normalisation_and_confidence() -> None:
    assert split_business_name("Acme Widgets, L.L.C.") == ("ACME WIDGETS", "llc")
    assert split_business_name("Sunrise Bakery & Cafe, Inc.") == ("SUNRISE BAKERY AND CAFE", "corp")
    assert name_match_confidence("Sunrise Bakery", "SUNRISE BAKERY LLC") == 1.0
    assert name_match_confidence("Sunrise Bakery LLC", "Sunrise Bakery Inc") == 0.9
    # "SUNRISE BAKERY" (14 chars) inside "SUNRISE BAKERY AND CAFE" (23): 0.9 * 28/37 = 0.68
    assert name_match_confidence("Sunrise Bakery LLC", "SUNRISE BAKERY & CAFE, INC.") == 0.68


def test_status_and_type_normalisation() -> None:
    assert normalize_status("Suspended - FTB", True) == "suspended"
    assert normalize_status("Inactive", None) == "inactive"
    assert normalize_status("Active", True) == "inactive"
    assert normalize_status(None, None) == "unknown"
    assert normalize_entity_type("Foreign Limited-Liability Company") == "llc"
    assert normalize_entity_type("Domestic Limited Partnership") == "lp"
    assert normalize_entity_type(None) is None


def test_full_months_between() -> None:
    assert full_months_between(AS_OF.replace(day=1), AS_OF) == 0
    assert full_months_between(AS_OF, AS_OF.replace(year=2026)) == 12
    assert full_months_between(AS_OF.replace(year=2026), AS_OF) == 0


def test_consolidate_keeps_the_latest_lookup() -> None:
    outputs = [{"factors": {"sos_registered": True, "sos_entity_status": "active"}},
               {"factors": {"sos_registered": False}}]
    assert SecretaryOfStateProcessor.consolidate(outputs) == {"sos_registered": False}
