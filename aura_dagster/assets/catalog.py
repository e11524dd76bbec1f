"""The asset catalog, like Dagster's own platform: kinds, owners, tags, column schemas
(`dagster/column_schema`), code references and lineage from the documents.

Applied to the asset definitions when the Definitions are built (`catalog_assets`), so the
assets' code stays about computing; the storage kinds follow the resources in use (SQLite
embedded, PostgreSQL or BigQuery in production).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BetaWarning,
    CodeReferencesMetadataValue,
    EnvVar,
    LocalFileCodeReference,
    TableColumn,
    TableSchema,
    with_source_code_references,
)

from aura_dagster.domain.factor_dictionary import FactorEntry, factor_dictionary

PLATFORM = "team:underwriting-platform"
DATA = "team:data"
OPERATIONAL_COLUMN_TYPES = {"number": "float", "integer": "int", "boolean": "bool",
                            "date": "date", "string": "string", "list": "json",
                            "object": "json"}

# (column, type, description) per warehouse table; a test checks they match the frames.
EXECUTION_COLUMN_DOCS: tuple[tuple[str, str, str], ...] = (
    ("underwriting_id", "string", "The underwriting (the partition key)."),
    ("organization_id", "string", "The lender (tenant)."),
    ("computed_run_id", "string",
     "Dagster run that computed the execution (store: processor_executions.run_id)."),
    ("materialized_run_id", "string",
     "Dagster run that wrote this partition; differs from computed_run_id when reused."),
    ("processor", "string", "Processor id, e.g. p_bank_statement."),
    ("underwriting_processor_id", "string", "The underwriting's processor (store id)."),
    ("execution_id", "string",
     "Execution id, canonical UUID text (store: processor_executions.id)."),
    ("status", "string", "completed | failed | timeout | cancelled."),
    ("reused", "bool", "True when an earlier execution with the same payload hash was reused."),
    ("skipped", "bool", "True when the processor decided not to run (no document of its type)."),
    ("payload_hash", "string", "Hash of processor, version, config, documents and business."),
    ("processor_version", "string", "Version of the processor code that computed it."),
    ("document_revision_ids", "string", "Document revisions it read, comma-separated."),
    ("execution_time_s", "float", "Processing time in seconds."),
    ("cost_cents", "int", "Cost charged by this run (0 when reused)."),
    ("confidence", "float", "The processor's confidence in its result (0-1)."),
    ("error_code", "string", "Error code when it failed or timed out."),
    ("error_message", "string", "Error message when it failed or timed out."),
    ("error_class", "string", "temporary | permanent | critical."),
    ("attempt", "int", "Attempt number within the run (retries of temporary errors)."),
)
FACTOR_COLUMN_DOCS: tuple[tuple[str, str, str], ...] = (
    ("underwriting_id", "string", "The underwriting (the partition key)."),
    ("organization_id", "string", "The lender (tenant)."),
    ("factor_name", "string", "Factor name; see docs/factors.md."),
    ("value_json", "json", "The value as JSON text."),
    ("value_numeric", "float", "The value when it is a number (float), else null."),
    ("processor", "string", "Processor that produced it."),
    ("execution_id", "string", "Execution it came from (processor_executions.execution_id)."),
    ("processor_version", "string", "Version of the processor that produced it."),
    ("document_revision_ids", "string",
     "Document revisions it was computed from, comma-separated."),
    ("computed_at", "timestamp", "When the factors were consolidated."),
)
REVIEW_COLUMN_DOCS: tuple[tuple[str, str, str], ...] = (
    ("underwriting_id", "string", "The underwriting (the partition key)."),
    ("organization_id", "string", "The lender (tenant)."),
    ("status", "string", "auto_approved | approved | awaiting_review."),
    ("reasons", "json", "Why review is needed, as a JSON list."),
    ("reviewed_by", "string", "The reviewer who approved it, if any."),
    ("decided_at", "timestamp", "When the gate decided."),
    ("run_id", "string", "Dagster run that decided."),
)
COMPLETION_COLUMN_DOCS: tuple[tuple[str, str, str], ...] = (
    ("underwriting_id", "string", "The underwriting (the partition key)."),
    ("organization_id", "string", "The lender (tenant)."),
    ("published", "bool", "True: the event was published (a parked case has no row until "
                          "a person decides)."),
    ("message_id", "string", "Pub/Sub message id of processing.completed."),
    ("event_json", "json", "The published event."),
    ("published_at", "string", "When it was published (ISO 8601, UTC)."),
)
DOCUMENT_COLUMN_DOCS: tuple[tuple[str, str, str], ...] = (
    ("document_id", "string", "Document id as the platform sent it."),
    ("document_type", "string", "bank_statement | tax_return | drivers_license | other."),
    ("revision_id", "string", "Content revision (a new upload is a new revision)."),
    ("classification_confidence", "float", "Classifier confidence when the type was inferred."),
    ("page_count", "int", "Pages (PDF)."),
    ("processing_status", "string", "received | extracted | classified | failed."),
)
MATRIX_BASE_COLUMN_DOCS: tuple[tuple[str, str, str], ...] = (
    ("underwriting_id", "string", "The underwriting (the partition key)."),
    ("organization_id", "string", "The lender (tenant)."),
    ("business_name", "string", "The business under review."),
    ("computed_at", "timestamp", "When the factors were consolidated."),
)


def table_schema(columns: Sequence[tuple[str, str, str]]) -> TableSchema:
    return TableSchema(columns=[TableColumn(n, t, d) for n, t, d in columns])


def matrix_schema(entries: Sequence[FactorEntry] | None = None) -> TableSchema:
    """The factor matrix's columns; factor columns are described by the factor dictionary."""
    entries = list(entries if entries is not None else factor_dictionary())
    return TableSchema(columns=[
        *(TableColumn(n, t, d) for n, t, d in MATRIX_BASE_COLUMN_DOCS),
        *(TableColumn(e.name, OPERATIONAL_COLUMN_TYPES[e.type.value], e.column_description,
                      tags={"processor": e.processor, **({"unit": e.unit} if e.unit else {})})
          for e in entries)])


@dataclass(frozen=True)
class CatalogEntry:
    owners: tuple[str, ...]
    tags: Mapping[str, str]
    schema: TableSchema
    layer: str  # "operational" (the store) or "warehouse"


def catalog() -> dict[str, CatalogEntry]:
    domain = {"domain": "underwriting"}
    return {
        "underwriting_documents": CatalogEntry(
            (PLATFORM,), {**domain, "pii": "true", "source": "platform"},
            table_schema(DOCUMENT_COLUMN_DOCS), "operational"),
        "processor_executions": CatalogEntry(
            (PLATFORM,), {**domain, "tier": "audit"}, table_schema(EXECUTION_COLUMN_DOCS),
            "warehouse"),
        "underwriting_factors": CatalogEntry(
            (DATA, PLATFORM), {**domain, "tier": "gold", "pii": "true"},
            table_schema(FACTOR_COLUMN_DOCS), "warehouse"),
        "underwriting_factor_matrix": CatalogEntry(
            (DATA,), {**domain, "tier": "gold", "pii": "true", "shape": "wide"},
            matrix_schema(), "warehouse"),
        "underwriting_review": CatalogEntry(
            (PLATFORM,), {**domain, "tier": "audit"}, table_schema(REVIEW_COLUMN_DOCS),
            "warehouse"),
        "processing_completed": CatalogEntry(
            (PLATFORM,), {**domain, "tier": "event"}, table_schema(COMPLETION_COLUMN_DOCS),
            "warehouse"),
    }


# Lineage the graph cannot infer: documents feed the executions, executions the factors.
INTERNAL_DEPS: dict[str, tuple[str, ...]] = {
    "processor_executions": ("underwriting_documents",),
    "underwriting_factors": ("processor_executions",),
}


def _url_kind(url: Any) -> str:
    if isinstance(url, EnvVar):
        # Read at run time, but the environment that loads the definitions is the one the
        # runs get (the local stack passes its SQLite URLs this way): name what it holds.
        url = url.get_value(default=None)
    if not isinstance(url, str) or not url:
        return "postgres"  # production's URL comes with the runs: PostgreSQL there
    return "sqlite" if url.startswith("sqlite") else "postgres"


def storage_kinds(resources: Mapping[str, Any]) -> dict[str, str]:
    """Which system holds each layer, from the resources in use."""
    warehouse = resources.get("warehouse_io_manager")
    # By class name: importing dagster-gcp-pandas only to compare would slow every load.
    if any(c.__name__ == "BigQueryPandasIOManager" for c in type(warehouse).__mro__):
        warehouse_kind = "bigquery"
    else:
        warehouse_kind = _url_kind(getattr(warehouse, "url", ""))
    store = resources.get("store")
    return {"warehouse": warehouse_kind,
            "operational": _url_kind(getattr(store, "database_url", ""))}


def _with_catalog(spec: AssetSpec, kinds: Mapping[str, str]) -> AssetSpec:
    entry = catalog().get(spec.key.to_user_string())
    if entry is None:
        return spec
    spec_kinds = {kinds[entry.layer]} | ({"pandas"} if entry.layer == "warehouse" else set())
    deps = INTERNAL_DEPS.get(spec.key.to_user_string())
    return spec.replace_attributes(
        owners=list(entry.owners), tags={**spec.tags, **entry.tags},
        kinds={*spec.kinds, *spec_kinds},
        metadata={**spec.metadata, "dagster/column_schema": entry.schema},
        **({"deps": [*spec.deps, *deps]} if deps else {}))


def _rebuild(assets_def: AssetsDefinition, specs: list[AssetSpec]) -> AssetsDefinition:
    # Graph-backed multi-assets cannot take new deps through map_asset_specs (Dagster
    # BUILD-529); deps on sibling or external keys only change the specs, not the graph.
    return AssetsDefinition.dagster_internal_init(
        **{**assets_def.get_attributes_dict(), "specs": specs})


def catalog_assets(assets: Sequence[AssetsDefinition | AssetSpec],
                   resources: Mapping[str, Any],
                   spec_sources: Mapping[str, Any] | None = None,
                   ) -> list[AssetsDefinition | AssetSpec]:
    """The assets with their catalog attributes and code references. `spec_sources` points
    an external asset (no op of its own) at the function that reports it."""
    # Code references are a beta API: its notice would be logged by every process that
    # loads the definitions (daemon, code server, each run), on every load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        return _catalog_assets(assets, resources, spec_sources)


def _catalog_assets(assets: Sequence[AssetsDefinition | AssetSpec],
                    resources: Mapping[str, Any],
                    spec_sources: Mapping[str, Any] | None,
                    ) -> list[AssetsDefinition | AssetSpec]:
    kinds = storage_kinds(resources)
    out: list[AssetsDefinition | AssetSpec] = []
    for item in assets:
        if isinstance(item, AssetSpec):
            spec = _with_catalog(item, kinds)
            source = (spec_sources or {}).get(spec.key.to_user_string())
            if source is not None:
                spec = spec.merge_attributes(metadata={"dagster/code_references": _reference(
                    source)})
            out.append(spec)
        elif any(spec.key.to_user_string() in INTERNAL_DEPS for spec in item.specs):
            out.append(_rebuild(item, [_with_catalog(spec, kinds) for spec in item.specs]))
        else:
            out.append(item.map_asset_specs(lambda s, k=kinds: _with_catalog(s, k)))
    return list(with_source_code_references(out))  # type: ignore[arg-type]


def _reference(function: Any) -> CodeReferencesMetadataValue:
    return CodeReferencesMetadataValue(code_references=[LocalFileCodeReference(
        file_path=inspect.getsourcefile(function) or "",
        line_number=inspect.getsourcelines(function)[1])])


def asset_page(key: str, partition: str | None = None) -> str:
    """The Dagster UI path of an asset (and partition): a link in materialization metadata."""
    path = "/assets/" + "/".join(AssetKey.from_user_string(key).path)
    return path + (f"?view=partitions&partition={quote(partition, safe='')}" if partition
                   else "")
