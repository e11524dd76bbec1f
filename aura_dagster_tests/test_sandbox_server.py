"""The vendor sandbox server itself: routes, behaviours, keys, counters, lifecycle."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

import httpx
import pytest

from aura_dagster.sandbox import (
    CLEAR_REPORT_PATH,
    OPENCORPORATES_SEARCH_PATH,
    SANDBOX_BUSINESSES,
    Behaviour,
    SandboxServer,
    business_named,
)
from aura_dagster.sandbox.businesses import lookup_key
from aura_dagster.sandbox.server import load_payload


def oc(server: SandboxServer, name: str, jurisdiction: str | None = "us_ca",
       **headers: str) -> httpx.Response:
    params = {"q": name} | ({"jurisdiction_code": jurisdiction} if jurisdiction else {})
    return httpx.get(server.base_url + OPENCORPORATES_SEARCH_PATH, params=params,
                     headers=headers, timeout=5)


def clear(server: SandboxServer, name: str, state: str | None = None) -> httpx.Response:
    params = {"name": name} | ({"state": state} if state else {})
    return httpx.get(server.base_url + CLEAR_REPORT_PATH, params=params, timeout=5)


def test_catalogue_covers_every_behaviour_with_its_payloads() -> None:
    assert {b.behaviour for b in SANDBOX_BUSINESSES} == set(Behaviour)
    assert len({lookup_key(b.name) for b in SANDBOX_BUSINESSES}) == len(SANDBOX_BUSINESSES)
    for business in SANDBOX_BUSINESSES:
        answers = business.behaviour in {Behaviour.OK, Behaviour.SLOW, Behaviour.FLAKY}
        assert (load_payload("opencorporates", business.slug) is not None) == (
            answers or business.behaviour is Behaviour.MALFORMED), business.name
        assert (load_payload("clear", business.slug) is not None) == answers, business.name
    assert business_named("redwood auto repair, llc").slug == "redwood_auto"
    with pytest.raises(KeyError):
        business_named("Unknown Co")


def test_search_filters_by_jurisdiction(sandbox_server: SandboxServer) -> None:
    home = oc(sandbox_server, "Sunrise Bakery LLC").json()["results"]
    assert [c["company"]["jurisdiction_code"] for c in home["companies"]] == ["us_ca", "us_ca"]
    assert home["total_count"] == 2
    everywhere = oc(sandbox_server, "Sunrise Bakery LLC", None).json()["results"]
    assert everywhere["total_count"] == 3


def test_unknown_business(sandbox_server: SandboxServer) -> None:
    assert oc(sandbox_server, "Nowhere Ventures LLC", "us_nv").json()["results"]["companies"] == []
    assert clear(sandbox_server, "Nowhere Ventures LLC", "NV").status_code == 404
    assert clear(sandbox_server, "Sunrise Bakery LLC", "NV").status_code == 404  # wrong state
    assert clear(sandbox_server, "Sunrise Bakery LLC", "CA").json()["report"]["report_id"] == (
        "CLR-BR-20250602-000118")


def test_misbehaving_businesses(sandbox_server: SandboxServer) -> None:
    assert oc(sandbox_server, "Outage Holdings Inc").status_code == 503
    limited = clear(sandbox_server, "Throttle Media LLC")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    garbled = clear(sandbox_server, "Garbled Data Corp")
    assert garbled.status_code == 200 and garbled.headers["Content-Type"].startswith("text/html")
    assert "company_number" not in oc(sandbox_server, "Garbled Data Corp").text


def test_flaky_fails_once_per_vendor_until_reset(fresh_sandbox_server: SandboxServer) -> None:
    server = fresh_sandbox_server
    assert [oc(server, "Flaky Fabrication LLC").status_code for _ in range(2)] == [503, 200]
    assert [clear(server, "Flaky Fabrication LLC").status_code for _ in range(2)] == [503, 200]
    server.reset()
    assert server.request_count() == 0
    assert oc(server, "Flaky Fabrication LLC").status_code == 503


def test_request_counts_by_path_prefix(fresh_sandbox_server: SandboxServer) -> None:
    server = fresh_sandbox_server
    oc(server, "Sunrise Bakery LLC")
    clear(server, "Sunrise Bakery LLC")
    clear(server, "Redwood Auto Repair LLC")
    assert server.request_count() == 3
    assert server.request_count("/clear/") == 2
    assert server.request_count(OPENCORPORATES_SEARCH_PATH) == 1


def test_api_key_is_required_when_configured(keyed_sandbox_server: SandboxServer) -> None:
    server = keyed_sandbox_server
    assert oc(server, "Sunrise Bakery LLC").status_code == 401
    assert oc(server, "Sunrise Bakery LLC", **{"X-API-Key": "wrong"}).status_code == 401
    with_key = oc(server, "Sunrise Bakery LLC", **{"X-API-Key": server.api_key or ""})
    assert with_key.status_code == 200
    assert httpx.get(server.base_url + "/health").status_code == 200  # health needs no key


def test_slow_business_answers_late_and_stop_does_not_wait_for_it() -> None:
    server = SandboxServer(slow_seconds=0.3).start()
    started = time.monotonic()
    assert clear(server, "Slowpoke Trading Co").status_code == 200
    assert time.monotonic() - started >= 0.3

    slow_server = SandboxServer(slow_seconds=30).start()
    caller = threading.Thread(target=_call_ignoring_errors, args=(slow_server,), daemon=True)
    caller.start()
    time.sleep(0.2)  # the request is now parked in the handler
    started = time.monotonic()
    slow_server.stop()
    server.stop()
    assert time.monotonic() - started < 2.0


def _call_ignoring_errors(server: SandboxServer) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server goes away mid-request
        clear(server, "Slowpoke Trading Co")


def test_lifecycle_and_base_url() -> None:
    server = SandboxServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        base_url = server.base_url
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(base_url + "/health").json() == {"status": "ok"}
        assert httpx.get(base_url + "/nowhere").status_code == 404
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/health", timeout=1)


def test_module_runs_in_the_foreground() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "aura_dagster.sandbox", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("vendor sandbox on http://127.0.0.1:")
        base_url = first_line.split()[3]
        assert httpx.get(base_url + "/health", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
