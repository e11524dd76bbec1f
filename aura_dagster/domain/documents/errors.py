"""Typed errors for documents that cannot be read. Each carries a stable code."""

from __future__ import annotations


class DocumentError(Exception):
    """A document could not be read; `code` is stable and safe to store."""

    code = "DOCUMENT_ERROR"

    def __init__(self, message: str, *, document_id: str | None = None) -> None:
        super().__init__(message)
        self.document_id = document_id

    def __str__(self) -> str:
        prefix = f"{self.document_id}: " if self.document_id else ""
        return f"{prefix}{self.args[0]}"


class EmptyDocumentError(DocumentError):
    code = "EMPTY_DOCUMENT"


class CorruptDocumentError(DocumentError):
    code = "CORRUPT_DOCUMENT"


class EncryptedDocumentError(DocumentError):
    code = "ENCRYPTED_DOCUMENT"


class NoTextLayerError(DocumentError):
    """An image-only PDF: there is no text to read without OCR."""

    code = "NO_TEXT_LAYER"


class WrongEncodingError(DocumentError):
    code = "WRONG_ENCODING"


class TooManyPagesError(DocumentError):
    code = "TOO_MANY_PAGES"


class UnsupportedDocumentError(DocumentError):
    code = "UNSUPPORTED_FORMAT"


class OcrUnavailableError(DocumentError):
    """A scan needs OCR and the tesseract binary is not installed (nor on PATH)."""

    code = "OCR_UNAVAILABLE"


class OcrFailedError(DocumentError):
    """Tesseract ran and failed on a page: it exited non-zero or ran out of time."""

    code = "OCR_FAILED"
