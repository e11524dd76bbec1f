"""The document record of seed 000 step 2."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class DocumentType(StrEnum):
    BANK_STATEMENT = "bank_statement"
    TAX_RETURN = "tax_return"
    DRIVERS_LICENSE = "drivers_license"
    OTHER = "other"


class ProcessingStatus(StrEnum):
    RECEIVED = "received"
    EXTRACTED = "extracted"
    CLASSIFIED = "classified"
    FAILED = "failed"


@dataclass(frozen=True)
class Document:
    """One document of an underwriting.

    `document_type` is None until the metadata or the classifier says what it is.
    `content` holds the raw bytes once fetched; `text` the extracted text layer
    (for CSV/OFX, the decoded file). `extraction_error` keeps the code of a
    document that could not be read, so processors can report it instead of crashing.
    """

    document_id: str
    revision_id: str
    content_location: str
    document_type: DocumentType | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    processing_status: ProcessingStatus = ProcessingStatus.RECEIVED
    filename: str | None = None
    content: bytes | None = field(default=None, repr=False)
    text: str | None = field(default=None, repr=False)
    page_count: int | None = None
    classification_confidence: float | None = None
    extraction_error: str | None = None

    def with_changes(self, **changes: Any) -> Document:
        return replace(self, **changes)

    @property
    def name(self) -> str:
        """File name used to pick a parser (extension), falling back to the location."""
        return self.filename or self.content_location.rsplit("/", 1)[-1]
