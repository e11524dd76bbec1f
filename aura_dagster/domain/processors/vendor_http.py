"""The one HTTP client layer for external business-data vendors.

Every vendor call goes through `VendorClient.get`: it sends the API key header,
bounds the call by both the configured request timeout and the processor's
remaining deadline, and turns every transport or HTTP problem into a processor
error of the right class (seed 003), so the engine knows whether retrying helps:

- timeout, or the deadline already spent: Temporary, VENDOR_TIMEOUT
- connection refused / reset, 5xx: Temporary, VENDOR_UNAVAILABLE
- 429: VendorRateLimitedError (Temporary, keeps Retry-After), VENDOR_RATE_LIMITED
- 401 / 403: Critical, VENDOR_AUTH
- 404 when the caller does not accept it: Permanent, VENDOR_NOT_FOUND
- other 4xx, unexpected status: Permanent, VENDOR_REJECTED
- body not JSON, or not the expected shape: Permanent, VENDOR_MALFORMED_PAYLOAD
"""

from __future__ import annotations

import email.utils
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from aura_dagster.domain.processors.base import (
    DEADLINE_SLACK_SECONDS,
    VENDOR_TIMEOUT,
    CriticalProcessorError,
    ExecutionContext,
    PermanentProcessorError,
    TemporaryProcessorError,
)

API_KEY_HEADER = "X-API-Key"
# Where `python -m aura_dagster.sandbox` listens by default; production sets *_BASE_URL.
SANDBOX_DEFAULT_BASE_URL = "http://127.0.0.1:8787"
# Below this, a call cannot complete anyway: fail fast as a timeout instead of sending it.
MIN_CALL_SECONDS = DEADLINE_SLACK_SECONDS

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class VendorSettings:
    """Where a vendor API lives and how to authenticate; the key never goes into config."""

    base_url: str
    api_key: str | None
    request_timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, prefix: str, default_base_url: str,
                 environ: Mapping[str, str]) -> VendorSettings:
        """Read `{PREFIX}_BASE_URL`, `{PREFIX}_API_KEY` and `{PREFIX}_TIMEOUT_SECONDS` from the
        mapping the caller hands over (the domain never reads the process environment)."""
        env = environ
        prefix = prefix.upper().rstrip("_")
        timeout = env.get(f"{prefix}_TIMEOUT_SECONDS")
        return cls(
            base_url=env.get(f"{prefix}_BASE_URL") or default_base_url,
            api_key=env.get(f"{prefix}_API_KEY") or None,
            request_timeout_seconds=float(timeout) if timeout else 10.0,
        )


class VendorRateLimitedError(TemporaryProcessorError):
    """A 429: temporary, and the vendor may say when to come back."""

    def __init__(self, message: str, *, retry_after_seconds: float | None) -> None:
        super().__init__("VENDOR_RATE_LIMITED", message)
        self.retry_after_seconds = retry_after_seconds


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class VendorResponse:
    """A successful call: the decoded JSON body (floats as Decimal) and call facts."""

    status_code: int
    body: object
    elapsed_ms: int


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA bundle (several ms
    of CPU), which a client per call otherwise repeats. SSLContext is safe to share."""
    return httpx.create_ssl_context()


class VendorClient:
    """GETs JSON from one vendor; `vendor` names it in error messages and traces."""

    def __init__(self, vendor: str, settings: VendorSettings) -> None:
        self.vendor = vendor
        self.settings = settings

    def url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    def call_timeout(self, ctx: ExecutionContext, request_timeout: float | None = None) -> float:
        """The per-call bound: the request timeout, never beyond the processor's deadline."""
        limit = request_timeout if request_timeout is not None else (
            self.settings.request_timeout_seconds)
        return min(float(limit), ctx.remaining())

    def get(self, ctx: ExecutionContext, path: str, params: Mapping[str, str], *,
            request_timeout: float | None = None,
            not_found_ok: bool = False) -> VendorResponse | None:
        """GET `path`; None for a 404 when `not_found_ok`, otherwise a response or an error."""
        timeout = self.call_timeout(ctx, request_timeout)
        if timeout < MIN_CALL_SECONDS:
            raise TemporaryProcessorError(
                VENDOR_TIMEOUT, f"{self.vendor}: no time left before the processor deadline")
        headers = {"Accept": "application/json"}
        if self.settings.api_key:
            headers[API_KEY_HEADER] = self.settings.api_key
        started = time.monotonic()
        try:
            # A client per call (its timeout is the call's), on the process's TLS context.
            with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                              verify=tls_context()) as client:
                response = client.get(self.url(path), params=dict(params), headers=headers)
        except httpx.TimeoutException as exc:
            self._trace(ctx, path, "timeout", started)
            raise TemporaryProcessorError(
                VENDOR_TIMEOUT, f"{self.vendor}: no answer within {timeout:.2f}s") from exc
        except httpx.TransportError as exc:
            self._trace(ctx, path, "unreachable", started)
            raise TemporaryProcessorError(
                "VENDOR_UNAVAILABLE", f"{self.vendor}: {type(exc).__name__}: {exc}") from exc
        self._trace(ctx, path, str(response.status_code), started)
        status = response.status_code
        if status == 404 and not_found_ok:
            return None
        self._raise_for_status(response)
        return VendorResponse(status, self._decode(response), _ms_since(started))

    def get_model(self, ctx: ExecutionContext, path: str, params: Mapping[str, str],
                  model: type[ModelT], *, request_timeout: float | None = None,
                  not_found_ok: bool = False) -> ModelT | None:
        """GET and validate the body against a pydantic model (wrong shape = malformed)."""
        response = self.get(ctx, path, params, request_timeout=request_timeout,
                            not_found_ok=not_found_ok)
        if response is None:
            return None
        try:
            return model.model_validate(response.body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<root>"
            raise PermanentProcessorError(
                "VENDOR_MALFORMED_PAYLOAD",
                f"{self.vendor}: unexpected payload shape at {where}: {first['msg']}") from exc

    # -- helpers ---------------------------------------------------------------------------
    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"{self.vendor}: HTTP {status} for {response.request.url.path}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            suffix = f" (retry after {retry_after:.0f}s)" if retry_after is not None else ""
            raise VendorRateLimitedError(detail + suffix, retry_after_seconds=retry_after)
        if status >= 500:
            raise TemporaryProcessorError("VENDOR_UNAVAILABLE", detail)
        if status in (401, 403):
            raise CriticalProcessorError("VENDOR_AUTH", detail + ": check the API key")
        if status == 404:
            raise PermanentProcessorError("VENDOR_NOT_FOUND", detail)
        raise PermanentProcessorError("VENDOR_REJECTED", detail)

    def _decode(self, response: httpx.Response) -> object:
        try:
            # Decimal for every JSON number with a fraction: money never passes through float.
            return json.loads(response.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            kind = response.headers.get("Content-Type", "unknown content type")
            raise PermanentProcessorError(
                "VENDOR_MALFORMED_PAYLOAD", f"{self.vendor}: body is not JSON ({kind})") from exc

    def _trace(self, ctx: ExecutionContext, path: str, outcome: str, started: float) -> None:
        ctx.trace("vendor_call", outcome, f"{self.vendor} GET {path}",
                  duration_ms=_ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def resolve_settings(explicit: VendorSettings | None, env_prefix: str,
                     config: Mapping[str, object]) -> VendorSettings:
    """Settings given to the processor (else the sandbox, keyless), then non-secret config
    overrides. Config may override `base_url` and `request_timeout_seconds`; the API key only
    ever comes from the settings object, so it never lands in stored config. `env_prefix`
    names the vendor's variables for callers that build settings with `from_env`.
    """
    settings = explicit or VendorSettings(SANDBOX_DEFAULT_BASE_URL, None)
    base_url = config.get("base_url")
    request_timeout = config.get("request_timeout_seconds")
    return VendorSettings(
        base_url=str(base_url) if base_url else settings.base_url,
        api_key=settings.api_key,
        request_timeout_seconds=(float(request_timeout) if request_timeout  # type: ignore[arg-type]
                                 else settings.request_timeout_seconds),
    )


def require_business_name(ctx: ExecutionContext) -> str:
    """Vendor lookups are by name: without one the case is incomplete (retrying cannot help)."""
    name = (ctx.underwriting.business_name or "").strip()
    if not name:
        raise PermanentProcessorError(
            "MISSING_BUSINESS_NAME",
            f"underwriting {ctx.underwriting.underwriting_id} has no business name to look up")
    return name
