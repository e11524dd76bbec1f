"""Underwriting documents: the model, text extraction and classification."""

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
from aura_dagster.domain.documents.model import Document, DocumentType, ProcessingStatus

__all__ = [
    "CorruptDocumentError",
    "Document",
    "DocumentError",
    "DocumentType",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "NoTextLayerError",
    "ProcessingStatus",
    "TooManyPagesError",
    "UnsupportedDocumentError",
    "WrongEncodingError",
]
