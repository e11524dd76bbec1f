"""TaxReturnProcessor on PDFs made by the sample generator, read through text extraction."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aura_dagster.domain.documents.model import DocumentType
from aura_dagster.domain.processors.base import ErrorClass, ExecutionStatus
from aura_dagster.domain.processors.tax_return import TaxReturnProcessor, line_amount
from aura_dagster.sample_data.tax_documents import write_tax_return_pdf
from aura_dagster_tests.domain.vendor_helpers import (
    money,
    pdf_document,
    text_document,
    underwriting,
)

TAX = DocumentType.TAX_RETURN
MONEY_FACTORS = ("tax_gross_receipts", "tax_total_income", "tax_net_income",
                 "tax_prior_gross_receipts")


def tax_pdf(tmp_path: Path, document_id: str, **fields: Any) -> Any:
    fields = {"business_name": "Sunrise Bakery LLC", "form": "1120-S", "ein": "84-1234567"} | fields
    path = write_tax_return_pdf(tmp_path / f"{document_id}.pdf", **fields)
    return pdf_document(TAX, path, document_id)


def with_money(factors: dict[str, Any]) -> dict[str, Any]:
    return {k: money(v) if k in MONEY_FACTORS and v is not None else v for k, v in factors.items()}


def test_s_corporation_return(tmp_path: Path) -> None:
    document = tax_pdf(tmp_path, "doc_tax_2023", tax_year=2023, gross_receipts="1250000.00",
                       returns_and_allowances="5000", cost_of_goods_sold="420000",
                       other_income="2500", net_income="100000.00")
    result = TaxReturnProcessor().execute(underwriting("Sunrise Bakery, LLC"), [document])
    assert result.status is ExecutionStatus.COMPLETED, result.error_message
    assert with_money(result.factors) == {
        "tax_year": 2023,
        "tax_form": "1120-S",
        "tax_entity_type": "s_corporation",
        "tax_business_name": "Sunrise Bakery LLC",
        "tax_ein_masked": "XX-XXX4567",
        "tax_gross_receipts": Decimal("1250000.00"),
        # 1,250,000 - 5,000 returns - 420,000 cost of goods + 2,500 other income
        "tax_total_income": Decimal("827500.00"),
        "tax_net_income": Decimal("100000.00"),
        "tax_profit_margin": 0.08,  # 100,000 / 1,250,000
        "tax_return_count": 1,
        "tax_years": [2023],
        "tax_name_matches_business": True,
    }
    assert result.output["unreadable"] == []
    assert [e.evidence_type for e in result.evidence] == ["tax_return_lines"]


@pytest.mark.parametrize(("form", "entity_type"), [
    ("1120", "c_corporation"), ("1065", "partnership"), ("Schedule C", "sole_proprietorship")])
def test_other_forms_and_a_loss(tmp_path: Path, form: str, entity_type: str) -> None:
    document = tax_pdf(tmp_path, "doc_1", form=form, tax_year=2022, gross_receipts="480000",
                       cost_of_goods_sold="300000", net_income="-12345.67")
    factors = TaxReturnProcessor().execute(underwriting(), [document]).factors
    assert (factors["tax_form"], factors["tax_entity_type"], factors["tax_year"]) == (
        form, entity_type, 2022)
    assert money(factors["tax_gross_receipts"]) == Decimal("480000.00")
    assert money(factors["tax_total_income"]) == Decimal("180000.00")  # 480,000 - 300,000
    assert money(factors["tax_net_income"]) == Decimal("-12345.67")  # printed "(12,345.67)"
    assert factors["tax_profit_margin"] == -0.0257  # -12,345.67 / 480,000 = -0.025720...
    assert "tax_name_matches_business" not in factors  # no business name on the case


def test_several_years_keep_the_latest_and_report_growth(tmp_path: Path) -> None:
    documents = [tax_pdf(tmp_path, "doc_2023", tax_year=2023, gross_receipts="1250000",
                         net_income="100000"),
                 tax_pdf(tmp_path, "doc_2022", tax_year=2022, gross_receipts="1000000",
                         net_income="60000")]
    factors = with_money(TaxReturnProcessor().execute(underwriting("Other Name Inc"),
                                                      documents).factors)
    assert factors["tax_year"] == 2023
    assert factors["tax_years"] == [2022, 2023]
    assert factors["tax_return_count"] == 2
    assert factors["tax_prior_year"] == 2022
    assert factors["tax_prior_gross_receipts"] == Decimal("1000000.00")
    assert factors["tax_gross_receipts_growth"] == 0.25  # 1,250,000 / 1,000,000 - 1
    assert factors["tax_name_matches_business"] is False


def test_growth_uses_the_nearest_earlier_year(tmp_path: Path) -> None:
    documents = [tax_pdf(tmp_path, "doc_2021", tax_year=2021, gross_receipts="800000",
                         net_income="1000"),
                 tax_pdf(tmp_path, "doc_2023", tax_year=2023, gross_receipts="600000",
                         net_income="1000")]
    factors = TaxReturnProcessor().execute(underwriting(), documents).factors
    assert factors["tax_prior_year"] == 2021
    assert factors["tax_gross_receipts_growth"] == -0.25  # 600,000 / 800,000 - 1


def test_consolidate_pools_returns_of_several_executions(tmp_path: Path) -> None:
    processor = TaxReturnProcessor()
    outputs = [processor.execute(underwriting(), [tax_pdf(
        tmp_path, f"doc_{year}", tax_year=year, gross_receipts=gross, net_income="1000")]).output
        for year, gross in ((2023, "1250000"), (2022, "1000000"))]
    factors = TaxReturnProcessor.consolidate(outputs)
    assert (factors["tax_year"], factors["tax_prior_year"]) == (2023, 2022)
    assert factors["tax_gross_receipts"] == Decimal("1250000.00")
    assert factors["tax_gross_receipts_growth"] == Decimal("0.2500")


def test_missing_lines_are_a_permanent_error() -> None:
    text = ("Form 1120-S U.S. Income Tax Return for an S Corporation\nTax year 2023\n"
            "Name Sunrise Bakery LLC\n6 Total income (loss). Add lines 3 through 5\n")
    result = TaxReturnProcessor().execute(underwriting(), [text_document(TAX, text)])
    assert (result.status, result.error_code, result.error_class) == (
        ExecutionStatus.FAILED, "TAX_RETURN_INCOMPLETE", ErrorClass.PERMANENT)
    assert "gross receipts, net income" in (result.error_message or "")


def test_a_document_that_is_no_tax_return() -> None:
    result = TaxReturnProcessor().execute(
        underwriting(), [text_document(TAX, "INVOICE 1043\nTotal due 1,200.00")])
    assert (result.status, result.error_code) == (ExecutionStatus.FAILED, "TAX_FORM_UNRECOGNIZED")


def test_a_document_without_text() -> None:
    result = TaxReturnProcessor().execute(underwriting(), [text_document(TAX, "  ")])
    assert (result.error_code, result.error_class) == ("TAX_RETURN_NO_TEXT", ErrorClass.PERMANENT)


def test_unreadable_returns_are_skipped_when_another_one_reads(tmp_path: Path) -> None:
    good = tax_pdf(tmp_path, "doc_good", tax_year=2023, gross_receipts="500000", net_income="5")
    bad = text_document(TAX, "Form 1065 Tax year 2023 (pages missing)", "doc_bad")
    result = TaxReturnProcessor().execute(underwriting(), [bad, good])
    assert result.status is ExecutionStatus.COMPLETED
    assert result.factors["tax_return_count"] == 1
    assert result.output["unreadable"] == [{"document_id": "doc_bad",
                                            "error_code": "TAX_RETURN_INCOMPLETE"}]


def test_skipped_without_a_tax_return() -> None:
    license_only = text_document(DocumentType.DRIVERS_LICENSE, "DRIVER LICENSE")
    result = TaxReturnProcessor().execute(underwriting(), [license_only])
    assert result.skipped and result.status is ExecutionStatus.COMPLETED


def test_a_caption_without_its_amount_is_not_read_as_one() -> None:
    assert line_amount("6 Total income (loss). Add lines 3 through 5", "Total income") is None
    assert line_amount("6 Total income (loss). Add lines 3 through 5 . . . 950",
                       "Total income") == Decimal("950.00")
    assert line_amount("1a Gross receipts or sales $1,234.", "Gross receipts") == Decimal("1234.00")
