"""alembic upgrade head on empty databases, and the migrations match the schema module."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from aura_dagster.storage import Database
from aura_dagster.storage.__main__ import main as storage_cli
from aura_dagster.storage.schema import metadata

EXPECTED_TABLES = {
    "underwritings", "documents", "purchased_processors", "underwriting_processors",
    "processor_executions", "idempotency_keys", "decision_traces", "evidence_bundles",
    "underwriting_factors", "audit_log", "lender_rule_sets",
}


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'empty.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def _head(db: Database) -> str:
    """The newest migration (whatever it is called: branches add theirs)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    assert head is not None
    return head


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_head_creates_everything_and_downgrade_base_removes_it(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        assert _tables(db) == set()
        db.upgrade()
        assert _tables(db) == EXPECTED_TABLES
        assert db.current_revision() == _head(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    metadata)
        assert diff == [], f"migrations and schema.py differ: {diff}"
        db.upgrade()  # idempotent at head
        db.downgrade("base")
        assert _tables(db) == set()
        assert db.current_revision() is None
    finally:
        db.dispose()


def test_native_types_on_postgresql(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            types = dict(conn.execute(sa.text(
                "SELECT table_name || '.' || column_name, udt_name FROM information_schema.columns"
                " WHERE table_schema = 'public'")).all())
        assert types["processor_executions.payload"] == "jsonb"
        assert types["processor_executions.document_revision_ids"] == "_text"
        # Engine ids are canonical text, the form every other system shows (migration 0002).
        assert types["underwriting_processors.current_executions_list"] == "_text"
        assert types["processor_executions.id"] == "varchar"
        assert types["underwritings.id"] == "text"
        assert types["processor_executions.created_at"] == "timestamptz"
        assert types["underwriting_factors.value_numeric"] == "numeric"
    finally:
        db.dispose()


def test_cli_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'cli.sqlite3'}"
    assert storage_cli(["upgrade", "--url", url]) == 0
    db = Database(url)
    assert _head(db) in capsys.readouterr().out
    db.dispose()
    assert storage_cli(["check", "--url", url]) == 0
    db = Database(url)
    assert _tables(db) == EXPECTED_TABLES
    db.dispose()


def test_rejected_status_and_review_decision_survive_upgrade(empty_url: str) -> None:
    """0002: a case can be `rejected` and keeps the reviewer's decision and note."""
    from aura_dagster.storage import Stores

    db = Database(empty_url)
    try:
        db.upgrade("0001")
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO underwritings (id, organization_id, status, created_at, updated_at)"
                " VALUES ('uw_old', 'org_1', 'awaiting_review', :now, :now)"),
                {"now": "2026-11-30 07:00:00+00:00"})
        db.upgrade()
        stores = Stores(db)
        row = stores.underwritings.set_status("uw_old", "rejected", reviewed_by="alice",
                                              review_decision="reject", review_note="fraud")
        assert (row["status"], row["review_decision"], row["review_note"]) == (
            "rejected", "reject", "fraud")
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE underwritings SET status = 'bogus'"))
    finally:
        db.dispose()
