"""Helpers shared by the vendor and document processor tests (no fixtures here)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from aura_dagster.domain.documents.extraction import extract_text
from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.processors.base import ExecutionContext, UnderwritingContext

# Every expected value in these tests is worked out at this date.
AS_OF = dt.date(2025, 6, 30)


def underwriting(business_name: str | None = None, business_state: str | None = None,
                 as_of: dt.date = AS_OF) -> UnderwritingContext:
    return UnderwritingContext(underwriting_id="uw_test", organization_id="org_test",
                               business_name=business_name, business_state=business_state,
                               as_of=as_of)


def execution_context(seconds: float = 5.0, *, as_of: dt.date = AS_OF,
                      config: dict[str, Any] | None = None) -> ExecutionContext:
    """A context whose deadline is `seconds` from now (for calling the client directly)."""
    return ExecutionContext(underwriting(as_of=as_of), config or {}, time.monotonic() + seconds)


def text_document(document_type: DocumentType, text: str | None, document_id: str = "doc_1",
                  metadata: dict[str, Any] | None = None) -> Document:
    return Document(document_id=document_id, revision_id=f"{document_id}_r1",
                    content_location=f"memory://{document_id}", document_type=document_type,
                    metadata=metadata or {}, text=text)


def pdf_document(document_type: DocumentType, path: Path, document_id: str = "doc_1",
                 metadata: dict[str, Any] | None = None) -> Document:
    """A document as the engine hands it over: bytes plus the extracted text layer."""
    content = path.read_bytes()
    extracted = extract_text(content, path.name)
    return Document(document_id=document_id, revision_id=f"{document_id}_r1",
                    content_location=str(path), document_type=document_type,
                    metadata=metadata or {}, filename=path.name, content=content,
                    text=extracted.text, page_count=extracted.page_count)


def money(value: Any) -> Decimal:
    """A factor amount back as cents (factors leave `execute` JSON-ready)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))
