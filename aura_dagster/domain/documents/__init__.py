"""Underwriting documents: the model, text extraction and classification."""

from aura_dagster.domain.documents.classification import (
    Classification,
    classify_document,
    classify_text,
)
from aura_dagster.domain.documents.errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NoTextLayerError,
    OcrFailedError,
    OcrUnavailableError,
    TooManyPagesError,
    UnsupportedDocumentError,
    WrongEncodingError,
)
from aura_dagster.domain.documents.extraction import (
    DEFAULT_MAX_PAGES,
    ExtractedText,
    extract_document,
    extract_text,
)
from aura_dagster.domain.documents.model import Document, DocumentType, ProcessingStatus

__all__ = [
    "DEFAULT_MAX_PAGES",
    "Classification",
    "ExtractedText",
    "classify_document",
    "classify_text",
    "extract_document",
    "extract_text",
    "CorruptDocumentError",
    "Document",
    "DocumentError",
    "DocumentType",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "NoTextLayerError",
    "OcrFailedError",
    "OcrUnavailableError",
    "ProcessingStatus",
    "TooManyPagesError",
    "UnsupportedDocumentError",
    "WrongEncodingError",
]
