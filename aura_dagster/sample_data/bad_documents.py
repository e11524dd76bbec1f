"""Documents that exist but cannot be read, as an uploader really produces them, plus a
600-page statement (real statement pages followed by blank ones) that parses when the
processor's `max_pages` allows it. For tests, the demo and fault-injection runs.

    content = BAD_DOCUMENTS["encrypted"]()   # bytes, to be stored under a .pdf name
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pypdfium2 as pdfium
from fpdf import FPDF
from PIL import Image

from aura_dagster.domain.documents.extraction import DEFAULT_MAX_PAGES


def _one_page(text: str, *, user_password: str | None = None) -> bytes:
    pdf = FPDF()
    if user_password:
        pdf.set_encryption(owner_password="owner-" + user_password, user_password=user_password)
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(text=text)
    return bytes(pdf.output())


def corrupt_pdf() -> bytes:
    """A PDF header, then a truncated body (an upload cut short)."""
    return _one_page("FIRST DEMO BANK statement")[:300]


def encrypted_pdf() -> bytes:
    """A statement saved with an open password (what banks' portals often do)."""
    return _one_page("FIRST DEMO BANK statement", user_password="1234")


def empty_file() -> bytes:
    return b""


def jpeg_named_pdf() -> bytes:
    """A phone photo of a statement uploaded as `statement.pdf`."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (240, 240, 235)).save(buffer, "JPEG")
    return buffer.getvalue()


def too_many_pages(pages: int = DEFAULT_MAX_PAGES + 100) -> bytes:
    """More pages than the default limit, text on every page."""
    return padded_statement(_one_page("Account activity continued"), pages)


def padded_statement(statement_pdf: bytes, pages: int) -> bytes:
    """`statement_pdf` followed by blank pages up to `pages` (cheap to build: the pages are
    imported, not rendered), e.g. a real statement printed with its 'intentionally blank'
    back pages."""
    source = pdfium.PdfDocument(statement_pdf)
    blank = pdfium.PdfDocument(_one_page("This page is intentionally left blank."))
    merged = pdfium.PdfDocument.new()
    try:
        merged.import_pages(source)
        for _ in range(pages - len(source)):
            merged.import_pages(blank)
        buffer = io.BytesIO()
        merged.save(buffer)
        return buffer.getvalue()
    finally:
        for document in (merged, blank, source):
            document.close()


# name -> (content, the error code a reader reports)
BAD_DOCUMENTS: dict[str, tuple[Callable[[], bytes], str]] = {
    "corrupt": (corrupt_pdf, "CORRUPT_DOCUMENT"),
    "encrypted": (encrypted_pdf, "ENCRYPTED_DOCUMENT"),
    "empty": (empty_file, "EMPTY_DOCUMENT"),
    "jpeg_named_pdf": (jpeg_named_pdf, "UNSUPPORTED_FORMAT"),
    "too_many_pages": (too_many_pages, "TOO_MANY_PAGES"),
}
