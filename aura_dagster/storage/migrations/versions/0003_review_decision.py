"""Review decisions: the reviewer's decision and note (the `rejected` status came in 0002).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD / DROP COLUMN, not batch mode: on SQLite a batch copy of `underwritings` would
# break the `underwriting_factor_matrix` view (0002) that reads it.


def upgrade() -> None:
    op.add_column("underwritings", sa.Column("review_decision", sa.Text(), nullable=True))
    op.add_column("underwritings", sa.Column("review_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("underwritings", "review_note")
    op.drop_column("underwritings", "review_decision")
