"""dagster-postgres instance storage with one connection pool per process.

dagster-postgres (0.29) opens a new PostgreSQL connection for every statement (`NullPool`)
except in the webserver, and the code server builds a new instance -- and new engines, whose
first connect reflects the schema -- for every sensor evaluation. Measured on the production
profile (benchmarks/bench_engine.py, 2 cores): 124 connections and 0.94 CPU-s of the
PostgreSQL server per underwriting, most of it backend start-up, not queries.

`PooledPostgresStorage` is `DagsterPostgresStorage` whose run, event-log and schedule
storages share one pooled engine per database URL per process:
- every instance a process builds (the code server builds one per request) reuses it;
- `pool_pre_ping` replaces a connection the server dropped (a restart, a terminated backend)
  before a statement uses it;
- the schema check that a new storage makes (`get_table_names`) runs once per process;
- connections name the process (`application_name`), so `pg_stat_activity` tells the
  daemon, the code server and the run workers apart.
A forked child (Celery's prefork pool) never uses its parent's connections: the engines are
forgotten in the child and the parent's sockets are left alone.

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

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dagster import Field, IntSource
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import pg_url_from_config

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
                max_overflow=max_overflow, pool_pre_ping=True,
                pool_recycle=POOL_RECYCLE_SECONDS,
                connect_args={"application_name": application_name()})
            _engines[key] = engine
        return engine


class PooledPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage on one pooled engine per database per process."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, *,
                 pool_size: int = DEFAULT_POOL_SIZE,
                 max_overflow: int = DEFAULT_MAX_OVERFLOW) -> None:
        with _lock:
            first_in_process = postgres_url not in _checked_urls
            _checked_urls.add(postgres_url)
        # The parent classes check (and create) the tables when asked: once per process.
        super().__init__(postgres_url, should_autocreate_tables and first_in_process,
                         inst_data)
        self.should_autocreate_tables = should_autocreate_tables
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        engine = shared_engine(postgres_url, pool_size, max_overflow)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            # Their own NullPool engines never connected (the check above used them at most
            # once, and NullPool keeps nothing open).
            storage._engine = engine  # noqa: SLF001

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
        return cls(pg_url_from_config(config_value),
                   config_value.get("should_autocreate_tables", True), inst_data,
                   pool_size=config_value.get("pool_size", DEFAULT_POOL_SIZE),
                   max_overflow=config_value.get("max_overflow", DEFAULT_MAX_OVERFLOW))

