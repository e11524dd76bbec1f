"""Driver's licenses read from their text layer (AAMVA field labels: DL, EXP, DOB, ISS, CLASS).

The license number is never stored whole: factors keep its last four characters
(`dl_license_last4`) and a masked form. License number, expiry and date of birth
are required; a text without them fails with DL_FIELDS_MISSING. Expiry is judged
at `ctx.underwriting.as_of`; a license is valid through its expiration date.

With several licenses the one expiring last gives the factors. The owner-name
check runs only when an owner name is known: config `owner_name` or the
document's metadata `owner_name`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.factors import FactorSpec, factor
from aura_dagster.domain.processors.base import (
    BaseProcessor,
    ExecutionContext,
    PermanentProcessorError,
    ProcessOutcome,
)
from aura_dagster.domain.processors.text_documents import parse_each_document

STATE_NAMES: dict[str, str] = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC",
    "FLORIDA": "FL", "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL",
    "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA",
    "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI", "MINNESOTA": "MN",
    "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT", "NEBRASKA": "NE", "NEVADA": "NV",
    "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM", "NEW YORK": "NY",
    "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR",
    "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD",
    "TENNESSEE": "TN", "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA",
    "WASHINGTON": "WA", "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY",
}
# Longest first, so "WEST VIRGINIA" is found before "VIRGINIA".
_STATE_PATTERN = re.compile(
    r"\b(" + "|".join(sorted(STATE_NAMES, key=len, reverse=True)) + r")\b")

_DATE = r"(\d{1,2}[/-]\d{1,2}[/-]\d{4}|\d{4}-\d{2}-\d{2})"
_FIELD_PATTERNS: dict[str, re.Pattern[str]] = {
    "license_number": re.compile(
        r"(?:\bDLN?\b|\bLIC(?:ENSE)?\s*(?:NO\.?|NUMBER|#))[\s:#.]*([A-Z0-9][A-Z0-9-]{3,19})\b"),
    "expires": re.compile(r"\b(?:EXP|EXPIRES|EXPIRATION(?: DATE)?)\b[\s:]*" + _DATE),
    "dob": re.compile(r"\b(?:DOB|DATE OF BIRTH)\b[\s:]*" + _DATE),
    "issued": re.compile(r"\b(?:ISS|ISSUED|ISSUE DATE)\b[\s:]*" + _DATE),
    "license_class": re.compile(r"\bCLASS\b[\s:]*([A-Z0-9]{1,3})\b"),
    "last_name": re.compile(r"^\s*(?:1\s+)?LN\b[\s:]*(\S.*?)\s*$", re.MULTILINE),
    "first_name": re.compile(r"^\s*(?:2\s+)?FN\b[\s:]*(\S.*?)\s*$", re.MULTILINE),
    "full_name": re.compile(r"^\s*NAME\b[\s:]*(\S.*?)\s*$", re.MULTILINE),
    "state_code": re.compile(r"\bSTATE\b[\s:]*([A-Z]{2})\b"),
}
REQUIRED_FIELDS = ("license_number", "expires", "dob")


@dataclass(frozen=True)
class LicenseData:
    document_id: str
    state: str | None
    license_number_masked: str
    license_last4: str
    holder_name: str | None
    dob: dt.date
    issued: dt.date | None
    expires: dt.date
    license_class: str | None


def parse_date(text: str) -> dt.date:
    if "-" in text and len(text.split("-")[0]) == 4:
        return dt.date.fromisoformat(text)
    month, day, year = re.split(r"[/-]", text)  # US cards print month first
    return dt.date(int(year), int(month), int(day))


def mask_license_number(number: str) -> str:
    return "*" * max(0, len(number) - 4) + number[-4:]


def parse_drivers_license(text: str | None, document_id: str = "") -> LicenseData:
    """Read one license; PermanentProcessorError with a stable code when it cannot."""
    if not text or not text.strip():
        raise PermanentProcessorError("DL_NO_TEXT", f"{document_id}: the document has no text")
    upper = text.upper()
    raw = {key: (m.group(1).strip() if (m := pattern.search(upper)) else None)
           for key, pattern in _FIELD_PATTERNS.items()}
    number = raw["license_number"]
    if number is not None and not any(ch.isdigit() for ch in number):
        number = None  # a word after "DL", not a number
    missing = [key for key in REQUIRED_FIELDS if (number if key == "license_number" else raw[key])
               is None]
    if missing:
        raise PermanentProcessorError(
            "DL_FIELDS_MISSING", f"{document_id}: no {', '.join(missing)} on the license")
    assert number is not None
    try:
        dob, expires = parse_date(raw["dob"] or ""), parse_date(raw["expires"] or "")
        issued = parse_date(raw["issued"]) if raw["issued"] else None
    except ValueError as exc:
        raise PermanentProcessorError("DL_INVALID_DATE", f"{document_id}: {exc}") from exc
    state_match = _STATE_PATTERN.search(upper)
    state = STATE_NAMES[state_match.group(1)] if state_match else raw["state_code"]
    if raw["last_name"]:
        holder = " ".join(filter(None, (raw["first_name"], raw["last_name"])))
    else:
        holder = raw["full_name"]
    return LicenseData(document_id, state, mask_license_number(number), number[-4:], holder,
                       dob, issued, expires, raw["license_class"])


def full_years_between(start: dt.date, end: dt.date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def names_match(owner: str, holder: str) -> bool:
    """First and last names agree, ignoring case, punctuation and middle names."""
    def words(name: str) -> list[str]:
        return re.findall(r"[A-Z]+", name.upper())
    owner_words, holder_words = words(owner), words(holder)
    if not owner_words or not holder_words:
        return False
    return owner_words[0] == holder_words[0] and owner_words[-1] == holder_words[-1]


class DriversLicenseProcessor(BaseProcessor):
    PROCESSOR_ID: ClassVar[str] = "p_drivers_license"
    VERSION: ClassVar[str] = "1.0.0"
    NAME: ClassVar[str] = "Driver's license"
    REQUIRED_DOCUMENT_TYPES: ClassVar[frozenset[DocumentType]] = frozenset(
        {DocumentType.DRIVERS_LICENSE})
    CONFIG: ClassVar[dict[str, Any]] = {
        "timeout_seconds": 30.0,
        "cost_cents": 0,
        "owner_name": None,  # business owner's name, when the platform knows it
    }
    FACTORS: ClassVar[tuple[FactorSpec, ...]] = (
        factor("dl_state", "string", "Issuing state (two letters)."),
        factor("dl_license_last4", "string", "Last four characters of the license number."),
        factor("dl_license_number_masked", "string", "License number, masked."),
        factor("dl_holder_name", "string", "Holder's name as printed."),
        factor("dl_class", "string", "License class."),
        factor("dl_issue_date", "date", "Issue date."),
        factor("dl_expiration_date", "date", "Expiration date."),
        factor("dl_expired", "boolean", "Expired at the underwriting date."),
        factor("dl_days_to_expiry", "integer",
               "Days from the underwriting date to expiry (negative once expired).", "days"),
        factor("dl_holder_age", "integer", "Holder's age at the underwriting date.", "years"),
        factor("dl_state_matches_business", "boolean",
               "Issuing state equals the business state (when the business state is known)."),
        factor("dl_name_matches_business_owner", "boolean",
               "Holder's first and last names match the owner's (when the owner is known)."),
        factor("dl_license_count", "integer", "Licenses read.", "count"),
    )

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        owner_name: str | None = ctx.config.get("owner_name") or next(
            (d.metadata["owner_name"] for d in documents if d.metadata.get("owner_name")), None)
        licenses, unreadable = parse_each_document(
            ctx, documents, parse_drivers_license, none_readable_code="DL_NO_TEXT",
            none_readable_message="no readable driver's license among the documents")
        primary = max(licenses, key=lambda lic: lic.expires)
        factors = self._factors(primary, ctx, owner_name) | {"dl_license_count": len(licenses)}
        ctx.trace("select", primary.document_id,
                  f"{len(licenses)} license(s); the one expiring last is used",
                  output_data={"expired": factors["dl_expired"]})
        ctx.add_evidence("drivers_license_fields", asdict(primary), source=primary.document_id)
        return ProcessOutcome(
            output={"licenses": [asdict(lic) for lic in licenses], "unreadable": unreadable},
            factors=factors)

    @staticmethod
    def _factors(lic: LicenseData, ctx: ExecutionContext,
                 owner_name: str | None) -> dict[str, Any]:
        as_of = ctx.underwriting.as_of
        factors: dict[str, Any] = {
            "dl_state": lic.state,
            "dl_license_last4": lic.license_last4,
            "dl_license_number_masked": lic.license_number_masked,
            "dl_holder_name": lic.holder_name,
            "dl_class": lic.license_class,
            "dl_issue_date": lic.issued,
            "dl_expiration_date": lic.expires,
            "dl_expired": lic.expires < as_of,
            "dl_days_to_expiry": (lic.expires - as_of).days,
            "dl_holder_age": full_years_between(lic.dob, as_of),
        }
        business_state = ctx.underwriting.business_state
        if business_state and lic.state:
            factors["dl_state_matches_business"] = lic.state == business_state.strip().upper()
        if owner_name and lic.holder_name:
            factors["dl_name_matches_business_owner"] = names_match(owner_name, lic.holder_name)
        return factors
