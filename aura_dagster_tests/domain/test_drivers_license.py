"""DriversLicenseProcessor on licenses made by the sample generator (AS_OF = 2025-06-30)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.processors.base import ErrorClass, ExecutionStatus
from aura_dagster.domain.processors.drivers_license import (
    DriversLicenseProcessor,
    names_match,
    parse_drivers_license,
)
from aura_dagster.sample_data.tax_documents import write_drivers_license_pdf
from aura_dagster_tests.domain.vendor_helpers import pdf_document, text_document, underwriting

DL = DocumentType.DRIVERS_LICENSE


def license_pdf(tmp_path: Path, document_id: str = "doc_dl", metadata: dict[str, Any] | None = None,
                **fields: Any) -> Document:
    fields = {"name": "John Alan Smith", "state": "CA", "license_number": "D1234567",
              "dob": dt.date(1985, 8, 31), "issued": dt.date(2022, 9, 1),
              "expires": dt.date(2027, 8, 31)} | fields
    path = write_drivers_license_pdf(tmp_path / f"{document_id}.pdf", **fields)
    return pdf_document(DL, path, document_id, metadata)


def test_valid_license(tmp_path: Path) -> None:
    result = DriversLicenseProcessor().execute(underwriting("Sunrise Bakery LLC", "CA"),
                                               [license_pdf(tmp_path)])
    assert result.status is ExecutionStatus.COMPLETED, result.error_message
    assert result.factors == {
        "dl_state": "CA",
        "dl_license_last4": "4567",
        "dl_license_number_masked": "****4567",
        "dl_holder_name": "JOHN ALAN SMITH",
        "dl_class": "C",
        "dl_issue_date": "2022-09-01",
        "dl_expiration_date": "2027-08-31",
        "dl_expired": False,
        # 2025-06-30 -> 2027-06-30 is 730 days (no Feb 29 between), then July 31 + August 31.
        "dl_days_to_expiry": 792,
        "dl_holder_age": 39,  # born 1985-08-31: turns 40 in August 2025
        "dl_state_matches_business": True,
        "dl_license_count": 1,
    }
    assert "D1234567" not in str(result.factors)
    assert "D1234567" not in str(result.output)


def test_expired_license(tmp_path: Path) -> None:
    document = license_pdf(tmp_path, expires=dt.date(2025, 6, 29), issued=dt.date(2020, 6, 29))
    factors = DriversLicenseProcessor().execute(underwriting(), [document]).factors
    assert (factors["dl_expired"], factors["dl_days_to_expiry"]) == (True, -1)
    assert "dl_state_matches_business" not in factors  # no business state on the case


def test_license_is_valid_through_its_expiration_date(tmp_path: Path) -> None:
    factors = DriversLicenseProcessor().execute(
        underwriting(), [license_pdf(tmp_path, expires=dt.date(2025, 6, 30))]).factors
    assert (factors["dl_expired"], factors["dl_days_to_expiry"]) == (False, 0)


def test_owner_name_from_config_or_metadata(tmp_path: Path) -> None:
    processor = DriversLicenseProcessor()
    document = license_pdf(tmp_path)
    matching = processor.execute(underwriting(), [document], {"owner_name": "john smith"})
    assert matching.factors["dl_name_matches_business_owner"] is True
    other = processor.execute(underwriting(), [document], {"owner_name": "Jane Smith"})
    assert other.factors["dl_name_matches_business_owner"] is False
    tagged = license_pdf(tmp_path, "doc_tagged", metadata={"owner_name": "John A. Smith"})
    assert processor.execute(underwriting(), [tagged]).factors[
        "dl_name_matches_business_owner"] is True
    assert "dl_name_matches_business_owner" not in processor.execute(
        underwriting(), [document]).factors


def test_texas_license_in_another_state_than_the_business(tmp_path: Path) -> None:
    document = license_pdf(tmp_path, state="TX", license_number="41829377",
                           city_state_zip="Houston, TX 77003", license_class="CM")
    factors = DriversLicenseProcessor().execute(underwriting(business_state="CA"),
                                                [document]).factors
    assert (factors["dl_state"], factors["dl_class"]) == ("TX", "CM")
    assert factors["dl_state_matches_business"] is False


def test_the_license_expiring_last_is_used(tmp_path: Path) -> None:
    old = license_pdf(tmp_path, "doc_old", license_number="D1110000",
                      expires=dt.date(2024, 8, 31), issued=dt.date(2019, 9, 1))
    renewed = license_pdf(tmp_path, "doc_new")
    result = DriversLicenseProcessor().execute(underwriting(), [renewed, old])
    assert (result.factors["dl_license_last4"], result.factors["dl_expired"]) == ("4567", False)
    assert result.factors["dl_license_count"] == 2


def test_missing_fields_are_a_permanent_error() -> None:
    text = "CALIFORNIA USA\nDRIVER LICENSE\nLN SMITH\nFN JOHN\nCLASS C\n"
    result = DriversLicenseProcessor().execute(underwriting(), [text_document(DL, text)])
    assert (result.status, result.error_code, result.error_class) == (
        ExecutionStatus.FAILED, "DL_FIELDS_MISSING", ErrorClass.PERMANENT)
    assert "license_number, expires, dob" in (result.error_message or "")


def test_impossible_date_is_a_permanent_error() -> None:
    text = "DRIVER LICENSE\nDL D1234567\nEXP 13/45/2027\nDOB 08/31/1985\n"
    result = DriversLicenseProcessor().execute(underwriting(), [text_document(DL, text)])
    assert (result.error_code, result.error_class) == ("DL_INVALID_DATE", ErrorClass.PERMANENT)


def test_no_text_is_a_permanent_error() -> None:
    result = DriversLicenseProcessor().execute(underwriting(), [text_document(DL, None)])
    assert (result.error_code, result.error_class) == ("DL_NO_TEXT", ErrorClass.PERMANENT)


def test_other_layouts() -> None:
    text = ("WEST VIRGINIA\nDRIVER'S LICENSE\nLICENSE NO: WV-009988\nNAME: MARY JONES\n"
            "DATE OF BIRTH: 1990-01-15\nEXPIRES: 2026-01-15\n")
    parsed = parse_drivers_license(text, "doc")
    assert (parsed.state, parsed.license_last4, parsed.holder_name) == (
        "WV", "9988", "MARY JONES")
    assert (parsed.dob, parsed.expires, parsed.issued) == (
        dt.date(1990, 1, 15), dt.date(2026, 1, 15), None)


def test_names_match_ignores_middle_names_and_punctuation() -> None:
    assert names_match("John A. Smith", "JOHN ALAN SMITH")
    assert not names_match("John Smyth", "JOHN ALAN SMITH")
    assert not names_match("", "JOHN SMITH")
