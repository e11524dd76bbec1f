"""Engine, transactions, retries, health check and migrations for the operational store.

One `Database` per process; repositories share it. Every repository operation runs in one
transaction through `Database.run`, which retries the whole transaction on transient
connection errors (server restart, connection reset) with exponential backoff and jitter.
Calls made inside an explicit `with db.transaction():` join that transaction instead, so a
caller can make several repository calls atomic.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from aura_dagster.storage.liveness import ping_when_suspect

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_FILE_NAME = "aura.db"  # the same file as settings.STORE_FILE

_TRANSIENT_MESSAGES = (
    "server closed the connection",
    "connection reset",
    "connection refused",
    "terminating connection",
    "could not connect",
    "connection is closed",
    "connection already closed",
    "ssl syscall error",
    "the database system is starting up",
    "the database system is shutting down",
    "database is locked",
    "consuming input failed",
)


def default_sqlite_url(data_dir: Path) -> str:
    """The embedded default store: a SQLite file in `data_dir` (created if absent). The data
    directory comes from aura_dagster.settings: storage reads no environment."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite+pysqlite:///{(directory / SQLITE_FILE_NAME).resolve()}"


def is_transient_error(error: BaseException) -> bool:
    """Errors worth retrying: lost or refused connections, not bad SQL or constraint failures."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.DisconnectionError):
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        text = str(error).lower()
        return any(message in text for message in _TRANSIENT_MESSAGES)
    return False


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.05  # seconds
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)] (attempt counts from 1)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def with_retry(fn: Callable[[], T], policy: RetryPolicy = RetryPolicy(),
               *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call fn, retrying transient connection errors with exponential backoff and jitter."""
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as error:
            if attempt >= policy.attempts or not is_transient_error(error):
                raise
            delay = policy.delay(attempt)
            log.warning("transient database error (attempt %d/%d), retrying in %.3fs: %s",
                        attempt, policy.attempts, delay, error)
            sleep(delay)
            attempt += 1


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


class Database:
    """A pooled SQLAlchemy engine for SQLite (embedded) or PostgreSQL (production)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5,
                 max_overflow: int = 10, retry: RetryPolicy = RetryPolicy()) -> None:
        self.url = sa.make_url(url)
        self.retry = retry
        self._current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
            f"aura_db_connection_{id(self)}", default=None
        )
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": json_dumps}
        if self.is_sqlite:
            # Threads share the pool; the busy timeout makes writers wait for the lock.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_pre_ping"] = True
        else:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800)
        self.engine: Engine = sa.create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            ping_when_suspect(self.engine)  # a round trip only for a connection that may be dead

    # -- facts -----------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; repository calls inside it join it (no retry inside: the caller's
        block is not replayable). Commits on success, rolls back on any exception."""
        current = self._current.get()
        if current is not None:
            yield current
            return
        with self.engine.begin() as conn:
            token = self._current.set(conn)
            try:
                yield conn
            finally:
                self._current.reset(token)

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction, retried as a whole on transient connection errors.

        Inside an open `transaction()` it joins that transaction and is not retried.
        """
        current = self._current.get()
        if current is not None:
            return work(current)

        def attempt() -> T:
            with self.transaction() as conn:
                return work(conn)

        return with_retry(attempt, self.retry)

    # -- operations ------------------------------------------------------------------------
    def health_check(self) -> bool:
        """True when a round trip to the database succeeds."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        except Exception as error:  # a health check reports, it does not raise
            log.warning("database health check failed: %s", error)
            return False

    def alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # `%` would be read as interpolation by ConfigParser.
        url = self.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to `revision` (head: create everything), then
        re-create the factor matrix view if the factor dictionary changed since."""
        from alembic import command

        from aura_dagster.storage.views import refresh_factor_matrix_view

        def work(conn: Connection, config: Any) -> None:
            command.upgrade(config, revision)
            if revision == "head":
                refresh_factor_matrix_view(conn)

        self._migrate(work)

    def downgrade(self, revision: str = "base") -> None:
        from alembic import command

        self._migrate(lambda conn, config: command.downgrade(config, revision))

    def _migrate(self, work: Callable[[Connection, Any], None]) -> None:
        """Run Alembic in one transaction. On SQLite, foreign keys are off meanwhile (and
        checked after): recreating a table in batch mode must not cascade to its children."""
        config = self.alembic_config()
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection if self.is_sqlite else None
            if raw is not None:  # outside any transaction: PRAGMA is ignored inside one
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    config.attributes["connection"] = conn
                    work(conn, config)
                    if raw is not None:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys and a busy timeout on every connection; writers take the lock at
    BEGIN (IMMEDIATE) so two read-then-write transactions queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
