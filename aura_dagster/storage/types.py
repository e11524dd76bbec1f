"""Column types that map to native PostgreSQL types and to portable SQLite ones.

PostgreSQL gets JSONB, UUID[] and TEXT[]; SQLite gets JSON text. Timestamps are always
timezone-aware UTC in Python, whatever the backend stores.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


def json_type() -> sa.types.TypeEngine[Any]:
    """JSONB on PostgreSQL, JSON elsewhere; Python None is stored as SQL NULL."""
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out. Naive input is taken as UTC.

    SQLite has no time zones, so values are stored there as naive UTC and re-tagged on read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class UuidList(sa.types.TypeDecorator[list[str]]):
    """A list of UUIDs: UUID[] on PostgreSQL, a JSON array of strings elsewhere."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(postgresql.UUID(as_uuid=True)))
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        ids = [v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for v in value]
        return ids if dialect.name == "postgresql" else [str(v) for v in ids]

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        return [str(v) for v in value]


class TextList(sa.types.TypeDecorator[list[str]]):
    """A list of strings: TEXT[] on PostgreSQL, a JSON array elsewhere."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(sa.Text()))
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else [str(v) for v in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        return None if value is None else list(value)


def canonical_id(value: Any) -> str:
    """The one text form of an engine id: lowercase, dashed, 36 characters (str(UUID)).

    Raises ValueError for anything that is not a UUID, so a malformed id never reaches SQL.
    """
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


class UuidText(sa.types.TypeDecorator[str]):
    """An engine-minted id stored as its canonical text on every backend.

    Text, not a native UUID, so that the store, the warehouse, traces (`request_id`), events
    and the UI all show the same 36 characters and `request_id = id` joins as written on
    SQLite and PostgreSQL alike.
    """

    impl = sa.String(36)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else canonical_id(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)


class UuidTextList(TextList):
    """A list of engine ids in their canonical text: TEXT[] on PostgreSQL, JSON elsewhere."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else [canonical_id(v) for v in value]
