"""Database: pooling set-up, transactions, retry with backoff, health check."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from aura_dagster.storage import (
    Database,
    RetryPolicy,
    Stores,
    default_sqlite_url,
    is_transient_error,
    with_retry,
)


def _operational(message: str) -> exc.OperationalError:
    return exc.OperationalError("SELECT 1", {}, Exception(message))


def test_retry_recovers_from_transient_errors_with_growing_backoff() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _operational("server closed the connection unexpectedly")
        return "ok"

    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=1.0)
    assert with_retry(flaky, policy, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2  # full jitter under the cap


def test_retry_gives_up_after_the_last_attempt_and_never_retries_other_errors() -> None:
    def always_reset() -> None:
        raise _operational("connection reset by peer")

    with pytest.raises(exc.OperationalError):
        with_retry(always_reset, RetryPolicy(attempts=3), sleep=lambda _: None)

    calls: list[int] = []

    def bad_sql() -> None:
        calls.append(1)
        raise exc.ProgrammingError("SELECT nope", {}, Exception("syntax error"))

    with pytest.raises(exc.ProgrammingError):
        with_retry(bad_sql, sleep=lambda _: None)
    assert calls == [1]
    assert is_transient_error(_operational("Connection reset by peer"))
    assert not is_transient_error(exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_transient_error(ValueError("x"))


def test_health_check(db: Database) -> None:
    assert db.health_check() is True


def test_health_check_reports_an_unreachable_server() -> None:
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1")
    assert db.health_check() is False
    db.dispose()


def test_calls_succeed_after_the_server_kills_every_connection(postgres_migrated_url: str,
                                                               ) -> None:
    """pg_terminate_backend from an admin connection: pooled connections die; the next
    repository calls still succeed (the conditional ping on checkout, and retry)."""
    db = Database(postgres_migrated_url, pool_size=3)
    stores = Stores(db, catalog={})
    try:
        stores.underwritings.upsert_underwriting("uw_kill", "org_1")
        dbname = db.url.database
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                             autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchone()
        assert killed is not None and killed[0] >= 1
        assert stores.underwritings.get_underwriting("uw_kill") is not None
        stores.underwritings.set_status("uw_kill", "processing")
        assert db.health_check()
    finally:
        db.dispose()


def test_retry_replays_a_transaction_whose_connection_died(postgres_migrated_url: str) -> None:
    """Kill the backend in the middle of a transaction: Database.run retries it whole."""
    db = Database(postgres_migrated_url, retry=RetryPolicy(attempts=3, base_delay=0.01))
    attempts: list[int] = []

    def work(conn: sa.Connection) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                 autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return int(conn.execute(sa.text("SELECT 41 + 1")).scalar_one())

    try:
        assert db.run(work) == 42
        assert len(attempts) == 2
    finally:
        db.dispose()


def test_explicit_transaction_makes_several_calls_atomic(stores: Stores) -> None:
    with pytest.raises(RuntimeError), stores.db.transaction():
        stores.underwritings.upsert_underwriting("uw_a", "org_1")
        stores.underwritings.upsert_underwriting("uw_b", "org_1")
        raise RuntimeError("crash in the middle")
    assert stores.underwritings.get_underwriting("uw_a") is None
    assert stores.underwritings.get_underwriting("uw_b") is None
    with stores.db.transaction():
        stores.underwritings.upsert_underwriting("uw_a", "org_1")
        stores.underwritings.upsert_underwriting("uw_b", "org_1")
    assert stores.underwritings.get_underwriting("uw_b") is not None


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(default_sqlite_url(tmp_path / "data"))
    try:
        assert (tmp_path / "data").is_dir()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
    finally:
        db.dispose()


def test_storage_reads_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data directory is an argument (from aura_dagster.settings), never $AURA_DATA_DIR."""
    monkeypatch.setenv("AURA_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_sqlite_url(tmp_path / "given") == (
        f"sqlite+pysqlite:///{tmp_path / 'given' / 'aura.db'}")
    with pytest.raises(TypeError):
        default_sqlite_url()  # type: ignore[call-arg]
    assert not (tmp_path / "elsewhere").exists()
