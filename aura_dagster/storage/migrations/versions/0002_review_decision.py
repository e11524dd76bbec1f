"""Review decisions: the `rejected` underwriting status, and the reviewer's decision and note.

Revision ID: 0002_review_decision
Revises: 0001
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_review_decision"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("created", "processing", "awaiting_review", "completed", "failed")
_AFTER = (*_BEFORE, "rejected")


def _status_check(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a CHECK constraint in place (the table is copied).
    with op.batch_alter_table("underwritings") as batch:
        batch.add_column(sa.Column("review_decision", sa.Text(), nullable=True))
        batch.add_column(sa.Column("review_note", sa.Text(), nullable=True))
        batch.drop_constraint(op.f("ck_underwritings_status"), type_="check")
        batch.create_check_constraint(op.f("ck_underwritings_status"), _status_check(_AFTER))


def downgrade() -> None:
    op.execute("UPDATE underwritings SET status = 'failed' WHERE status = 'rejected'")
    with op.batch_alter_table("underwritings") as batch:
        batch.drop_constraint(op.f("ck_underwritings_status"), type_="check")
        batch.create_check_constraint(op.f("ck_underwritings_status"), _status_check(_BEFORE))
        batch.drop_column("review_note")
        batch.drop_column("review_decision")
