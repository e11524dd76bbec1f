"""Load an underwriting and its documents: fetch concurrently, extract, classify.

Seed 000 step 2. Nothing here raises for one bad document: it carries its error code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aura_dagster.domain.documents import Document, DocumentType, ProcessingStatus
from aura_dagster.domain.documents.classification import classify_document
from aura_dagster.domain.documents.extraction import EXTRACTION_MAX_PAGES, extract_document
from aura_dagster.domain.processors.base import UnderwritingContext

ContentFetcher = Callable[[str], bytes]


class UnknownUnderwritingError(LookupError):
    pass


class TenantMismatchError(PermissionError):
    pass


@dataclass(frozen=True)
class CaseFile:
    """Everything the processors of one underwriting are given."""

    underwriting: UnderwritingContext
    documents: tuple[Document, ...]

    @property
    def underwriting_id(self) -> str:
        return self.underwriting.underwriting_id

    @property
    def organization_id(self) -> str:
        return self.underwriting.organization_id


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.now(dt.UTC).date()


def _document_from_row(row: dict[str, Any]) -> Document:
    doc_type = row.get("document_type")
    metadata = dict(row.get("metadata") or {})
    return Document(
        document_id=row["id"],
        revision_id=row["revision_id"],
        content_location=row["content_location"],
        document_type=DocumentType(doc_type) if doc_type else None,
        metadata=metadata,
        filename=row.get("filename") or metadata.get("filename"),
    )


def _prepare(doc: Document, fetch: ContentFetcher) -> Document:
    """Fetch, extract and classify one document; never raises."""
    try:
        content = fetch(doc.content_location)
    except (OSError, ValueError) as exc:
        return doc.with_changes(extraction_error="CONTENT_UNAVAILABLE",
                                processing_status=ProcessingStatus.FAILED,
                                metadata={**doc.metadata, "error": str(exc)})
    doc = extract_document(doc.with_changes(content=content), max_pages=EXTRACTION_MAX_PAGES)
    if doc.extraction_error is None:
        doc = classify_document(doc)
    return doc


def load_case(store: Any, fetch: ContentFetcher, underwriting_id: str, *,
              organization_id: str | None = None,
              document_ids: Sequence[str] | None = None,
              max_workers: int = 8) -> CaseFile:
    """Read the underwriting, fetch its documents in parallel and record their status."""
    row = store.underwritings.get_underwriting(underwriting_id)
    if row is None:
        raise UnknownUnderwritingError(f"underwriting {underwriting_id!r} does not exist")
    if organization_id is not None and organization_id != row["organization_id"]:
        raise TenantMismatchError(
            f"event says organization {organization_id!r} but underwriting {underwriting_id!r} "
            f"belongs to another organization")
    org = row["organization_id"]
    # No ids (a backfill, or an event without documents): every document of the case.
    ids = list(document_ids) if document_ids else None
    rows = store.underwritings.get_documents(underwriting_id, ids, organization_id=org)
    docs = [_document_from_row(r) for r in rows]
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(docs) or 1))) as pool:
        prepared = list(pool.map(lambda d: _prepare(d, fetch), docs))
    for doc in prepared:
        store.underwritings.update_document(
            doc.document_id,
            document_type=doc.document_type.value if doc.document_type else None,
            processing_status=doc.processing_status.value,
        )
    context = UnderwritingContext(
        underwriting_id=underwriting_id, organization_id=org,
        business_name=row.get("business_name"), business_state=row.get("business_state"),
        as_of=_as_date(row.get("created_at")),
    )
    return CaseFile(context, tuple(prepared))
