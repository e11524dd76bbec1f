from __future__ import annotations

import pytest

from aura_dagster.domain.documents import (
    Document,
    DocumentType,
    ProcessingStatus,
    classify_document,
    classify_text,
    extract_document,
)
from aura_dagster.sample_data.bank_statements import (
    render_csv_signed,
    render_csv_split,
    render_ofx_sgml,
    render_ofx_xml,
    render_pdf,
    sample_statements,
)

TAX_RETURN = """Form 1120-S  U.S. Income Tax Return for an S Corporation  OMB No. 1545-0123
Department of the Treasury Internal Revenue Service   Tax year 2023
Name ACME BAKERY LLC   Employer identification number 12-3456789
1a Gross receipts or sales 612,430   Ordinary business income (loss) 84,211
"""
DRIVERS_LICENSE = """CALIFORNIA DRIVER LICENSE
DL D1234567  CLASS C  EXP 08/31/2028
LN DOE FN JANE  DOB 04/12/1984  SEX F  HGT 5-06  EYES BRN  ISS 08/31/2020
"""


def _document(name: str, content: bytes, **kw: object) -> Document:
    return extract_document(Document("doc_1", "rev_1", f"local/{name}", filename=name,
                                     content=content, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("index", [0, 3])
def test_pdf_statements_are_bank_statements(index: int) -> None:
    doc = classify_document(_document("upload.pdf", render_pdf(sample_statements()[index])))
    assert doc.document_type is DocumentType.BANK_STATEMENT
    assert doc.classification_confidence is not None and doc.classification_confidence >= 0.8
    assert doc.processing_status is ProcessingStatus.CLASSIFIED


@pytest.mark.parametrize("name, content", [
    ("a.csv", render_csv_signed(list(sample_statements()[:1]))),
    ("b.csv", render_csv_split(sample_statements()[3])),
    ("c.ofx", render_ofx_sgml(sample_statements()[0])),
    ("d.ofx", render_ofx_xml(sample_statements()[4])),
])
def test_exports_are_bank_statements(name: str, content: bytes) -> None:
    doc = classify_document(_document(name, content))
    assert doc.document_type is DocumentType.BANK_STATEMENT


def test_tax_return_text() -> None:
    result = classify_text(TAX_RETURN, "scan_0001.pdf")
    assert result.document_type is DocumentType.TAX_RETURN
    assert result.confidence >= 0.8 and result.reasons


def test_drivers_license_text() -> None:
    result = classify_text(DRIVERS_LICENSE)
    assert result.document_type is DocumentType.DRIVERS_LICENSE
    assert 0.5 <= result.confidence <= 1.0


def test_other_text() -> None:
    result = classify_text("Minutes of the annual meeting of members. Quorum present.")
    assert result.document_type is DocumentType.OTHER
    assert 0.0 <= result.confidence <= 1.0


def test_given_type_is_kept() -> None:
    doc = Document("doc_1", "rev_1", "x", document_type=DocumentType.TAX_RETURN,
                   text="Beginning Balance 1.00 Ending Balance 2.00")
    classified = classify_document(doc)
    assert classified.document_type is DocumentType.TAX_RETURN
    assert classified.classification_confidence == 1.0
    from_metadata = classify_document(Document("doc_2", "rev_1", "x", text="anything",
                                               metadata={"document_type": "drivers_license"}))
    assert from_metadata.document_type is DocumentType.DRIVERS_LICENSE


def test_failed_extraction_is_classified_by_name_and_stays_failed() -> None:
    doc = classify_document(_document("bank_statement_jan.pdf", b"not a pdf"))
    assert doc.processing_status is ProcessingStatus.FAILED
    assert doc.document_type is DocumentType.BANK_STATEMENT
    assert doc.classification_confidence == 0.3
