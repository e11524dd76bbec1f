"""The sample businesses the sandbox knows, and how each one behaves."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Behaviour(StrEnum):
    OK = "ok"  # recorded payloads on both vendors
    NOT_FOUND = "not_found"  # OpenCorporates: no companies; Clear: 404
    SLOW = "slow"  # answers after the server's `slow_seconds`
    UNAVAILABLE = "unavailable"  # always 503
    RATE_LIMITED = "rate_limited"  # always 429 with Retry-After
    MALFORMED = "malformed"  # OpenCorporates: wrong shape; Clear: HTML instead of JSON
    FLAKY = "flaky"  # 503 on the first request per vendor and server instance, then 200


@dataclass(frozen=True)
class SandboxBusiness:
    name: str
    state: str  # two-letter code
    behaviour: Behaviour
    slug: str  # payload file stem: opencorporates_<slug>.json, clear_<slug>.json
    description: str


SANDBOX_BUSINESSES: tuple[SandboxBusiness, ...] = (
    SandboxBusiness("Sunrise Bakery LLC", "CA", Behaviour.OK, "sunrise_bakery",
                    "active CA LLC since 2016, one active UCC, nothing adverse"),
    SandboxBusiness("Harbor Freight Logistics Inc", "TX", Behaviour.OK, "harbor_logistics",
                    "active TX corporation since 2009; released lien, lapsed and terminated UCCs"),
    SandboxBusiness("Golden Gate Dry Cleaners Inc", "CA", Behaviour.OK, "golden_gate_cleaners",
                    "dissolved in 2023 (inactive), INACTIVE_ENTITY risk flag"),
    SandboxBusiness("Redwood Auto Repair LLC", "CA", Behaviour.OK, "redwood_auto",
                    "open liens and judgment, active Chapter 11, UCC amendments, "
                    "continuations and terminations"),
    SandboxBusiness("Nowhere Ventures LLC", "NV", Behaviour.NOT_FOUND, "nowhere_ventures",
                    "unknown to both vendors"),
    SandboxBusiness("Slowpoke Trading Co", "CA", Behaviour.SLOW, "slowpoke_trading",
                    "answers only after the server's slow_seconds"),
    SandboxBusiness("Outage Holdings Inc", "CA", Behaviour.UNAVAILABLE, "outage_holdings",
                    "always 503"),
    SandboxBusiness("Throttle Media LLC", "CA", Behaviour.RATE_LIMITED, "throttle_media",
                    "always 429 with Retry-After: 7"),
    SandboxBusiness("Garbled Data Corp", "CA", Behaviour.MALFORMED, "garbled_data",
                    "OpenCorporates payload of the wrong shape, Clear answers HTML"),
    SandboxBusiness("Flaky Fabrication LLC", "CA", Behaviour.FLAKY, "flaky_fabrication",
                    "503 on the first request per vendor, 200 afterwards"),
)

RETRY_AFTER_SECONDS = 7

_SUFFIXES = {"LLC", "L L C", "INC", "INCORPORATED", "CORP", "CORPORATION", "CO", "COMPANY",
             "LTD", "LIMITED", "LP", "LLP", "PLLC", "PC"}


def lookup_key(name: str) -> str:
    """Upper-case words without punctuation or a trailing entity suffix ("Acme, Inc." -> ACME)."""
    words = re.findall(r"[A-Z0-9]+", name.upper().replace("&", " AND "))
    while words and words[-1] in _SUFFIXES:
        words.pop()
    return " ".join(words)


_BY_KEY = {lookup_key(b.name): b for b in SANDBOX_BUSINESSES}


def find_business(name: str) -> SandboxBusiness | None:
    return _BY_KEY.get(lookup_key(name))


def business_named(name: str) -> SandboxBusiness:
    """The sample business with this name (tests and the demo pick them this way)."""
    found = find_business(name)
    if found is None:
        raise KeyError(f"no sandbox business named {name!r}")
    return found
