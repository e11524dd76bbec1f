"""Secretary of State registration, looked up through OpenCorporates' company search.

Needs no document, only the business name (and, when known, the state) of the
underwriting. A missing name is a PERMANENT failure `MISSING_BUSINESS_NAME`
raised from `process`: `should_execute` only sees documents and config, and an
incomplete case should be visible as a failure rather than silently skipped.

"Not registered" is a valid answer: COMPLETED with `sos_registered = False`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from aura_dagster.domain.documents.model import Document
from aura_dagster.domain.factors import FactorSpec, factor
from aura_dagster.domain.processors.base import BaseProcessor, ExecutionContext, ProcessOutcome
from aura_dagster.domain.processors.vendor_http import (
    VendorClient,
    VendorSettings,
    require_business_name,
    resolve_settings,
)

ENV_PREFIX = "AURA_OPENCORPORATES"  # AURA_OPENCORPORATES_BASE_URL / _API_KEY / _TIMEOUT_SECONDS
SEARCH_PATH = "/opencorporates/v0.4/companies/search"


# -- payload shape (only what we read; the vendor sends more) --------------------------------
class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RegisteredAddress(_Lenient):
    street_address: str | None = None
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Company(_Lenient):
    name: str
    company_number: str
    jurisdiction_code: str
    incorporation_date: dt.date | None = None
    dissolution_date: dt.date | None = None
    company_type: str | None = None
    current_status: str | None = None
    inactive: bool | None = None
    registered_address: RegisteredAddress | None = None


class CompanyHit(_Lenient):
    company: Company


class SearchResults(_Lenient):
    companies: list[CompanyHit]


class CompanySearchResponse(_Lenient):
    results: SearchResults


# -- names -----------------------------------------------------------------------------------
_SUFFIX_FAMILIES: dict[str, str] = {
    "LLC": "llc", "L L C": "llc", "LC": "llc", "PLLC": "llc",
    "INC": "corp", "INCORPORATED": "corp", "CORP": "corp", "CORPORATION": "corp",
    "CO": "corp", "COMPANY": "corp", "LTD": "corp", "LIMITED": "corp", "PC": "corp",
    "LP": "lp", "LLP": "lp",
}


def split_business_name(name: str) -> tuple[str, str | None]:
    """("Acme Widgets, Inc.") -> ("ACME WIDGETS", "corp"): core words and the suffix family."""
    text = re.sub(r"\bL\.?\s*L\.?\s*C\.?", " LLC ", name.upper())
    words = re.findall(r"[A-Z0-9]+", text.replace("&", " AND "))
    family: str | None = None
    while words and words[-1] in _SUFFIX_FAMILIES:
        family = family or _SUFFIX_FAMILIES[words[-1]]
        words.pop()
    return " ".join(words), family


def name_match_confidence(wanted: str, candidate: str) -> float:
    """1.0 same name; 0.9 same words but another entity suffix; otherwise a scaled similarity."""
    wanted_core, wanted_family = split_business_name(wanted)
    core, family = split_business_name(candidate)
    if wanted_core and wanted_core == core:
        same_kind = wanted_family is None or family is None or wanted_family == family
        return 1.0 if same_kind else 0.9
    # Different words: never above 0.9, so a real name match always wins.
    return round(0.9 * SequenceMatcher(None, wanted_core, core).ratio(), 2)


# -- calendar --------------------------------------------------------------------------------
def full_months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from start to end (0 when end is before start)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return max(0, months)


# -- status and type -------------------------------------------------------------------------
_STATUS_KEYWORDS: tuple[tuple[str, str], ...] = (
    # Negative words first: "Inactive" contains "active".
    ("dissolv", "dissolved"), ("suspend", "suspended"), ("revok", "revoked"),
    ("forfeit", "forfeited"), ("cancel", "inactive"), ("terminat", "inactive"),
    ("withdr", "inactive"), ("merged", "inactive"), ("expired", "inactive"),
    ("inactive", "inactive"), ("delinquent", "delinquent"),
    ("active", "active"), ("in existence", "active"), ("good standing", "active"),
    ("current", "active"), ("registered", "active"), ("incorporated", "active"),
)


def normalize_status(current_status: str | None, inactive: bool | None) -> str:
    """Registry wording varies by state ("In Existence", "Suspended - FTB"): map to a few words."""
    text = (current_status or "").lower()
    for keyword, status in _STATUS_KEYWORDS:
        if keyword in text:
            return "inactive" if status == "active" and inactive else status
    return "inactive" if inactive else "unknown"


def normalize_entity_type(company_type: str | None) -> str | None:
    if not company_type:
        return None
    text = company_type.lower().replace("-", " ")
    for needle, kind in (("limited liability company", "llc"), ("llc", "llc"),
                         ("limited liability partnership", "llp"),
                         ("limited partnership", "lp"), ("partnership", "partnership"),
                         ("nonprofit", "nonprofit"), ("non profit", "nonprofit"),
                         ("corporation", "corporation"), ("stock", "corporation"),
                         ("for profit", "corporation"), ("sole", "sole_proprietorship")):
        if needle in text:
            return kind
    return "other"


def jurisdiction_for_state(state: str | None) -> str | None:
    return f"us_{state.strip().lower()}" if state and state.strip() else None


# -- the processor ---------------------------------------------------------------------------
class SecretaryOfStateProcessor(BaseProcessor):
    PROCESSOR_ID: ClassVar[str] = "p_secretary_of_state"
    VERSION: ClassVar[str] = "1.0.0"
    NAME: ClassVar[str] = "Secretary of State registration (OpenCorporates)"
    API_POOL: ClassVar[str | None] = "opencorporates"
    FACTORS: ClassVar[tuple[FactorSpec, ...]] = (
        factor("sos_registered", "boolean",
               "A registry entity matches the business at or above min_match_confidence."),
        factor("sos_entity_name", "string", "Registered name of the matched entity."),
        factor("sos_entity_status", "string",
               "Normalized registry status (active, inactive, dissolved, ...)."),
        factor("sos_good_standing", "boolean", "Registered, active and not inactive."),
        factor("sos_registration_date", "date", "Incorporation / registration date."),
        factor("sos_time_in_business_months", "integer",
               "Full months from registration to the underwriting date.", "months"),
        factor("sos_dissolution_date", "date", "Dissolution date, when dissolved."),
        factor("sos_entity_type", "string",
               "Normalized entity type (llc, corporation, partnership, ...)."),
        factor("sos_jurisdiction", "string", "Registry jurisdiction code (e.g. us_ca)."),
        factor("sos_company_number", "string", "Registry company number."),
        factor("sos_match_confidence", "number", "Name match confidence of the best candidate.",
               "0-1"),
        factor("sos_candidate_count", "integer", "Registry search results considered.", "count"),
    )
    CONFIG: ClassVar[dict[str, Any]] = {
        "timeout_seconds": 30.0,
        "cost_cents": 25,
        "request_timeout_seconds": None,  # None: the VendorSettings value (10 s by default)
        "base_url": None,  # None: the VendorSettings / environment value
        "min_match_confidence": 0.85,  # below this the best candidate is not accepted
    }

    def __init__(self, settings: VendorSettings | None = None) -> None:
        self._settings = settings

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        name = require_business_name(ctx)
        state = (ctx.underwriting.business_state or "").strip().upper() or None
        jurisdiction = jurisdiction_for_state(state)
        params = {"q": name} | ({"jurisdiction_code": jurisdiction} if jurisdiction else {})
        client = VendorClient("opencorporates", resolve_settings(self._settings, ENV_PREFIX,
                                                                  ctx.config))
        response = client.get_model(ctx, SEARCH_PATH, params, CompanySearchResponse)
        assert response is not None  # search answers 200 with no companies, never 404
        companies = [hit.company for hit in response.results.companies]

        ranked = sorted(((self._score(name, jurisdiction, c), c) for c in companies),
                        key=lambda sc: _rank_key(*sc), reverse=True)
        candidates = [_candidate_summary(c, score) for score, c in ranked]
        threshold = float(ctx.config.get("min_match_confidence", 0.85))
        best_score, best = ranked[0] if ranked else (0.0, None)
        query = {"name": name, "jurisdiction_code": jurisdiction}
        if best is None or best_score < threshold:
            ctx.trace("match", "not_registered",
                      f"{len(companies)} candidate(s), best confidence {best_score} < {threshold}",
                      input_data=query, output_data={"candidates": candidates[:5]})
            factors = {"sos_registered": False, "sos_good_standing": False,
                       "sos_match_confidence": best_score, "sos_candidate_count": len(companies)}
            return ProcessOutcome(output={"query": query, "match": None,
                                          "candidates": candidates}, factors=factors)

        ctx.trace("match", "registered", f"{best.name} ({best.jurisdiction_code} "
                  f"{best.company_number}) at confidence {best_score}",
                  input_data=query, output_data={"candidates": candidates[:5]})
        ctx.add_evidence("registry_record", best.model_dump(mode="json"),
                         source="opencorporates", confidence_score=best_score)
        factors = self._factors(best, best_score, len(companies), ctx.underwriting.as_of)
        return ProcessOutcome(
            output={"query": query, "match": best.model_dump(mode="json"),
                    "candidates": candidates},
            factors=factors, confidence=best_score)

    @staticmethod
    def _score(name: str, jurisdiction: str | None, company: Company) -> float:
        score = name_match_confidence(name, company.name)
        if jurisdiction and company.jurisdiction_code.lower() != jurisdiction:
            score = round(score * 0.8, 2)  # a registration elsewhere is not the home filing
        return score

    @staticmethod
    def _factors(company: Company, confidence: float, candidate_count: int,
                 as_of: dt.date) -> dict[str, Any]:
        status = normalize_status(company.current_status, company.inactive)
        incorporated = company.incorporation_date
        return {
            "sos_registered": True,
            "sos_entity_name": company.name,
            "sos_entity_status": status,
            "sos_good_standing": status == "active" and not company.inactive,
            "sos_registration_date": incorporated,
            "sos_time_in_business_months": (full_months_between(incorporated, as_of)
                                            if incorporated else None),
            "sos_dissolution_date": company.dissolution_date,
            "sos_entity_type": normalize_entity_type(company.company_type),
            "sos_jurisdiction": company.jurisdiction_code,
            "sos_company_number": company.company_number,
            "sos_match_confidence": confidence,
            "sos_candidate_count": candidate_count,
        }

    @classmethod
    def consolidate(cls, outputs: Sequence[Mapping[str, Any]],
                    config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        # One lookup answers for the business: the latest execution replaces earlier ones whole.
        return dict(outputs[-1].get("factors", {})) if outputs else {}


def _rank_key(score: float, company: Company) -> tuple[float, bool, dt.date]:
    # Equal names: prefer the live entity, then the most recent incorporation.
    return score, not company.inactive, company.incorporation_date or dt.date.min


def _candidate_summary(company: Company, score: float) -> dict[str, Any]:
    return {"name": company.name, "jurisdiction_code": company.jurisdiction_code,
            "company_number": company.company_number, "current_status": company.current_status,
            "confidence": score}
