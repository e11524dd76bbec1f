"""Pooled PostgreSQL connections are pinged only when they may be dead (storage/liveness.py),
on the real server: a terminated backend is noticed and replaced before a statement uses
it, and a healthy connection is handed out without a round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from aura_dagster.storage.liveness import IDLE_PING_SECONDS, needs_ping, ping_when_suspect
from aura_dagster_tests.conftest import PG_HOST, PG_PORT, PG_USER


def _terminate(pid: int) -> None:
    """pg_terminate_backend, waiting (up to 5 s) until the backend has exited."""
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                         autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (
            True,)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[tuple[sa.Engine, list[int]]]:
    """A pool of one connection with the conditional ping, and a count of the pings made."""
    engine = sa.create_engine(postgres_url, pool_size=1, max_overflow=0)
    ping_when_suspect(engine)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
    yield engine, pings
    engine.dispose()


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_healthy_connection_is_handed_out_without_a_round_trip(
        engine: tuple[sa.Engine, list[int]]) -> None:
    eng, pings = engine
    pids = {_backend_pid(eng) for _ in range(20)}
    assert len(pids) == 1  # the same pooled connection every time
    assert pings == []


def test_a_terminated_backend_is_replaced_before_a_statement_uses_it(
        engine: tuple[sa.Engine, list[int]]) -> None:
    eng, pings = engine
    first = _backend_pid(eng)
    _terminate(first)
    second = _backend_pid(eng)  # no error reaches the caller
    assert second != first
    assert len(pings) == 1  # the dead one was pinged (and failed); the new one was not
    assert _backend_pid(eng) == second


def test_needs_ping_reads_the_socket_and_the_idle_time(
        engine: tuple[sa.Engine, list[int]]) -> None:
    eng, _ = engine
    with eng.connect() as conn:
        dbapi_connection = conn.connection.dbapi_connection
        info = conn.connection.info
        pid = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        info["aura_idle_since"] = 100.0
        assert not needs_ping(dbapi_connection, info, now=100.0 + 1)
        assert needs_ping(dbapi_connection, info, now=100.0 + IDLE_PING_SECONDS)
        assert needs_ping(dbapi_connection, {}, now=100.0)  # never seen alive
        _terminate(pid)
        assert needs_ping(dbapi_connection, info, now=100.0 + 1)  # FATAL and close arrived
        conn.invalidate()


def test_only_postgresql_engines_take_it(tmp_path: Any) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="PostgreSQL"):
        ping_when_suspect(engine)


def _store_engine(url: str) -> sa.Engine:
    from aura_dagster.storage import Database

    return Database(url).engine


def _instance_engine(url: str) -> sa.Engine:
    from aura_dagster.instance_storage import shared_engine

    return shared_engine(url.replace("+psycopg:", "+psycopg2:"), 2, 0)


def _warehouse_engine(url: str) -> sa.Engine:
    from aura_dagster.resources.warehouse import _engine

    return _engine(url)


@pytest.mark.parametrize("make_engine", [_store_engine, _instance_engine, _warehouse_engine],
                         ids=["store", "dagster-instance", "warehouse"])
def test_every_postgresql_pool_of_the_engine_pings_only_when_suspect(
        postgres_url: str, make_engine: Any) -> None:
    """The store, the Dagster instance and the warehouse IO manager each used pool_pre_ping:
    a SELECT 1 before every statement (every Dagster event of every run)."""
    eng = make_engine(postgres_url)
    pings: list[int] = []
    real_ping = eng.dialect.do_ping
    eng.dialect.do_ping = lambda c: pings.append(1) or real_ping(c)  # type: ignore[method-assign]
    try:
        first = _backend_pid(eng)
        assert {_backend_pid(eng) for _ in range(10)} == {first}
        assert pings == []
        _terminate(first)
        assert _backend_pid(eng) != first
        assert pings == [1]
    finally:
        eng.dispose()
