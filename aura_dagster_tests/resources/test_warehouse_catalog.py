"""The warehouse IO managers report `dagster/row_count`, and a column added to an asset
(or a factor added to the dictionary) extends an existing table instead of failing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DynamicPartitionsDefinition,
    asset,
    build_output_context,
    materialize,
)
from dagster._core.storage.db_io_manager import TableSlice

from aura_dagster.environments import production_resources
from aura_dagster.resources.bigquery_warehouse import (
    BigQueryWarehouseIOManager,
    RowCountingBigQueryPandasTypeHandler,
)
from aura_dagster.resources.warehouse import SqlWarehouseIOManager

PARTITIONS = DynamicPartitionsDefinition(name="underwriting")


def _executions_asset(columns: dict[str, list[object]]):  # noqa: ANN202
    @asset(name="processor_executions", partitions_def=PARTITIONS,
           io_manager_key="warehouse_io_manager", metadata={"partition_expr": "underwriting_id"})
    def processor_executions() -> pd.DataFrame:
        return pd.DataFrame(columns)

    return processor_executions


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> SqlWarehouseIOManager:
    if request.param == "sqlite":
        return SqlWarehouseIOManager(url=f"sqlite:///{tmp_path / 'warehouse.db'}")
    url = str(request.getfixturevalue("postgres_url"))
    return SqlWarehouseIOManager(url=url, schema_name="warehouse")


def test_new_columns_extend_the_table_and_row_counts_are_reported(
        warehouse: SqlWarehouseIOManager) -> None:
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("underwriting", ["uw_1", "uw_2"])
        old = _executions_asset({"processor": ["p_a", "p_b"], "run_id": ["r1", "r1"]})
        assert materialize([old], partition_key="uw_1", instance=instance,
                           resources={"warehouse_io_manager": warehouse}).success
        new = _executions_asset({"processor": ["p_a"], "computed_run_id": ["r1"],
                                 "materialized_run_id": ["r2"], "reused": [True]})
        result = materialize([new], partition_key="uw_2", instance=instance,
                             resources={"warehouse_io_manager": warehouse})
        assert result.success
        (event,) = [e for e in instance.all_logs(
            result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
            if e.dagster_event.asset_key == AssetKey("processor_executions")]
        metadata = event.dagster_event.materialization.metadata
        assert metadata["dagster/row_count"].value == 1
    engine = sa.create_engine(warehouse.url)
    table = ".".join(p for p in (warehouse.schema_name, "processor_executions") if p)
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text(f"SELECT * FROM {table} ORDER BY underwriting_id"), conn)
    engine.dispose()
    assert list(frame["underwriting_id"]) == ["uw_1", "uw_1", "uw_2"]
    assert frame["materialized_run_id"].tolist()[-1] == "r2"
    assert frame["run_id"].tolist()[:2] == ["r1", "r1"]  # earlier partitions are kept


def test_bigquery_warehouse_reports_row_count_like_the_sql_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURA_WAREHOUSE", "bigquery")
    assert isinstance(production_resources()["warehouse_io_manager"],
                      BigQueryWarehouseIOManager)
    assert [type(h) for h in BigQueryWarehouseIOManager.type_handlers()] == [
        RowCountingBigQueryPandasTypeHandler]
    # An empty frame is not sent to BigQuery (no emulator here); the metadata still is.
    context = build_output_context(partition_key="uw_1")
    RowCountingBigQueryPandasTypeHandler().handle_output(
        context, TableSlice(table="underwriting_factors", schema="aura", database="p"),
        pd.DataFrame({"underwriting_id": []}), None)
    metadata = context.get_logged_metadata()
    assert metadata["dagster/row_count"].value == 0
    assert metadata["dagster/partition_row_count"].value == 0


def _rows(warehouse: SqlWarehouseIOManager, table: str) -> pd.DataFrame:
    engine = sa.create_engine(warehouse.url)
    name = ".".join(p for p in (warehouse.schema_name, table) if p)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT * FROM {name} ORDER BY underwriting_id"), conn)
    finally:
        engine.dispose()


def _alter(warehouse: SqlWarehouseIOManager, statement: str) -> None:
    engine = sa.create_engine(warehouse.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_a_table_changed_by_someone_else_is_reflected_afresh(
        warehouse: SqlWarehouseIOManager) -> None:
    """The IO manager reflects a table once per process. Dropped or altered elsewhere (the data
    team, a migration) between two writes, the next write still lands, nothing lost."""
    table = ".".join(p for p in (warehouse.schema_name, "processor_executions") if p)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("underwriting", ["uw_1", "uw_2", "uw_3", "uw_4"])

        def write(partition: str, columns: dict[str, list[object]]) -> None:
            assert materialize([_executions_asset(columns)], partition_key=partition,
                               instance=instance,
                               resources={"warehouse_io_manager": warehouse}).success

        write("uw_1", {"processor": ["p_a"], "status": ["completed"]})
        write("uw_1", {"processor": ["p_b"], "status": ["completed"]})  # replaces uw_1
        _alter(warehouse, f"ALTER TABLE {table} ADD COLUMN reviewer TEXT")
        write("uw_2", {"processor": ["p_a"], "status": ["failed"], "reviewer": ["ana"]})
        before_drop = _rows(warehouse, "processor_executions")
        assert before_drop["processor"].tolist() == ["p_b", "p_a"]
        assert before_drop["reviewer"].tolist()[-1] == "ana"
        _alter(warehouse, f"DROP TABLE {table}")
        write("uw_3", {"processor": ["p_c"], "status": ["completed"]})
        write("uw_4", {"processor": ["p_d"], "status": ["completed"], "cost": [3]})
    frame = _rows(warehouse, "processor_executions")
    assert frame["underwriting_id"].tolist() == ["uw_3", "uw_4"]
    # The recreated table has its partition index again (writes delete by it).
    engine = sa.create_engine(warehouse.url)
    try:
        with engine.connect() as conn:
            indexes = sa.inspect(conn).get_indexes("processor_executions",
                                                   schema=warehouse.schema_name)
    finally:
        engine.dispose()
    assert [ix["column_names"] for ix in indexes] == [["underwriting_id"]]
    assert frame["processor"].tolist() == ["p_c", "p_d"]
    assert frame["cost"].tolist()[-1] == 3


def test_every_column_type_round_trips_with_its_nulls(warehouse: SqlWarehouseIOManager) -> None:
    """The second write of a table goes through the IO manager's own row conversion (the
    first creates it with to_sql): floats, nullable integers and booleans, tz-aware and
    naive timestamps and text keep their values, and every kind of missing is NULL."""
    columns = {
        "processor": ["p_a", "p_b"],
        "confidence": [0.5, float("nan")],
        "attempt": pd.array([2, None], dtype="Int64"),
        "reused": pd.array([True, None], dtype="boolean"),
        "computed_at": pd.to_datetime(["2026-11-30T10:00:00Z", None], utc=True),
        "period_end": pd.to_datetime(["2024-01-31", None]),
        "error_code": [None, "VENDOR_TIMEOUT"],
    }
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("underwriting", ["uw_1", "uw_2"])
        for partition in ("uw_1", "uw_2"):
            assert materialize([_executions_asset(columns)], partition_key=partition,
                               instance=instance,
                               resources={"warehouse_io_manager": warehouse}).success
    frame = _rows(warehouse, "processor_executions")
    first, second = (frame[frame["underwriting_id"] == p].drop(columns="underwriting_id")
                     .reset_index(drop=True) for p in ("uw_1", "uw_2"))
    # What the IO manager wrote is what pandas' to_sql wrote, value for value, NULLs included.
    pd.testing.assert_frame_equal(first, second)
    assert second["processor"].tolist() == ["p_a", "p_b"]
    assert second["confidence"].tolist()[0] == 0.5 and pd.isna(second["confidence"][1])
    assert int(second["attempt"][0]) == 2 and pd.isna(second["attempt"][1])
    assert bool(second["reused"][0]) is True and pd.isna(second["reused"][1])
    assert str(second["computed_at"][0]).startswith("2026-11-30 10:00:00")
    assert str(second["period_end"][0]).startswith("2024-01-31")
    assert pd.isna(second["computed_at"][1]) and pd.isna(second["period_end"][1])
    assert second["error_code"].tolist() == [None, "VENDOR_TIMEOUT"]
