"""Register tenants, underwritings and documents: what the lending platform does before
it publishes `underwriting.created`. The demo and the tests use it; so can an operator."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aura_dagster.storage import Stores


@dataclass(frozen=True)
class DocumentSpec:
    document_id: str
    path: Path  # the file; stored as a location relative to the documents root
    document_type: str | None = None  # None: the engine classifies it from its content
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UnderwritingSpec:
    underwriting_id: str
    organization_id: str
    business_name: str | None
    business_state: str | None
    documents: tuple[DocumentSpec, ...] = ()


def revision_of(path: Path) -> str:
    """A document revision is its content: new bytes, new revision, new payload hash."""
    return "rev_" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def register_tenant(stores: Stores, organization_id: str,
                    purchases: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """Buy processors for a tenant (processor id -> tenant config); skips ones already bought."""
    owned = {p["processor"] for p in
             stores.processors.get_purchased_processors_by_organization(organization_id)}
    return [
        stores.processors.create_purchased_processor(organization_id, processor,
                                                     config=dict(config or {}))
        for processor, config in purchases.items() if processor not in owned
    ]


def register_underwriting(stores: Stores, spec: UnderwritingSpec, documents_root: Path) -> None:
    """Store the underwriting and its documents (content stays in the documents folder)."""
    stores.underwritings.upsert_underwriting(spec.underwriting_id, spec.organization_id,
                                             spec.business_name, spec.business_state)
    root = documents_root.resolve()
    for doc in spec.documents:
        path = doc.path.resolve()
        location = str(path.relative_to(root)) if path.is_relative_to(root) else f"file://{path}"
        stores.underwritings.upsert_document(
            doc.document_id, spec.underwriting_id, document_type=doc.document_type,
            revision_id=revision_of(path), content_location=location, filename=path.name,
            metadata=doc.metadata, organization_id=spec.organization_id)


def underwriting_created_event(spec: UnderwritingSpec, *, priority: str = "normal",
                               document_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """The event the platform publishes for this underwriting."""
    return {"event": "underwriting.created",
            "data": {"underwriting_id": spec.underwriting_id,
                     "organization_id": spec.organization_id,
                     "documents": list(document_ids if document_ids is not None
                                       else [d.document_id for d in spec.documents]),
                     "priority": priority}}
