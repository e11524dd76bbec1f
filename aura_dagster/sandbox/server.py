"""A real HTTP server on loopback that plays both business-data vendors.

Paths (relative to `SandboxServer.base_url`, which is the processors' vendor base URL):

- `GET /opencorporates/v0.4/companies/search?q=NAME&jurisdiction_code=us_ca`
  OpenCorporates company search: `{"results": {"companies": [{"company": {...}}]}}`,
  filtered by `jurisdiction_code` like the real API; an unknown name gives no companies.
- `GET /clear/v1/business-reports?name=NAME&state=CA`
  a business risk report `{"report": {...}}`; an unknown name (or another state) gives 404.
- `GET /health` -> `{"status": "ok"}`.

Answers are the recorded payloads in `payloads/`, except for the misbehaving sample
businesses (see `SANDBOX_BUSINESSES`). When started with an `api_key`, every request
must carry it in the `X-API-Key` header, otherwise 401.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aura_dagster.sandbox.businesses import (
    RETRY_AFTER_SECONDS,
    Behaviour,
    SandboxBusiness,
    find_business,
)

OPENCORPORATES_SEARCH_PATH = "/opencorporates/v0.4/companies/search"
CLEAR_REPORT_PATH = "/clear/v1/business-reports"
HEALTH_PATH = "/health"
API_KEY_HEADER = "X-API-Key"


def load_payload(vendor: str, slug: str) -> dict[str, Any] | None:
    """The recorded payload `payloads/{vendor}_{slug}.json`, or None when there is none."""
    resource = resources.files("aura_dagster.sandbox").joinpath("payloads", f"{vendor}_{slug}.json")
    if not resource.is_file():
        return None
    return json.loads(resource.read_text(encoding="utf-8"))


class _VendorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a slow handler must not hold up stop()

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox


class _Handler(BaseHTTPRequestHandler):
    server: _VendorHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.sandbox.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        sandbox = self.server.sandbox
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        sandbox._record(url.path)
        if url.path == HEALTH_PATH:
            return self._json(HTTPStatus.OK, {"status": "ok"})
        if sandbox.api_key is not None and self.headers.get(API_KEY_HEADER) != sandbox.api_key:
            return self._json(HTTPStatus.UNAUTHORIZED, {"error": "invalid or missing API key"})
        if url.path == OPENCORPORATES_SEARCH_PATH:
            return self._vendor("opencorporates", params.get("q", ""), params)
        if url.path == CLEAR_REPORT_PATH:
            return self._vendor("clear", params.get("name", ""), params)
        return self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {url.path}"})

    # -- vendors ---------------------------------------------------------------------------
    def _vendor(self, vendor: str, name: str, params: Mapping[str, str]) -> None:
        if not name.strip():
            return self._json(HTTPStatus.BAD_REQUEST, {"error": "a business name is required"})
        sandbox = self.server.sandbox
        business = find_business(name)
        behaviour = business.behaviour if business else Behaviour.NOT_FOUND
        if behaviour is Behaviour.SLOW and sandbox._stopping.wait(sandbox.slow_seconds):
            return  # the server is stopping: drop the request
        if behaviour is Behaviour.UNAVAILABLE or (
                behaviour is Behaviour.FLAKY and sandbox._first_request(vendor, business)):
            return self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "upstream unavailable"})
        if behaviour is Behaviour.RATE_LIMITED:
            return self._json(HTTPStatus.TOO_MANY_REQUESTS, {"error": "rate limit exceeded"},
                              headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if behaviour is Behaviour.MALFORMED and vendor == "clear":
            return self._send(HTTPStatus.OK, b"<html><body>Service temporarily moved</body></html>",
                              "text/html; charset=utf-8")
        payload = load_payload(vendor, business.slug) if business else None
        if vendor == "opencorporates":
            jurisdiction = params.get("jurisdiction_code")
            return self._json(HTTPStatus.OK, _search_result(payload, jurisdiction))
        state = params.get("state")
        if payload is None or (state and business and state.upper() != business.state):
            return self._json(HTTPStatus.NOT_FOUND, {"error": "no report for this subject"})
        return self._json(HTTPStatus.OK, payload)

    # -- responses -------------------------------------------------------------------------
    def _json(self, status: HTTPStatus, body: Any,
              headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str,
              headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timed out) before the answer: normal for SLOW


def _search_result(payload: dict[str, Any] | None, jurisdiction: str | None) -> dict[str, Any]:
    """OpenCorporates search answer, filtered by jurisdiction like the real API."""
    if payload is None:
        payload = {"api_version": "0.4", "results": {"companies": []}}
    results = payload.get("results")
    if jurisdiction and isinstance(results, dict) and isinstance(results.get("companies"), list):
        companies = [c for c in results["companies"]
                     if c.get("company", {}).get("jurisdiction_code") == jurisdiction.lower()]
        results = results | {"companies": companies, "total_count": len(companies),
                             "page": 1, "per_page": 30, "total_pages": 1 if companies else 0}
        payload = payload | {"results": results}
    return payload


class SandboxServer:
    """Serves the vendor sandbox from a background thread; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                 slow_seconds: float = 3.0, *, verbose: bool = False) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.slow_seconds = slow_seconds
        self.verbose = verbose
        self._httpd: _VendorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._paths: list[str] = []
        self._seen: set[tuple[str, str]] = set()  # (vendor, slug) already answered once
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the sandbox server is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _VendorHTTPServer((self.host, self.port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="sandbox-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Foreground mode (`python -m aura_dagster.sandbox`)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # releases SLOW handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None
        self._thread = None

    def request_count(self, path_prefix: str | None = None) -> int:
        """Requests received so far (all, or those whose path starts with `path_prefix`)."""
        with self._lock:
            return sum(1 for p in self._paths if path_prefix is None or p.startswith(path_prefix))

    def reset(self) -> None:
        """Forget request counts and which FLAKY businesses already failed once."""
        with self._lock:
            self._paths.clear()
            self._seen.clear()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------------
    def _record(self, path: str) -> None:
        with self._lock:
            self._paths.append(path)

    def _first_request(self, vendor: str, business: SandboxBusiness | None) -> bool:
        key = (vendor, business.slug if business else "")
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True
