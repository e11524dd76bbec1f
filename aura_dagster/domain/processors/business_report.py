"""Business risk report (Clear): UCC filings, liens, judgments, bankruptcies, risk flags.

Everything is judged at `ctx.underwriting.as_of`: a lien released after that date
still counts as open, a filing made after it is ignored. A 404 means the vendor has
no report for the subject: COMPLETED with `biz_report_found = False` and no other
factor (no report is not the same as a clean report).

UCC filings come as chains: a UCC-1 (the original) and UCC-3 amendments,
continuations and terminations that refer to it by `original_filing_number`.
A chain is active until terminated or lapsed: a financing statement lapses five
years after filing unless a continuation filed in the six months before the lapse
date extends it by five more years (UCC 9-515).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from aura_dagster.domain.documents.model import Document
from aura_dagster.domain.factors import FactorSpec, factor
from aura_dagster.domain.money import to_cents
from aura_dagster.domain.processors.base import BaseProcessor, ExecutionContext, ProcessOutcome
from aura_dagster.domain.processors.secretary_of_state import full_months_between
from aura_dagster.domain.processors.vendor_http import (
    VendorClient,
    VendorSettings,
    require_business_name,
    resolve_settings,
)

ENV_PREFIX = "AURA_CLEAR"  # AURA_CLEAR_BASE_URL / AURA_CLEAR_API_KEY / AURA_CLEAR_TIMEOUT_SECONDS
REPORT_PATH = "/clear/v1/business-reports"
UCC_EFFECTIVE_YEARS = 5
CONTINUATION_WINDOW_MONTHS = 6


# -- payload shape -----------------------------------------------------------------------------
class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UccFiling(_Lenient):
    filing_type: str  # "UCC-1", "UCC-3 AMENDMENT", "UCC-3 CONTINUATION", "UCC-3 TERMINATION"
    filing_number: str
    filing_date: dt.date
    original_filing_number: str | None = None
    secured_party: str | None = None


class Lien(_Lenient):
    lien_type: str | None = None
    creditor: str
    amount: Decimal
    filing_date: dt.date
    release_date: dt.date | None = None
    filing_number: str | None = None


class Judgment(_Lenient):
    creditor: str
    amount: Decimal
    filing_date: dt.date
    release_date: dt.date | None = None
    case_number: str | None = None


class Bankruptcy(_Lenient):
    chapter: int
    case_number: str | None = None
    filing_date: dt.date
    discharge_date: dt.date | None = None
    dismissal_date: dt.date | None = None


class RiskFlag(_Lenient):
    code: str
    severity: str | None = None
    description: str | None = None


class BusinessReport(_Lenient):
    report_id: str
    ucc_filings: list[UccFiling] = []
    liens: list[Lien] = []
    judgments: list[Judgment] = []
    bankruptcies: list[Bankruptcy] = []
    risk_flags: list[RiskFlag] = []


class BusinessReportResponse(_Lenient):
    report: BusinessReport


# -- UCC chains --------------------------------------------------------------------------------
def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later, clamped to the month's end (Feb 29 + 12 -> Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last_day in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last_day))
        except ValueError:
            continue
    raise ValueError(f"cannot add {months} months to {day}")  # unreachable


def filing_kind(filing_type: str) -> str:
    text = filing_type.upper()
    for word in ("TERMINATION", "CONTINUATION", "AMENDMENT", "ASSIGNMENT"):
        if word in text:
            return "amendment" if word == "ASSIGNMENT" else word.lower()
    return "original"


@dataclass(frozen=True)
class UccChain:
    original_number: str
    filed: dt.date
    lapse_date: dt.date
    terminated_on: dt.date | None
    secured_party: str | None  # the latest named in the chain (assignments change it)
    filing_numbers: tuple[str, ...]

    def active_at(self, as_of: dt.date) -> bool:
        return self.terminated_on is None and as_of < self.lapse_date


def ucc_chains(filings: Sequence[UccFiling], as_of: dt.date) -> list[UccChain]:
    """Group filings under their original; an amendment whose original is missing starts one."""
    groups: dict[str, list[UccFiling]] = {}
    for filing in sorted(filings, key=lambda f: (f.filing_date, f.filing_number)):
        if filing.filing_date > as_of:
            continue
        groups.setdefault(filing.original_filing_number or filing.filing_number, []).append(filing)
    chains = []
    for original_number, group in groups.items():
        filed = group[0].filing_date
        lapse = add_months(filed, 12 * UCC_EFFECTIVE_YEARS)
        terminated_on = None
        party = None
        for filing in group:
            kind = filing_kind(filing.filing_type)
            if kind == "continuation" and (
                    add_months(lapse, -CONTINUATION_WINDOW_MONTHS) <= filing.filing_date <= lapse):
                lapse = add_months(lapse, 12 * UCC_EFFECTIVE_YEARS)
            elif kind == "termination" and terminated_on is None:
                terminated_on = filing.filing_date
            party = filing.secured_party or party
        chains.append(UccChain(original_number, filed, lapse, terminated_on, party,
                               tuple(f.filing_number for f in group)))
    return chains


# -- the processor -----------------------------------------------------------------------------
def _open_at(filed: dt.date, released: dt.date | None, as_of: dt.date) -> bool:
    return filed <= as_of and (released is None or released > as_of)


def _total(amounts: Sequence[Decimal]) -> Decimal:
    return to_cents(sum(amounts, Decimal("0")))


class ClearBusinessReportProcessor(BaseProcessor):
    PROCESSOR_ID: ClassVar[str] = "p_clear_business_report"
    VERSION: ClassVar[str] = "1.0.0"
    NAME: ClassVar[str] = "Business risk report (Clear)"
    API_POOL: ClassVar[str | None] = "clear"
    FACTORS: ClassVar[tuple[FactorSpec, ...]] = (
        factor("biz_report_found", "boolean", "The vendor has a business report for the business."),
        factor("biz_report_id", "string", "Vendor report id."),
        factor("biz_lien_count", "integer", "Liens filed up to the underwriting date.", "count"),
        factor("biz_open_lien_count", "integer", "Liens not released at the underwriting date.",
               "count"),
        factor("biz_open_lien_amount", "number", "Amount of the open liens.", "USD"),
        factor("biz_judgment_count", "integer", "Judgments filed up to the underwriting date.",
               "count"),
        factor("biz_open_judgment_count", "integer", "Judgments not released.", "count"),
        factor("biz_open_judgment_amount", "number", "Amount of the open judgments.", "USD"),
        factor("biz_bankruptcy_count", "integer", "Bankruptcy filings.", "count"),
        factor("biz_active_bankruptcy", "boolean",
               "A bankruptcy neither discharged nor dismissed."),
        factor("biz_most_recent_bankruptcy_date", "date", "Filing date of the latest bankruptcy."),
        factor("biz_months_since_bankruptcy", "integer",
               "Full months since the latest bankruptcy filing.", "months"),
        factor("biz_ucc_filing_count", "integer",
               "UCC filing chains (an original and its amendments).", "count"),
        factor("biz_active_ucc_count", "integer", "UCC chains active at the underwriting date.",
               "count"),
        factor("biz_ucc_secured_parties", "list", "Secured parties of the active UCC chains."),
        factor("biz_risk_flags", "list", "Vendor risk flag codes."),
        factor("biz_high_severity_flag_count", "integer",
               "Risk flags of high or critical severity.", "count"),
    )
    CONFIG: ClassVar[dict[str, Any]] = {
        "timeout_seconds": 30.0,
        "cost_cents": 150,
        "request_timeout_seconds": None,  # None: the VendorSettings value (10 s by default)
        "base_url": None,  # None: the VendorSettings / environment value
    }

    def __init__(self, settings: VendorSettings | None = None) -> None:
        self._settings = settings

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        name = require_business_name(ctx)
        state = (ctx.underwriting.business_state or "").strip().upper() or None
        params = {"name": name} | ({"state": state} if state else {})
        client = VendorClient("clear", resolve_settings(self._settings, ENV_PREFIX, ctx.config))
        response = client.get_model(ctx, REPORT_PATH, params, BusinessReportResponse,
                                    not_found_ok=True)
        if response is None:
            ctx.trace("report", "not_found", f"no report for {name} ({state or 'any state'})")
            return ProcessOutcome(output={"query": params, "report": None},
                                  factors={"biz_report_found": False})
        report = response.report
        factors, summary = self._assess(report, ctx.underwriting.as_of)
        ctx.trace("report", "found", f"report {report.report_id}", output_data=factors)
        ctx.add_evidence("business_report", summary, source="clear")
        return ProcessOutcome(output={"query": params, "report": summary}, factors=factors)

    @staticmethod
    def _assess(report: BusinessReport, as_of: dt.date) -> tuple[dict[str, Any], dict[str, Any]]:
        open_liens = [li for li in report.liens if _open_at(li.filing_date, li.release_date, as_of)]
        judgments = [j for j in report.judgments if j.filing_date <= as_of]
        open_judgments = [j for j in judgments if _open_at(j.filing_date, j.release_date, as_of)]
        bankruptcies = [b for b in report.bankruptcies if b.filing_date <= as_of]
        active_bankruptcies = [
            b for b in bankruptcies
            if not any(d is not None and d <= as_of for d in (b.discharge_date, b.dismissal_date))]
        latest_bankruptcy = max((b.filing_date for b in bankruptcies), default=None)
        chains = ucc_chains(report.ucc_filings, as_of)
        active_chains = [c for c in chains if c.active_at(as_of)]
        factors: dict[str, Any] = {
            "biz_report_found": True,
            "biz_report_id": report.report_id,
            "biz_lien_count": sum(1 for li in report.liens if li.filing_date <= as_of),
            "biz_open_lien_count": len(open_liens),
            "biz_open_lien_amount": _total([li.amount for li in open_liens]),
            "biz_judgment_count": len(judgments),
            "biz_open_judgment_count": len(open_judgments),
            "biz_open_judgment_amount": _total([j.amount for j in open_judgments]),
            "biz_bankruptcy_count": len(bankruptcies),
            "biz_active_bankruptcy": bool(active_bankruptcies),
            "biz_most_recent_bankruptcy_date": latest_bankruptcy,
            "biz_months_since_bankruptcy": (full_months_between(latest_bankruptcy, as_of)
                                            if latest_bankruptcy else None),
            "biz_ucc_filing_count": len(chains),
            "biz_active_ucc_count": len(active_chains),
            "biz_ucc_secured_parties": sorted({c.secured_party for c in active_chains
                                               if c.secured_party}),
            "biz_risk_flags": sorted({f.code for f in report.risk_flags}),
            "biz_high_severity_flag_count": sum(
                1 for f in report.risk_flags if (f.severity or "").lower() in ("high", "critical")),
        }
        summary = {
            "report_id": report.report_id,
            "as_of": as_of,
            "open_liens": [li.model_dump() for li in open_liens],
            "open_judgments": [j.model_dump() for j in open_judgments],
            "bankruptcies": [b.model_dump() | {"active": b in active_bankruptcies}
                             for b in bankruptcies],
            "ucc_chains": [{"original_number": c.original_number, "filed": c.filed,
                            "lapse_date": c.lapse_date, "terminated_on": c.terminated_on,
                            "secured_party": c.secured_party, "filings": list(c.filing_numbers),
                            "active": c.active_at(as_of)} for c in chains],
            "risk_flags": [f.model_dump() for f in report.risk_flags],
        }
        return factors, summary

    @classmethod
    def consolidate(cls, outputs: Sequence[Mapping[str, Any]],
                    config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        # A report is a snapshot: the latest execution replaces earlier ones whole.
        return dict(outputs[-1].get("factors", {})) if outputs else {}
