"""The vendor HTTP client against the real sandbox server on loopback."""

from __future__ import annotations

import email.utils
import socket
import time
from decimal import Decimal

import pytest
from pydantic import BaseModel

from aura_dagster.domain.processors.base import (
    CriticalProcessorError,
    ErrorClass,
    PermanentProcessorError,
    TemporaryProcessorError,
)
from aura_dagster.domain.processors.secretary_of_state import CompanySearchResponse
from aura_dagster.domain.processors.vendor_http import (
    API_KEY_HEADER,
    SANDBOX_DEFAULT_BASE_URL,
    VendorClient,
    VendorRateLimitedError,
    VendorSettings,
    parse_retry_after,
    resolve_settings,
)
from aura_dagster.sandbox import CLEAR_REPORT_PATH, OPENCORPORATES_SEARCH_PATH, SandboxServer
from aura_dagster_tests.domain.vendor_helpers import execution_context
from aura_dagster_tests.fixtures.sandbox import SANDBOX_API_KEY


def client_for(base_url: str, api_key: str | None = None, timeout: float = 2.0) -> VendorClient:
    return VendorClient("sandbox", VendorSettings(base_url, api_key, timeout))


def search(name: str) -> dict[str, str]:
    return {"q": name, "jurisdiction_code": "us_ca"}


class Health(BaseModel):
    status: str


# -- settings --------------------------------------------------------------------------------
def test_settings_from_env_read_prefixed_variables() -> None:
    env = {"AURA_CLEAR_BASE_URL": "https://clear.example", "AURA_CLEAR_API_KEY": "k1",
           "AURA_CLEAR_TIMEOUT_SECONDS": "4.5"}
    assert VendorSettings.from_env("AURA_CLEAR", "http://default", env) == VendorSettings(
        "https://clear.example", "k1", 4.5)


def test_settings_from_env_fall_back_to_defaults() -> None:
    assert VendorSettings.from_env("aura_clear_", "http://default", {}) == VendorSettings(
        "http://default", None, 10.0)


def test_resolve_settings_takes_non_secret_overrides_from_config() -> None:
    given = VendorSettings("http://given", "secret", 10.0)
    resolved = resolve_settings(given, "AURA_X", {"base_url": "http://cfg",
                                                  "request_timeout_seconds": 0.5})
    assert resolved == VendorSettings("http://cfg", "secret", 0.5)
    assert resolve_settings(given, "AURA_X", {"base_url": None}) == given


def test_resolve_settings_without_explicit_settings_reads_no_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The domain takes settings as arguments: a variable in the environment changes nothing."""
    monkeypatch.setenv("AURA_X_BASE_URL", "http://from-env")
    monkeypatch.setenv("AURA_X_API_KEY", "from-env")
    assert resolve_settings(None, "AURA_X", {}) == VendorSettings(
        SANDBOX_DEFAULT_BASE_URL, None, 10.0)


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= (parse_retry_after(in_a_minute) or 0) <= 60


# -- successful calls ------------------------------------------------------------------------
def test_get_model_validates_the_payload(sandbox_server: SandboxServer) -> None:
    client = client_for(sandbox_server.base_url)
    found = client.get_model(execution_context(), OPENCORPORATES_SEARCH_PATH,
                             search("Sunrise Bakery LLC"), CompanySearchResponse)
    assert found is not None
    # The payload has three companies; the sandbox, like OpenCorporates, filters by jurisdiction.
    assert [hit.company.company_number for hit in found.results.companies] == [
        "201607510123", "C4012877"]


def test_get_records_a_trace_per_call(sandbox_server: SandboxServer) -> None:
    ctx = execution_context()
    response = client_for(sandbox_server.base_url).get(ctx, "/health", {})
    assert response is not None and response.body == {"status": "ok"}
    assert [(t.decision_point, t.decision) for t in ctx.traces] == [("vendor_call", "200")]


def test_json_numbers_with_fractions_arrive_as_decimal(sandbox_server: SandboxServer) -> None:
    # Redwood's recorded report has one amount as a JSON number (23999.99), the rest as strings.
    response = client_for(sandbox_server.base_url).get(
        execution_context(), CLEAR_REPORT_PATH, {"name": "Redwood Auto Repair LLC"})
    assert response is not None
    amounts = [j["amount"] for j in response.body["report"]["judgments"]]  # type: ignore[index]
    assert amounts == ["4875.13", Decimal("23999.99")]
    assert isinstance(amounts[1], Decimal)


def test_api_key_header_is_sent(keyed_sandbox_server: SandboxServer) -> None:
    client = client_for(keyed_sandbox_server.base_url, SANDBOX_API_KEY)
    assert client.get_model(execution_context(), OPENCORPORATES_SEARCH_PATH,
                            search("Sunrise Bakery LLC"), CompanySearchResponse) is not None
    assert API_KEY_HEADER == "X-API-Key"


# -- error classification --------------------------------------------------------------------
def test_wrong_or_missing_api_key_is_critical(keyed_sandbox_server: SandboxServer) -> None:
    for key in ("wrong-key", None):
        with pytest.raises(CriticalProcessorError) as caught:
            client_for(keyed_sandbox_server.base_url, key).get(
                execution_context(), OPENCORPORATES_SEARCH_PATH, search("Sunrise Bakery LLC"))
        assert caught.value.code == "VENDOR_AUTH"
        assert caught.value.error_class is ErrorClass.CRITICAL


def test_503_is_temporary_unavailable(sandbox_server: SandboxServer) -> None:
    with pytest.raises(TemporaryProcessorError) as caught:
        client_for(sandbox_server.base_url).get(
            execution_context(), CLEAR_REPORT_PATH, {"name": "Outage Holdings Inc"})
    assert caught.value.code == "VENDOR_UNAVAILABLE"


def test_429_is_temporary_and_keeps_retry_after(sandbox_server: SandboxServer) -> None:
    with pytest.raises(VendorRateLimitedError) as caught:
        client_for(sandbox_server.base_url).get(
            execution_context(), CLEAR_REPORT_PATH, {"name": "Throttle Media LLC"})
    assert caught.value.code == "VENDOR_RATE_LIMITED"
    assert caught.value.error_class is ErrorClass.TEMPORARY
    assert caught.value.retry_after_seconds == 7.0


def test_404_is_none_when_accepted_else_permanent(sandbox_server: SandboxServer) -> None:
    client = client_for(sandbox_server.base_url)
    params = {"name": "Nowhere Ventures LLC", "state": "NV"}
    assert client.get(execution_context(), CLEAR_REPORT_PATH, params, not_found_ok=True) is None
    with pytest.raises(PermanentProcessorError) as caught:
        client.get(execution_context(), CLEAR_REPORT_PATH, params)
    assert caught.value.code == "VENDOR_NOT_FOUND"


def test_other_4xx_is_permanent(sandbox_server: SandboxServer) -> None:
    with pytest.raises(PermanentProcessorError) as caught:  # the sandbox answers 400 to no name
        client_for(sandbox_server.base_url).get(execution_context(), CLEAR_REPORT_PATH,
                                                {"name": " "})
    assert caught.value.code == "VENDOR_REJECTED"


def test_body_that_is_not_json_is_malformed(sandbox_server: SandboxServer) -> None:
    with pytest.raises(PermanentProcessorError) as caught:
        client_for(sandbox_server.base_url).get(
            execution_context(), CLEAR_REPORT_PATH, {"name": "Garbled Data Corp"})
    assert caught.value.code == "VENDOR_MALFORMED_PAYLOAD"
    assert "text/html" in caught.value.message


def test_json_of_the_wrong_shape_is_malformed(sandbox_server: SandboxServer) -> None:
    client = client_for(sandbox_server.base_url)
    with pytest.raises(PermanentProcessorError) as caught:
        client.get_model(execution_context(), OPENCORPORATES_SEARCH_PATH,
                         search("Garbled Data Corp"), CompanySearchResponse)
    assert caught.value.code == "VENDOR_MALFORMED_PAYLOAD"
    with pytest.raises(PermanentProcessorError):  # valid JSON, another model entirely
        client.get_model(execution_context(), "/health", {}, CompanySearchResponse)
    assert client.get_model(execution_context(), "/health", {}, Health) == Health(status="ok")


def test_connection_refused_is_temporary_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TemporaryProcessorError) as caught:
        client_for(f"http://127.0.0.1:{port}").get(execution_context(), "/health", {})
    assert caught.value.code == "VENDOR_UNAVAILABLE"


# -- time bounds -----------------------------------------------------------------------------
def test_request_timeout_gives_a_temporary_timeout(sandbox_server: SandboxServer) -> None:
    started = time.monotonic()
    with pytest.raises(TemporaryProcessorError) as caught:
        client_for(sandbox_server.base_url, timeout=0.2).get(
            execution_context(), CLEAR_REPORT_PATH, {"name": "Slowpoke Trading Co"})
    assert caught.value.code == "VENDOR_TIMEOUT"
    assert time.monotonic() - started < sandbox_server.slow_seconds / 2


def test_call_is_bounded_by_the_remaining_deadline(sandbox_server: SandboxServer) -> None:
    client = client_for(sandbox_server.base_url, timeout=10.0)
    ctx = execution_context(0.3)
    assert client.call_timeout(ctx) <= 0.3
    assert client.call_timeout(execution_context(60.0), request_timeout=1.5) == 1.5
    started = time.monotonic()
    with pytest.raises(TemporaryProcessorError) as caught:
        client.get(ctx, CLEAR_REPORT_PATH, {"name": "Slowpoke Trading Co"})
    assert caught.value.code == "VENDOR_TIMEOUT"
    assert time.monotonic() - started < sandbox_server.slow_seconds / 2


def test_no_request_is_sent_once_the_deadline_is_spent(fresh_sandbox_server: SandboxServer) -> None:
    with pytest.raises(TemporaryProcessorError) as caught:
        client_for(fresh_sandbox_server.base_url).get(execution_context(0.0), "/health", {})
    assert caught.value.code == "VENDOR_TIMEOUT"
    assert fresh_sandbox_server.request_count() == 0
