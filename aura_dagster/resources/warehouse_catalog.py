"""Warehouse pieces the catalog needs: row counts on every materialization and new frame
columns added to an existing SQL table (the BigQuery side is in `bigquery_warehouse.py`)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa


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
