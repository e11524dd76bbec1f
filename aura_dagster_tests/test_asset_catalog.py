"""The catalog, like dagster-open-platform's: every asset spec has kinds, owners, tags, a
described column schema and code references; lineage starts at the documents; a snapshot
of all specs shows any change in review (AURA_UPDATE_SNAPSHOTS=1 rewrites it)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from dagster import AssetKey, Definitions, TableSchema

from aura_dagster.assets.catalog import (
    EXECUTION_COLUMN_DOCS,
    FACTOR_COLUMN_DOCS,
    REVIEW_COLUMN_DOCS,
)
from aura_dagster.assets.processing import EXECUTION_COLUMNS, FACTOR_COLUMNS
from aura_dagster.assets.review import REVIEW_COLUMNS
from aura_dagster.domain.factor_dictionary import factor_dictionary

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"
STORAGE_KINDS = {"sqlite", "postgres", "bigquery"}


def spec_snapshot(defs: Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    snapshot: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=AssetKey.to_user_string):
        node = graph.get(key)
        schema = node.metadata.get("dagster/column_schema")
        snapshot[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "executable": node.is_executable,
            "partitions": getattr(node.partitions_def, "name", None),
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "tags": {k: v for k, v in sorted(node.tags.items())
                     if not k.startswith("dagster/kind/")},
            "columns": [[c.name, c.type] for c in schema.columns] if schema else None,
        }
    return snapshot


def test_every_asset_has_kinds_owners_tags_described_columns_and_code(
        load_definitions: Callable[[], ModuleType]) -> None:
    defs = load_definitions().defs
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert "underwriting_documents" in keys and "underwriting_factor_matrix" in keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.kinds & STORAGE_KINDS == {"sqlite"}, name  # the embedded default
        if node.is_executable:
            assert "pandas" in node.kinds, name
        assert node.owners and all(o.startswith("team:") for o in node.owners), name
        assert node.tags.get("domain") == "underwriting", name
        assert node.description, name
        schema = node.metadata["dagster/column_schema"]
        assert isinstance(schema, TableSchema) and schema.columns, name
        assert all(c.description for c in schema.columns), name
        references = node.metadata["dagster/code_references"].code_references
        assert references and Path(references[0].file_path).exists(), name


def test_lineage_reads_documents_executions_factors_review_completion(
        load_definitions: Callable[[], ModuleType]) -> None:
    graph = load_definitions().defs.resolve_asset_graph()

    def parents(name: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(AssetKey(name)).parent_keys}

    assert parents("underwriting_documents") == set()
    assert parents("processor_executions") == {"underwriting_documents"}
    assert parents("underwriting_factors") == {"processor_executions"}
    assert parents("underwriting_factor_matrix") == {"underwriting_factors"}
    assert "underwriting_factors" in parents("underwriting_review")
    assert "underwriting_review" in parents("processing_completed")


def test_column_schemas_are_the_frames_columns() -> None:
    assert [c for c, _, _ in EXECUTION_COLUMN_DOCS] == EXECUTION_COLUMNS
    assert [c for c, _, _ in FACTOR_COLUMN_DOCS] == FACTOR_COLUMNS
    assert [c for c, _, _ in REVIEW_COLUMN_DOCS] == REVIEW_COLUMNS
    assert "run_id" not in EXECUTION_COLUMNS  # one meaning: computed vs materialized run
    assert {"computed_run_id", "materialized_run_id"} <= set(EXECUTION_COLUMNS)


def test_factor_matrix_columns_are_described_by_the_factor_dictionary(
        load_definitions: Callable[[], ModuleType]) -> None:
    graph = load_definitions().defs.resolve_asset_graph()
    schema = graph.get(AssetKey("underwriting_factor_matrix")).metadata["dagster/column_schema"]
    columns = {c.name: c for c in schema.columns}
    for entry in factor_dictionary():
        assert columns[entry.name].description == entry.column_description
        assert columns[entry.name].tags["processor"] == entry.processor


@pytest.mark.parametrize(("warehouse", "kind"), [("postgres", "postgres"),
                                                 ("bigquery", "bigquery")])
def test_production_kinds_follow_the_warehouse(load_definitions: Callable[[], ModuleType],
                                               monkeypatch: pytest.MonkeyPatch,
                                               warehouse: str, kind: str) -> None:
    monkeypatch.setenv("AURA_ENV", "production")
    monkeypatch.setenv("AURA_WAREHOUSE", warehouse)
    graph = load_definitions().defs.resolve_asset_graph()
    assert graph.get(AssetKey("underwriting_factors")).kinds == {kind, "pandas"}
    assert graph.get(AssetKey("underwriting_documents")).kinds == {"postgres"}


def test_asset_specs_snapshot(load_definitions: Callable[[], ModuleType]) -> None:
    snapshot = spec_snapshot(load_definitions().defs)
    if os.environ.get("AURA_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    assert snapshot == json.loads(SNAPSHOT.read_text()), (
        "asset specs changed: review, then AURA_UPDATE_SNAPSHOTS=1 to accept")


def test_embedded_kinds_follow_the_urls_the_stack_sets(
        load_definitions: Callable[[], ModuleType], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """The local stack hands its code server the SQLite URLs through the environment (read
    at run time through EnvVar): the kinds still say SQLite, not PostgreSQL."""
    monkeypatch.setenv("AURA_ENV", "embedded")
    monkeypatch.setenv("AURA_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("AURA_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.sqlite3'}")
    graph = load_definitions().defs.resolve_asset_graph()
    assert graph.get(AssetKey("underwriting_factors")).kinds == {"sqlite", "pandas"}
    assert graph.get(AssetKey("underwriting_documents")).kinds == {"sqlite"}
