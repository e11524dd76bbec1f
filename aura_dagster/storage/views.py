"""`underwriting_factor_matrix`: one row per underwriting, one typed column per factor.

A view over `underwritings` and `underwriting_factors`, generated from the factor
dictionary (name, type) so it never drifts from the processors' declarations. Migration
0002 creates it; `Database.upgrade()` re-creates it when the dictionary gained or lost a
factor since (a view is derived, so it is replaced rather than migrated).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

FACTOR_MATRIX_VIEW = "underwriting_factor_matrix"
# The columns before the factors: who the case is, and how it ended.
MATRIX_BASE_COLUMNS = ("underwriting_id", "organization_id", "business_name", "status",
                       "completed_at")

Columns = Sequence[tuple[str, str]]  # (factor name, factor type)


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a factor name: {name!r}")
    return f'"{name}"'


def _literal(name: str) -> str:
    _quote(name)  # validates
    return f"'{name}'"


def _column_sql(dialect: str, name: str, factor_type: str) -> str:
    when = f"f.factor_name = {_literal(name)}"
    if dialect == "postgresql":
        expressions = {
            "number": f"MAX(CASE WHEN {when} THEN f.value_numeric END)::double precision",
            "integer": f"MAX(CASE WHEN {when} THEN f.value_numeric END)::bigint",
            "boolean": f"bool_or(CASE WHEN {when} THEN (f.value)::boolean END)",
            "string": f"MAX(CASE WHEN {when} THEN f.value #>> '{{}}' END)",
            "date": f"MAX(CASE WHEN {when} THEN (f.value #>> '{{}}')::date END)",
        }
        json_expression = f"(array_agg(f.value) FILTER (WHERE {when}))[1]"
    else:  # SQLite: no boolean or date types; booleans are 1/0, dates ISO text
        expressions = {
            "number": f"CAST(MAX(CASE WHEN {when} THEN f.value_numeric END) AS REAL)",
            "integer": f"CAST(MAX(CASE WHEN {when} THEN f.value_numeric END) AS INTEGER)",
            "boolean": f"MAX(CASE WHEN {when} THEN json_extract(f.value, '$') END)",
            "string": f"MAX(CASE WHEN {when} THEN json_extract(f.value, '$') END)",
            "date": f"MAX(CASE WHEN {when} THEN json_extract(f.value, '$') END)",
        }
        json_expression = f"MAX(CASE WHEN {when} THEN f.value END)"
    return f"{expressions.get(factor_type, json_expression)} AS {_quote(name)}"


def factor_matrix_view_sql(dialect: str, columns: Columns) -> str:
    base = ", ".join(f"u.{c}" if c != "underwriting_id" else "u.id AS underwriting_id"
                     for c in MATRIX_BASE_COLUMNS)
    factor_columns = "".join(f",\n  {_column_sql(dialect, n, t)}" for n, t in columns)
    group = ", ".join(f"u.{'id' if c == 'underwriting_id' else c}" for c in MATRIX_BASE_COLUMNS)
    return (f"CREATE VIEW {FACTOR_MATRIX_VIEW} AS\nSELECT {base}{factor_columns}\n"
            f"FROM underwritings u\nLEFT JOIN underwriting_factors f "
            f"ON f.underwriting_id = u.id\nGROUP BY {group}")


def default_columns() -> list[tuple[str, str]]:
    from aura_dagster.domain.factor_dictionary import matrix_columns

    return matrix_columns()


def view_columns(conn: Connection) -> list[str] | None:
    """The view's current column names, or None when it does not exist."""
    inspector = sa.inspect(conn)
    if FACTOR_MATRIX_VIEW not in inspector.get_view_names():
        return None
    return [c["name"] for c in inspector.get_columns(FACTOR_MATRIX_VIEW)]


def drop_factor_matrix_view(conn: Connection) -> None:
    conn.execute(sa.text(f"DROP VIEW IF EXISTS {FACTOR_MATRIX_VIEW}"))


def create_factor_matrix_view(conn: Connection, columns: Columns | None = None) -> None:
    columns = default_columns() if columns is None else columns
    drop_factor_matrix_view(conn)
    conn.execute(sa.text(factor_matrix_view_sql(conn.dialect.name, columns)))


def refresh_factor_matrix_view(conn: Connection, columns: Columns | None = None) -> bool:
    """Re-create the view when its columns differ from the dictionary's. True if it did."""
    columns = default_columns() if columns is None else columns
    wanted = [*MATRIX_BASE_COLUMNS, *(name for name, _ in columns)]
    if view_columns(conn) == wanted:
        return False
    create_factor_matrix_view(conn, columns)
    return True
