"""Text extraction: PDF text layers (pypdfium2), CSV and OFX/QFX exports decoded as text.

The kind of a file is sniffed from its bytes first (a PDF is a PDF by its `%PDF`
header whatever it is called; an OFX file by its `OFXHEADER` / `<OFX>` marker) and
from its extension second. Every failure is one of the typed errors of
`documents.errors`, so callers can store a stable code instead of a traceback.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from aura_dagster.domain.documents.errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NoTextLayerError,
    TooManyPagesError,
    UnsupportedDocumentError,
    WrongEncodingError,
)
from aura_dagster.domain.documents.model import Document, ProcessingStatus
from aura_dagster.domain.documents.words import PageWords, Word

# A year of daily-volume statements runs to a few hundred pages; beyond this it is
# more likely a mistake (a scanned archive) than a statement worth the CPU.
DEFAULT_MAX_PAGES = 500
# What the load step reads at most. Each processor then applies its own `max_pages`
# (default DEFAULT_MAX_PAGES), so a longer statement parses when a tenant raises it.
EXTRACTION_MAX_PAGES = 5000

PDF_EXTENSIONS = frozenset({".pdf"})
CSV_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
OFX_EXTENSIONS = frozenset({".ofx", ".qfx", ".qbo"})

# Images a scanner or phone may hand over under a .pdf name.
_IMAGE_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"),
                (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))

# PDFium is not thread-safe; processors run in threads, so every call goes through this lock.
_PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class ExtractedText:
    """The text of one file. For CSV and OFX, `pages` holds the whole text once."""

    kind: str  # "pdf" | "csv" | "ofx"
    text: str
    pages: list[str]
    page_count: int


def _extension(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def sniff_kind(content: bytes, filename: str) -> str | None:
    """'pdf', 'ofx' or 'csv' from the bytes, then the extension; None when neither says."""
    head = content[:2048]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    upper_head = head.upper()
    if b"OFXHEADER" in upper_head or b"<OFX>" in upper_head:
        return "ofx"
    ext = _extension(filename)
    if ext in PDF_EXTENSIONS:
        return "pdf"  # named .pdf without a PDF header: reported as corrupt by the reader
    if ext in OFX_EXTENSIONS:
        return "ofx"
    if ext in CSV_EXTENSIONS:
        return "csv"
    if _looks_like_csv(head):
        return "csv"
    return None


def _looks_like_csv(head: bytes) -> bool:
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    lines = [line for line in text.splitlines() if line.strip()][:5]
    return len(lines) >= 2 and all("," in line for line in lines)


def _decode_text(content: bytes, document_id: str | None, *, legacy_ok: bool) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16; OFX 1.x may also be Windows-1252."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise WrongEncodingError(f"invalid UTF-16 text: {exc}",
                                     document_id=document_id) from exc
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if not legacy_ok:
                raise WrongEncodingError(
                    f"not UTF-8 text (byte {exc.start}: {content[exc.start:exc.start + 1]!r})",
                    document_id=document_id) from exc
            text = content.decode("cp1252", errors="replace")  # OFX 1.x declares CHARSET:1252
    # Binary data can be valid UTF-8; control characters say it is not text.
    if any(ch in text for ch in ("\x00", "\x01", "\x02", "\x03", "\x04", "\x1a")):
        raise WrongEncodingError("binary content where text was expected", document_id=document_id)
    return text


@contextmanager
def _open_pdf(content: bytes, max_pages: int,
              document_id: str | None) -> Iterator[pdfium.PdfDocument]:
    """The open document under the PDFium lock; every failure as a typed DocumentError."""
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(content)
        except pdfium.PdfiumError as exc:
            code = getattr(exc, "err_code", None)
            if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
                raise EncryptedDocumentError("the PDF is password-protected",
                                             document_id=document_id) from exc
            raise CorruptDocumentError(f"the PDF cannot be read: {exc}",
                                       document_id=document_id) from exc
        try:
            page_count = len(pdf)
            if page_count == 0:
                raise CorruptDocumentError("the PDF has no pages", document_id=document_id)
            if page_count > max_pages:
                raise TooManyPagesError(f"{page_count} pages, above the limit of {max_pages}",
                                        document_id=document_id)
            yield pdf
        except pdfium.PdfiumError as exc:
            raise CorruptDocumentError(f"a PDF page cannot be read: {exc}",
                                       document_id=document_id) from exc
        finally:
            pdf.close()


def _extract_pdf(content: bytes, max_pages: int, document_id: str | None) -> ExtractedText:
    pages: list[str] = []
    with _open_pdf(content, max_pages, document_id) as pdf:
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    raw = textpage.get_text_range()
                finally:
                    textpage.close()
            finally:
                page.close()
            pages.append(raw.replace("\r\n", "\n").replace("\r", "\n"))
    page_count = len(pages)
    if not any(page.strip() for page in pages):
        raise NoTextLayerError(f"none of the {page_count} page(s) has a text layer (scanned?)",
                               document_id=document_id)
    return ExtractedText("pdf", "\n\f".join(pages), pages, page_count)


_WORD = re.compile(r"\S+")


def _page_words(page: pdfium.PdfPage, number: int) -> PageWords:
    """Each whitespace-separated word with the box from its first to its last character.

    PDFium's text page puts a space (or a line break) between text objects that sit apart,
    so table cells come out as separate words; asking for two character boxes a word, not
    one per character, keeps this about 50x faster than pdfplumber's text extraction.
    """
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        if len(text) != count:  # a character outside the BMP: one index per PDFium char
            text = "".join(chr(pdfium_c.FPDFText_GetUnicode(raw, i)) for i in range(count))
        words: list[Word] = []
        left, right = ctypes.c_double(), ctypes.c_double()
        bottom, top = ctypes.c_double(), ctypes.c_double()
        box = pdfium_c.FPDFText_GetCharBox
        refs = (ctypes.byref(left), ctypes.byref(right), ctypes.byref(bottom), ctypes.byref(top))
        for match in _WORD.finditer(text):
            box(raw, match.start(), *refs)
            x0, y_top, y_bottom = left.value, top.value, bottom.value
            box(raw, match.end() - 1, *refs)
            words.append(Word(match.group(), x0, right.value, height - max(y_top, top.value),
                              height - min(y_bottom, bottom.value)))
    finally:
        textpage.close()
    return PageWords(number, width, height, words, "text")


def extract_pdf_words(content: bytes, *, max_pages: int = DEFAULT_MAX_PAGES,
                      document_id: str | None = None) -> list[PageWords]:
    """Every page's words with their boxes. A page without a text layer has no words; the
    caller decides (OCR, or NoTextLayerError). Raises a DocumentError subclass."""
    if not content or not content.strip():
        raise EmptyDocumentError("the file is empty", document_id=document_id)
    if b"%PDF-" not in content[:1024]:
        raise CorruptDocumentError("named like a PDF but has no PDF header",
                                   document_id=document_id)
    pages: list[PageWords] = []
    with _open_pdf(content, max_pages, document_id) as pdf:
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                pages.append(_page_words(page, index + 1))
            finally:
                page.close()
    return pages


def extract_text(content: bytes, filename: str, *, max_pages: int = DEFAULT_MAX_PAGES,
                 document_id: str | None = None) -> ExtractedText:
    """Read the text of a PDF, CSV or OFX/QFX file. Raises a DocumentError subclass."""
    if not content or not content.strip():
        raise EmptyDocumentError("the file is empty", document_id=document_id)
    kind = sniff_kind(content, filename)
    if kind == "pdf":
        if b"%PDF-" not in content[:1024]:
            image = next((name for magic, name in _IMAGE_MAGIC if content.startswith(magic)),
                         None)
            if image:
                raise UnsupportedDocumentError(f"a {image} image named like a PDF",
                                               document_id=document_id)
            raise CorruptDocumentError("named like a PDF but has no PDF header",
                                       document_id=document_id)
        return _extract_pdf(content, max_pages, document_id)
    if kind == "ofx":
        text = _decode_text(content, document_id, legacy_ok=True)
        return ExtractedText("ofx", text, [text], 1)
    if kind == "csv":
        text = _decode_text(content, document_id, legacy_ok=False)
        if not text.strip():
            raise EmptyDocumentError("the file has no text", document_id=document_id)
        return ExtractedText("csv", text, [text], 1)
    raise UnsupportedDocumentError(
        f"{filename or 'the file'} is neither a PDF, a CSV nor an OFX/QFX file",
        document_id=document_id)


def extract_document(doc: Document, *, max_pages: int = DEFAULT_MAX_PAGES) -> Document:
    """Extract `doc.content` into `doc.text`. Never raises: failures set `extraction_error`."""
    if doc.content is None:
        return doc.with_changes(extraction_error="CONTENT_MISSING",
                                processing_status=ProcessingStatus.FAILED)
    try:
        extracted = extract_text(doc.content, doc.name, max_pages=max_pages,
                                 document_id=doc.document_id)
    except DocumentError as exc:
        return doc.with_changes(extraction_error=exc.code,
                                processing_status=ProcessingStatus.FAILED)
    return doc.with_changes(text=extracted.text, page_count=extracted.page_count,
                            extraction_error=None, processing_status=ProcessingStatus.EXTRACTED)
