"""One identifier form, completion time, factor provenance and the factor matrix view.

- Engine ids (UUIDs) become their canonical 36-character text on both backends: SQLite
  stored them as 32 hex characters and PostgreSQL as native `uuid`, so neither joined
  `decision_traces.request_id` (text) nor matched the dashed ids of traces, events, the
  warehouse and the UI.
- `underwritings.completed_at`, and `rejected` as a final status.
- `underwriting_factors.processor_version` and `document_revision_ids`.
- The `underwriting_factor_matrix` view.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aura_dagster.storage.types import TextList, UTCDateTime
from aura_dagster.storage.views import create_factor_matrix_view, drop_factor_matrix_view

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "audit_log": ("id",),
    "decision_traces": ("id", "execution_id"),
    "evidence_bundles": ("id", "execution_id"),
    "idempotency_keys": ("id",),
    "purchased_processors": ("id",),
    "underwriting_processors": ("id", "purchased_processor_id"),
    "processor_executions": ("id", "underwriting_processor_id", "updated_execution_id"),
    "underwriting_factors": ("execution_id",),
}
ID_LISTS = {"underwriting_processors": ("current_executions_list",)}

OLD_STATUSES = ("created", "processing", "awaiting_review", "completed", "failed")
NEW_STATUSES = (*OLD_STATUSES, "rejected")


def _status_check(statuses: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


def _dashed(column: str) -> str:
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return "lower(" + " || '-' || ".join(f"substr({column}, {a}, {n})" for a, n in parts) + ")"


def _foreign_keys(conn: sa.Connection) -> list[tuple[str, str, str]]:
    """(table, name, definition) of every foreign key in the current schema."""
    return [tuple(row) for row in conn.execute(sa.text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE contype = 'f' AND connamespace = (SELECT oid FROM pg_namespace"
        " WHERE nspname = current_schema())"))]


def _postgresql(to_text: bool) -> None:
    conn = op.get_bind()
    keys = _foreign_keys(conn)
    for table, name, _ in keys:  # the referenced and referencing columns change together
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    target, array = ("VARCHAR(36)", "TEXT[]") if to_text else ("UUID", "UUID[]")
    cast, array_cast = ("text", "text[]") if to_text else ("uuid", "uuid[]")
    for table, columns in ID_COLUMNS.items():
        changes = [f"ALTER COLUMN {c} TYPE {target} USING {c}::{cast}" for c in columns]
        changes += [f"ALTER COLUMN {c} TYPE {array} USING {c}::{array_cast}"
                    for c in ID_LISTS.get(table, ())]
        op.execute(f"ALTER TABLE {table} {', '.join(changes)}")
    for table, name, definition in keys:
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _sqlite(to_text: bool) -> None:
    # Database.upgrade() turns foreign keys off around SQLite migrations, so recreating a
    # table (batch mode) neither cascades nor trips over rows that reference it.
    new_type, old_type = (sa.String(36), sa.CHAR(32)) if to_text else (sa.CHAR(32),
                                                                       sa.String(36))
    for table, columns in ID_COLUMNS.items():
        with op.batch_alter_table(table, recreate="always") as batch:
            for column in columns:
                batch.alter_column(column, type_=new_type, existing_type=old_type)
        for column in columns:
            if to_text:
                op.execute(f"UPDATE {table} SET {column} = {_dashed(column)} "
                           f"WHERE length({column}) = 32")
            else:
                op.execute(f"UPDATE {table} SET {column} = replace({column}, '-', '') "
                           f"WHERE length({column}) = 36")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _postgresql(to_text=True)
    else:
        _sqlite(to_text=True)
    with op.batch_alter_table("underwritings") as batch:
        batch.add_column(sa.Column("completed_at", UTCDateTime(), nullable=True))
        batch.drop_constraint(op.f("ck_underwritings_status"), type_="check")
        batch.create_check_constraint(op.f("ck_underwritings_status"),
                                      _status_check(NEW_STATUSES))
    with op.batch_alter_table("underwriting_factors") as batch:
        batch.add_column(sa.Column("processor_version", sa.Text(), nullable=True))
        batch.add_column(sa.Column("document_revision_ids", TextList(), nullable=True))
    create_factor_matrix_view(conn)


def downgrade() -> None:
    conn = op.get_bind()
    drop_factor_matrix_view(conn)
    with op.batch_alter_table("underwriting_factors") as batch:
        batch.drop_column("document_revision_ids")
        batch.drop_column("processor_version")
    op.execute("UPDATE underwritings SET status = 'failed' WHERE status = 'rejected'")
    with op.batch_alter_table("underwritings") as batch:
        batch.drop_constraint(op.f("ck_underwritings_status"), type_="check")
        batch.create_check_constraint(op.f("ck_underwritings_status"),
                                      _status_check(OLD_STATUSES))
        batch.drop_column("completed_at")
    if conn.dialect.name == "postgresql":
        _postgresql(to_text=False)
    else:
        _sqlite(to_text=False)
