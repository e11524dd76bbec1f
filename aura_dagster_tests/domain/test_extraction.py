from __future__ import annotations

import time

import pytest
from fpdf import FPDF

from aura_dagster.domain.documents import (
    CorruptDocumentError,
    Document,
    EmptyDocumentError,
    EncryptedDocumentError,
    NoTextLayerError,
    ProcessingStatus,
    TooManyPagesError,
    UnsupportedDocumentError,
    WrongEncodingError,
    extract_document,
    extract_text,
)
from aura_dagster.sample_data.bank_statements import (
    long_statement,
    render_csv_signed,
    render_ofx_sgml,
    render_pdf,
    sample_statements,
)


def _text_pdf(pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for index in range(pages):
        pdf.add_page()
        pdf.cell(text=f"page {index + 1} of a statement")
    return bytes(pdf.output())


def test_pdf_text_is_extracted_per_page() -> None:
    extracted = extract_text(render_pdf(sample_statements()[0]), "jan.pdf")
    assert extracted.kind == "pdf"
    assert extracted.page_count == len(extracted.pages) == 3
    assert "Beginning Balance: $8,000.00" in extracted.pages[0]


def test_pdf_is_sniffed_whatever_its_name() -> None:
    assert extract_text(_text_pdf(), "statement.csv").kind == "pdf"
    assert extract_text(_text_pdf(), "no_extension").kind == "pdf"


def test_csv_and_ofx_are_text() -> None:
    csv_text = extract_text(render_csv_signed(list(sample_statements()[:1])), "export.csv")
    assert csv_text.kind == "csv" and csv_text.text.startswith("Date,Description")
    ofx = extract_text(render_ofx_sgml(sample_statements()[0]), "export.qfx")
    assert ofx.kind == "ofx" and "<STMTTRN>" in ofx.text


def test_utf8_bom_csv_is_decoded() -> None:
    assert extract_text("\ufeffDate,Amount\n01/02/2024,1.00\n".encode(), "a.csv").text.startswith(
        "Date")


@pytest.mark.parametrize("content", [b"", b"   \n\t "])
def test_empty_file(content: bytes) -> None:
    with pytest.raises(EmptyDocumentError) as info:
        extract_text(content, "statement.pdf", document_id="doc_9")
    assert info.value.code == "EMPTY_DOCUMENT" and info.value.document_id == "doc_9"


@pytest.mark.parametrize("content", [b"this is not a pdf at all", b"%PDF-1.4\n garbage \x00\x01"])
def test_corrupt_pdf(content: bytes) -> None:
    with pytest.raises(CorruptDocumentError):
        extract_text(content, "statement.pdf")


def test_encrypted_pdf() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(text="secret statement")
    pdf.set_encryption(owner_password="owner", user_password="user")
    with pytest.raises(EncryptedDocumentError) as info:
        extract_text(bytes(pdf.output()), "locked.pdf")
    assert info.value.code == "ENCRYPTED_DOCUMENT"


def test_owner_password_only_pdf_opens() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(text="printable statement")
    pdf.set_encryption(owner_password="owner")
    assert "printable statement" in extract_text(bytes(pdf.output()), "x.pdf").text


def test_image_only_pdf_has_no_text_layer() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(40, 40, 40)
    pdf.rect(20, 20, 120, 60, style="F")  # a "scan": drawing only, no text objects
    pdf.line(20, 100, 180, 100)
    with pytest.raises(NoTextLayerError):
        extract_text(bytes(pdf.output()), "scan.pdf")


def test_wrong_encoding_csv() -> None:
    latin1 = "Date,Description,Amount\n01/02/2024,Café Lumière,-4.50\n".encode("latin-1")
    with pytest.raises(WrongEncodingError):
        extract_text(latin1, "export.csv")
    with pytest.raises(WrongEncodingError):
        extract_text(b"Date,Amount\n\x00\x00\x00binary", "export.csv")


def test_unsupported_format() -> None:
    with pytest.raises(UnsupportedDocumentError):
        extract_text(b"\x89PNG\r\n\x1a\n\x00\x00 image bytes", "photo.png")


def test_too_many_pages() -> None:
    with pytest.raises(TooManyPagesError):
        extract_text(_text_pdf(pages=4), "long.pdf", max_pages=3)
    assert extract_text(_text_pdf(pages=3), "ok.pdf", max_pages=3).page_count == 3


def test_200_page_statement_is_extracted_fast() -> None:
    content = render_pdf(long_statement(pages=200))
    started = time.perf_counter()
    extracted = extract_text(content, "long.pdf")
    assert time.perf_counter() - started < 5.0
    assert extracted.page_count == 200


def test_extract_document_success_and_failures() -> None:
    base = Document("doc_1", "rev_1", "gs://bucket/jan.pdf")
    ok = extract_document(base.with_changes(content=_text_pdf()))
    assert ok.processing_status is ProcessingStatus.EXTRACTED
    assert ok.page_count == 1 and "page 1" in (ok.text or "") and ok.extraction_error is None
    broken = extract_document(base.with_changes(content=b"not a pdf"))
    assert broken.processing_status is ProcessingStatus.FAILED
    assert broken.extraction_error == "CORRUPT_DOCUMENT" and broken.text is None
    missing = extract_document(base)
    assert missing.processing_status is ProcessingStatus.FAILED and missing.extraction_error
