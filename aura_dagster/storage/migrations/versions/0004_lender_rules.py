"""Lender rules: versioned rule sets per organization, the version a case was judged by, and
`declined` (a rule declined the case) as a final status.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aura_dagster.storage.types import UTCDateTime, json_type
from aura_dagster.storage.views import create_factor_matrix_view, drop_factor_matrix_view

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("created", "processing", "awaiting_review", "completed", "failed", "rejected")
NEW_STATUSES = (*OLD_STATUSES, "declined")


def _status_check(statuses: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


def _replace_status_check(statuses: tuple[str, ...]) -> None:
    # SQLite changes a CHECK constraint by copying the table (batch mode), and a copy of
    # `underwritings` breaks the factor matrix view that reads it: drop the view around it.
    # Database.upgrade() turns foreign keys off meanwhile, so the copy does not cascade.
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        drop_factor_matrix_view(conn)
    with op.batch_alter_table("underwritings") as batch:
        batch.drop_constraint(op.f("ck_underwritings_status"), type_="check")
        batch.create_check_constraint(op.f("ck_underwritings_status"), _status_check(statuses))
    if sqlite:
        create_factor_matrix_view(conn)


def upgrade() -> None:
    op.create_table(
        "lender_rule_sets",
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", json_type(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_lender_rule_sets_version")),
        sa.PrimaryKeyConstraint("organization_id", "version", name=op.f("pk_lender_rule_sets")),
    )
    op.add_column("underwritings", sa.Column("rules_version", sa.Integer(), nullable=True))
    _replace_status_check(NEW_STATUSES)


def downgrade() -> None:
    # A declined case was refused: the closest status before 0004 is a rejection.
    op.execute("UPDATE underwritings SET status = 'rejected' WHERE status = 'declined'")
    _replace_status_check(OLD_STATUSES)
    # Plain DROP COLUMN (as in 0003): the view does not read this column.
    op.drop_column("underwritings", "rules_version")
    op.drop_table("lender_rule_sets")
