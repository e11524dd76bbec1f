"""`underwriting_documents`: the underwriting's documents as an external upstream asset.

The platform owns the documents; this engine does not compute them, so the asset is an
external `AssetSpec` partitioned like the others. The load step reports a materialization
of the partition each time it reads the documents (revisions, types, classification
confidence), so lineage starts at the documents: documents → executions → factors →
review → completion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetMaterialization, AssetSpec, MetadataValue, TableRecord

from aura_dagster.assets.catalog import DOCUMENT_COLUMN_DOCS, asset_page, table_schema
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.services.case import CaseFile

DOCUMENTS_KEY = "underwriting_documents"

underwriting_documents = AssetSpec(
    DOCUMENTS_KEY, partitions_def=underwriting_partitions, group_name="underwriting",
    description="The underwriting's documents (bank statements, tax returns, licenses) as the "
                "platform registered them: revision, type and classification confidence. "
                "Reported by the load step of each run; the processors read these revisions.")


def partition_metadata(organization_id: str, business_name: str | None) -> dict[str, Any]:
    """Who a partition is about: shown with every materialization of the underwriting."""
    return {"organization_id": organization_id, "business_name": business_name or ""}


def document_rows(case: CaseFile) -> list[dict[str, Any]]:
    return [{
        "document_id": d.document_id,
        "document_type": d.document_type.value if d.document_type else "unknown",
        "revision_id": d.revision_id,
        "classification_confidence": d.classification_confidence,
        "page_count": d.page_count,
        "processing_status": d.extraction_error or d.processing_status.value,
    } for d in case.documents]


def documents_materialization(case: CaseFile) -> AssetMaterialization:
    """The partition of `underwriting_documents` the run read."""
    rows = document_rows(case)
    return AssetMaterialization(
        asset_key=DOCUMENTS_KEY, partition=case.underwriting_id,
        description=f"{len(rows)} document(s) read by the load step",
        metadata={
            **partition_metadata(case.organization_id, case.underwriting.business_name),
            "document_revision_ids": [r["revision_id"] for r in rows],
            "document_types": {r["document_id"]: r["document_type"] for r in rows},
            "classification_confidence": {r["document_id"]: r["classification_confidence"]
                                          for r in rows
                                          if r["classification_confidence"] is not None},
            "documents": MetadataValue.table(
                records=[TableRecord(_record(r)) for r in rows],
                schema=table_schema(DOCUMENT_COLUMN_DOCS)),
            "dagster/row_count": len(rows),
            "executions": MetadataValue.url(asset_page("processor_executions",
                                                       case.underwriting_id)),
        })


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    # Table records take str/int/float/bool only, and every record the same fields: an
    # unknown value (an unreadable document has no page count) is shown empty.
    return {k: "" if v is None else v for k, v in row.items()}
