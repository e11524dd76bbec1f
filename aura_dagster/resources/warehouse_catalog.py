"""Warehouse pieces the catalog needs: row counts on every materialization (SQL and
BigQuery alike) and new frame columns added to an existing SQL table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from dagster import OutputContext
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_gcp_pandas import BigQueryPandasIOManager
from dagster_gcp_pandas.bigquery.bigquery_pandas_type_handler import BigQueryPandasTypeHandler


def row_count_metadata(rows: int) -> dict[str, int]:
    # Rows of this partition: what one materialization wrote.
    return {"dagster/row_count": rows, "dagster/partition_row_count": rows}


def add_missing_columns(conn: sa.Connection, table: str, schema: str | None,
                        frame: pd.DataFrame) -> list[str]:
    """ALTER TABLE ADD COLUMN for frame columns the table lacks (a column added to an asset,
    a factor added to the dictionary). Returns the names added."""
    existing = {c["name"] for c in sa.inspect(conn).get_columns(table, schema=schema)}
    missing = [c for c in frame.columns if c not in existing]
    if not missing:
        return []
    # pandas picks the SQL type it would have used to create the table.
    from pandas.io.sql import SQLDatabase, SQLTable

    sql_table = SQLTable(table, SQLDatabase(conn, schema=schema), frame=frame[missing],
                         index=False, schema=schema).table
    preparer = conn.dialect.identifier_preparer
    target = ".".join(preparer.quote(p) for p in (schema, table) if p)
    for name in missing:
        column_type = sql_table.c[name].type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {target} ADD COLUMN {preparer.quote(name)} "
                             f"{column_type}"))
    return missing


class RowCountingBigQueryPandasTypeHandler(BigQueryPandasTypeHandler):
    def handle_output(self, context: OutputContext, table_slice: TableSlice,
                      obj: pd.DataFrame, connection: Any) -> Any:
        result = super().handle_output(context, table_slice, obj, connection)
        if context.has_partition_key:  # the base handler gives only partition_row_count then
            context.add_output_metadata({"dagster/row_count": obj.shape[0]})
        return result


class BigQueryWarehouseIOManager(BigQueryPandasIOManager):
    """dagster-gcp-pandas' BigQuery IO manager, plus `dagster/row_count` like the SQL one."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [RowCountingBigQueryPandasTypeHandler()]
