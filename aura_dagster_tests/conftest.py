"""Session-wide fixtures shared by every test package.

PostgreSQL is the real server on 127.0.0.1:5432 (`make test` starts it when it is
installed and down). Each test that needs a database gets its own, created here and
dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator

import psycopg
import pytest

pytest_plugins = [
    "aura_dagster_tests.fixtures.sandbox",
    "aura_dagster_tests.fixtures.pubsub",
    "aura_dagster_tests.fixtures.definitions",
]

# A background job of a non-interactive shell (`nohup make test &`, some CI runners) starts
# with SIGINT ignored. Dagster gives SIGTERM whatever SIGINT does, also when it puts the
# handlers back after an in-process run: SIGTERM would stay ignored in this process and in
# every child started afterwards (compute-log `tail` helpers, servers), so terminate() would
# not stop them and runs would hang in their clean-up.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

PG_HOST = os.environ.get("AURA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("AURA_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("AURA_TEST_PG_USER", "postgres")


def _admin() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                           autocommit=True)


def pg_url(dbname: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


class PostgresDatabases:
    """Creates throw-away databases and drops them at the end of the session."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self, prefix: str = "aura_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return pg_url(name)

    def drop_all(self) -> None:
        with _admin() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    try:
        _admin().close()
    except psycopg.OperationalError as exc:  # fail loudly: never skip a real-part test
        pytest.fail(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}: {exc}")
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return postgres_databases.create()
