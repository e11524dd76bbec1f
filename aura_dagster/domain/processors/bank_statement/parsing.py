"""From a file's bytes to Statements: extraction, then the reader for its kind."""

from __future__ import annotations

from aura_dagster.domain.documents.errors import NoTextLayerError
from aura_dagster.domain.documents.extraction import (
    DEFAULT_MAX_PAGES,
    extract_pdf_words,
    extract_text,
    sniff_kind,
)
from aura_dagster.domain.documents.words import PageWords
from aura_dagster.domain.processors.bank_statement.csv_export import parse_statement_csv
from aura_dagster.domain.processors.bank_statement.model import Statement
from aura_dagster.domain.processors.bank_statement.ofx_export import parse_statement_ofx
from aura_dagster.domain.processors.bank_statement.pdf_table import read_pdf_statements


def parse_statements(content: bytes, filename: str, *, max_pages: int = DEFAULT_MAX_PAGES,
                     document_id: str | None = None) -> list[Statement]:
    """Every statement in one file (a PDF or an OFX file may hold several).

    Raises a DocumentError when the file cannot be read (an image-only PDF where OCR is
    not installed: OcrUnavailableError), a StatementParseError when it can be read but
    holds no statement.
    """
    if sniff_kind(content, filename) == "pdf" and b"%PDF-" in content[:1024]:
        pages = pdf_pages(content, max_pages=max_pages, document_id=document_id)
        return read_pdf_statements(pages, source=filename)
    extracted = extract_text(content, filename, max_pages=max_pages, document_id=document_id)
    if extracted.kind == "csv":
        return [parse_statement_csv(extracted.text, source=filename)]
    return parse_statement_ofx(content, source=filename)


def pdf_pages(content: bytes, *, max_pages: int = DEFAULT_MAX_PAGES,
              document_id: str | None = None) -> list[PageWords]:
    """The words of every page: from the text layer, or by OCR when no page has one."""
    pages = extract_pdf_words(content, max_pages=max_pages, document_id=document_id)
    if any(page.words for page in pages):
        return pages
    from aura_dagster.domain.documents.ocr import ocr_pages  # only scans pay its import

    pages = ocr_pages(content, max_pages=max_pages, document_id=document_id)
    if not any(page.words for page in pages):
        raise NoTextLayerError(f"OCR found no words on any of the {len(pages)} page(s)",
                               document_id=document_id)
    return pages
