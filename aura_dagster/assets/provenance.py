"""Materialization metadata that walks a factor back to its sources in the UI.

`underwriting_factors` lists each factor with its execution, processor and version and links
to the partition's `processor_executions` materialization; that one lists each execution
with its documents and links to the partition's `underwriting_documents`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from aura_dagster.assets.catalog import asset_page
from aura_dagster.assets.documents import DOCUMENTS_KEY, partition_metadata
from aura_dagster.services.case import CaseFile
from aura_dagster.services.executions import ExecutionSummary

FACTOR_SOURCES = TableSchema(columns=[
    TableColumn("factor_name", "string"), TableColumn("processor", "string"),
    TableColumn("processor_version", "string"), TableColumn("execution_id", "string"),
    TableColumn("document_revision_ids", "string")])
EXECUTION_SOURCES = TableSchema(columns=[
    TableColumn("processor", "string"), TableColumn("execution_id", "string"),
    TableColumn("status", "string"), TableColumn("processor_version", "string"),
    TableColumn("reused", "bool"), TableColumn("computed_run_id", "string"),
    TableColumn("document_revision_ids", "string")])


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def factor_catalog_metadata(case: CaseFile, rows: Sequence[Mapping[str, Any]]
                            ) -> dict[str, Any]:
    return {
        **partition_metadata(case.organization_id, case.underwriting.business_name),
        "factor_sources": MetadataValue.table(records=[TableRecord({
            "factor_name": r["factor_name"], "processor": r["processor"],
            "processor_version": _text(r.get("processor_version")),
            "execution_id": _text(r.get("execution_id")),
            "document_revision_ids": ",".join(r.get("document_revision_ids") or ()),
        }) for r in rows], schema=FACTOR_SOURCES),
        "executions": MetadataValue.url(asset_page("processor_executions",
                                                   case.underwriting_id)),
    }


def execution_catalog_metadata(case: CaseFile, summaries: Sequence[ExecutionSummary]
                               ) -> dict[str, Any]:
    return {
        **partition_metadata(case.organization_id, case.underwriting.business_name),
        "execution_sources": MetadataValue.table(records=[TableRecord({
            "processor": s.processor_id, "execution_id": s.execution_id,
            "status": s.status.value, "processor_version": s.processor_version,
            "reused": s.reused, "computed_run_id": _text(s.computed_run_id),
            "document_revision_ids": ",".join(s.document_revision_ids),
        }) for s in summaries], schema=EXECUTION_SOURCES),
        "documents": MetadataValue.url(asset_page(DOCUMENTS_KEY, case.underwriting_id)),
    }
