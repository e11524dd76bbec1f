"""Helpers shared by the repositories: row conversion, ids, clocks, dialect-specific inserts."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from aura_dagster.storage.database import Database
from aura_dagster.storage.types import canonical_id

Record = dict[str, Any]


class Unset:
    """Marks an argument the caller did not pass (None is a value for nullable columns)."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_id_lock = threading.Lock()
_last_id = 0


def new_ordered_id() -> uuid.UUID:
    """A ULID-layout id (48-bit millisecond time, then 80 bits) that increases strictly within
    the process, so rows written in one batch or millisecond keep their order by id."""
    global _last_id
    with _id_lock:
        candidate = (int(time.time() * 1000) << 80) | secrets.randbits(64)
        _last_id = max(candidate, _last_id + 1)
        return uuid.UUID(int=_last_id)


def as_uuid(value: str | uuid.UUID) -> str:
    """Parse an internal id into its one stored form (canonical 36-character text). Raises
    ValueError for anything that is not a UUID, so a malformed id never reaches SQL."""
    return canonical_id(value)


def record(row: Row[Any] | None) -> Record | None:
    """A row as a plain dict; UUIDs become their canonical strings."""
    if row is None:
        return None
    return {key: str(v) if isinstance(v, uuid.UUID) else v for key, v in row._mapping.items()}


def records(rows: Any) -> list[Record]:
    return [r for r in (record(row) for row in rows) if r is not None]


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """INSERT supporting ON CONFLICT on both PostgreSQL and SQLite."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def deep_merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge dictionaries left to right; the right side wins, nested dicts merge key by key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = deep_merge(merged[key], value)
            elif isinstance(value, Mapping):
                merged[key] = deep_merge(value)
            else:
                merged[key] = value
    return merged


class Repository:
    """Base: holds the Database; subclasses run each operation through `db.run`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _lock_clause(self, conn: Connection, query: sa.Select[Any]) -> sa.Select[Any]:
        """SELECT ... FOR UPDATE on PostgreSQL. SQLite needs none: BEGIN IMMEDIATE already
        holds the database's write lock."""
        return query.with_for_update() if conn.dialect.name == "postgresql" else query
