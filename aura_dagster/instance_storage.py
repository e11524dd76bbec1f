"""dagster-postgres instance storage with one connection pool per process.

dagster-postgres (0.29) opens a new PostgreSQL connection for every statement (`NullPool`)
except in the webserver, and the code server builds a new instance -- and new engines, whose
first connect reflects the schema -- for every sensor evaluation. Measured on the production
profile (benchmarks/bench_engine.py, 2 cores): 124 connections and 0.94 CPU-s of the
PostgreSQL server per underwriting, most of it backend start-up, not queries.

`PooledPostgresStorage` is `DagsterPostgresStorage` whose run, event-log and schedule
storages share one pooled engine per database URL per process:
- every instance a process builds (the code server builds one per request) reuses it;
- a connection the server dropped (a restart, a terminated backend) is replaced before a
  statement uses it, with a ping only when its socket says it may be dead
  (aura_dagster.storage.liveness: `pool_pre_ping` made one round trip per event);
- the schema check that a new storage makes (`get_table_names`) runs once per process;
- connections name the process (`application_name`), so `pg_stat_activity` tells the
  daemon, the code server and the run workers apart;
- schema-feature checks that Dagster repeats by reflection (on every run event) are
  remembered once positive, and an event is one INSERT, without dagster-postgres's legacy
  `NOTIFY` that nothing listens to;
- runs racing to create an op pool's limit no longer fail (a Dagster bug on PostgreSQL);
- a dynamic partition seen to exist is not looked up again for a minute (Dagster checks it
  for every input and output of every step).
A forked child (Celery's prefork pool) never uses its parent's connections: the engines are
forgotten in the child and the parent's sockets are left alone. With all this, a burst of
200 on the production profile went from 124 connections and 0.94 CPU-s of the server per
underwriting to about 1 connection and 0.16 CPU-s. Password auth only: a cloud
`auth_provider` (dagster-postgres's token auth) is refused with a clear error.

    storage:
      custom:
        module: aura_dagster.instance_storage
        class: PooledPostgresStorage
        config:
          postgres_url: {env: AURA_DAGSTER_PG_URL}
          pool_size: 2          # connections kept open per process
          max_overflow: 8       # extra connections under load, closed when returned
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dagster import Field, IntSource
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log import SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import pg_url_from_config

from aura_dagster.storage.liveness import ping_when_suspect

DEFAULT_POOL_SIZE = 2
DEFAULT_MAX_OVERFLOW = 8
POOL_RECYCLE_SECONDS = 3600

_engines: dict[tuple[str, int, int], sa.Engine] = {}
_checked_urls: set[str] = set()
_lock = threading.Lock()
# Engines inherited across a fork: kept referenced so that collecting them never closes a
# socket the parent still uses.
_inherited: list[sa.Engine] = []


def _forget_after_fork() -> None:
    global _lock
    _inherited.extend(_engines.values())
    _engines.clear()
    _checked_urls.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def application_name() -> str:
    """`aura:<program>`, e.g. aura:dagster-daemon, aura:celery (at most 63 bytes)."""
    return f"aura:{Path(sys.argv[0]).name or 'python'}"[:63]


def shared_engine(url: str, pool_size: int, max_overflow: int) -> sa.Engine:
    """This process's pooled AUTOCOMMIT engine for `url` (created on first use)."""
    key = (url, pool_size, max_overflow)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = sa.create_engine(
                url, isolation_level="AUTOCOMMIT", pool_size=pool_size,
                max_overflow=max_overflow, pool_recycle=POOL_RECYCLE_SECONDS,
                connect_args={"application_name": application_name()})
            ping_when_suspect(engine)
            _engines[key] = engine
        return engine


# Schema-feature checks that Dagster's SQL storages make by reflecting the schema on every
# call (e.g. `has_run_stats_index_cols` on every run event). A feature, once present, stays:
# only positive answers are remembered, per database per process.
_present: set[tuple[str, ...]] = set()


def _remember_present(method: Callable[..., bool]) -> Callable[..., bool]:
    @functools.wraps(method)
    def checked(self: Any, *args: Any) -> bool:
        key = (self.postgres_url, method.__name__, *(a for a in args if isinstance(a, str)))
        if key in _present:
            return True
        found = method(self, *args)
        if found:
            _present.add(key)
        return found

    return checked


class _SharedEngine:
    """A dagster-postgres storage that runs its statements on the process's pooled engine."""

    postgres_url: str
    _engine: sa.Engine

    def __init__(self, postgres_url: str, should_autocreate_tables: bool,
                 engine: sa.Engine) -> None:
        super().__init__(postgres_url, should_autocreate_tables)  # type: ignore[call-arg]
        # The parent's own NullPool engine was used at most for the table check, and NullPool
        # keeps nothing open.
        self._engine = engine


class PooledRunStorage(_SharedEngine, PostgresRunStorage):
    has_run_stats_index_cols = _remember_present(PostgresRunStorage.has_run_stats_index_cols)
    has_bulk_actions_selector_cols = _remember_present(
        PostgresRunStorage.has_bulk_actions_selector_cols)
    has_backfill_id_column = _remember_present(PostgresRunStorage.has_backfill_id_column)
    has_bulk_action_job_name_column = _remember_present(
        PostgresRunStorage.has_bulk_action_job_name_column)
    has_backfill_tags_table = _remember_present(PostgresRunStorage.has_backfill_tags_table)
    has_built_index = _remember_present(PostgresRunStorage.has_built_index)


# (database, partitions definition, key) -> when it was last seen to exist (monotonic).
_partitions_seen: dict[tuple[str, str, str], float] = {}
PARTITION_SEEN_SECONDS = 60.0
PARTITIONS_SEEN_MAX = 10_000

_EVENT_COLUMNS = ("run_id", "event", "dagster_event_type", "timestamp", "step_key", "asset_key",
                  "partition")  # SqlEventLogStorage._event_to_row's keys
_INSERT_EVENT_SQL = (
    f"INSERT INTO {SqlEventLogStorageTable.name} ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(f'%({c})s' for c in _EVENT_COLUMNS)}) RETURNING id")


class PooledEventLogStorage(_SharedEngine, PostgresEventLogStorage):
    has_table = _remember_present(PostgresEventLogStorage.has_table)
    has_asset_key_col = _remember_present(PostgresEventLogStorage.has_asset_key_col)
    _has_asset_key_col_on_connection = _remember_present(
        PostgresEventLogStorage._has_asset_key_col_on_connection)  # noqa: SLF001
    has_secondary_index = _remember_present(PostgresEventLogStorage.has_secondary_index)

    def initialize_concurrency_limit_to_default(self, concurrency_key: str) -> bool:
        """Dagster's, made safe for runs racing to create a pool's limit. Its INSERT, when
        another run inserted first, aborts the PostgreSQL transaction, so its fallback
        UPDATE fails too and the run fails (seen: 4 of 12 runs of a first burst on a fresh
        instance, all re-run by run_retries). The loser's work is the winner's: the pool
        exists with the default limit and its slots."""
        try:
            return super().initialize_concurrency_limit_to_default(concurrency_key)
        except (sa.exc.IntegrityError, sa.exc.InternalError):
            if concurrency_key in {pool.name for pool in self.get_pool_limits()}:
                return True
            raise

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        """Dagster asks this for every input and output of every step of a partitioned run
        (22 queries per underwriting). A partition, once there, stays: positive answers are
        remembered for PARTITION_SEEN_SECONDS (about a run), and forgotten when this process
        deletes the partition."""
        key = (self.postgres_url, partitions_def_name, partition_key)
        now = time.monotonic()
        seen = _partitions_seen.get(key)
        if seen is not None and now - seen < PARTITION_SEEN_SECONDS:
            return True
        found = super().has_dynamic_partition(partitions_def_name, partition_key)
        if found:
            if len(_partitions_seen) >= PARTITIONS_SEEN_MAX:
                _partitions_seen.clear()
            _partitions_seen[key] = now
        else:
            _partitions_seen.pop(key, None)
        return found

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        _partitions_seen.pop((self.postgres_url, partitions_def_name, partition_key), None)
        super().delete_dynamic_partition(partitions_def_name, partition_key)

    def store_event(self, event: EventLogEntry) -> None:
        """PostgresEventLogStorage.store_event (dagster-postgres 0.29) without its `NOTIFY`:
        "LISTEN/NOTIFY no longer used for pg event watch - preserved here to support version
        skew" -- a second statement per event that nothing here listens to."""
        with self._connect() as conn:
            # One constant statement in the driver's own SQL: no statement to build, compile
            # or cache-key per event (`prepare_insert_event` builds one per event).
            event_id = int(conn.exec_driver_sql(_INSERT_EVENT_SQL, self._event_to_row(event))
                           .scalar_one())
        if (event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS
                and event.dagster_event.asset_key):  # type: ignore[union-attr]
            with self.index_transaction() as conn:
                self._store_asset_event_tags(conn, [event], [event_id])
                self._store_asset_event(conn, event, event_id)
        if event.is_dagster_event and event.dagster_event_type in ASSET_CHECK_EVENTS:
            self.store_asset_check_event(event, event_id)


class PooledScheduleStorage(_SharedEngine, PostgresScheduleStorage):
    has_instigators_table = _remember_present(PostgresScheduleStorage.has_instigators_table)
    _has_instigators_table = _remember_present(
        PostgresScheduleStorage._has_instigators_table)  # noqa: SLF001
    _has_asset_daemon_asset_evaluations_table = _remember_present(
        PostgresScheduleStorage._has_asset_daemon_asset_evaluations_table)  # noqa: SLF001
    has_secondary_index_table = _remember_present(
        PostgresScheduleStorage.has_secondary_index_table)
    has_built_index = _remember_present(PostgresScheduleStorage.has_built_index)


class PooledPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage on one pooled engine per database per process."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, *,
                 pool_size: int = DEFAULT_POOL_SIZE,
                 max_overflow: int = DEFAULT_MAX_OVERFLOW) -> None:
        with _lock:
            first_in_process = postgres_url not in _checked_urls
            _checked_urls.add(postgres_url)
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        # The storages check (and create) their tables when asked: once per process.
        check_tables = should_autocreate_tables and first_in_process
        engine = shared_engine(postgres_url, pool_size, max_overflow)
        self._run_storage = PooledRunStorage(postgres_url, check_tables, engine)
        self._event_log_storage = PooledEventLogStorage(postgres_url, check_tables, engine)
        self._schedule_storage = PooledScheduleStorage(postgres_url, check_tables, engine)
        DagsterStorage.__init__(self)

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {
            **super().config_type(),
            "pool_size": Field(IntSource, is_required=False, default_value=DEFAULT_POOL_SIZE,
                               description="Connections kept open per process."),
            "max_overflow": Field(IntSource, is_required=False,
                                  default_value=DEFAULT_MAX_OVERFLOW,
                                  description="Extra connections under load (closed when "
                                              "returned)."),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> PooledPostgresStorage:
        if config_value.get("auth_provider"):
            raise ValueError("PooledPostgresStorage supports password auth only; for "
                             "auth_provider use dagster-postgres's own `storage: postgres:`")
        return cls(pg_url_from_config(config_value),
                   config_value.get("should_autocreate_tables", True), inst_data,
                   pool_size=config_value.get("pool_size", DEFAULT_POOL_SIZE),
                   max_overflow=config_value.get("max_overflow", DEFAULT_MAX_OVERFLOW))

