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
    "underwriting_factors", "audit_log",
}


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'empty.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_head_creates_everything_and_downgrade_base_removes_it(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        assert _tables(db) == set()
        db.upgrade()
        assert _tables(db) == EXPECTED_TABLES
        assert db.current_revision() == "0002"
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
    assert "0002" in capsys.readouterr().out
    assert storage_cli(["check", "--url", url]) == 0
    db = Database(url)
    assert _tables(db) == EXPECTED_TABLES
    db.dispose()
