"""Pool checkout that pings a PostgreSQL connection only when it may be dead.

`pool_pre_ping` makes a round trip (`SELECT 1`) before every statement a pool hands out.
Profiled on the production profile (bench_engine, burst of 20, statement log): 372 of the
1,290 statements per underwriting were those pings, one per event the run workers wrote.

A pooled PostgreSQL connection sits idle with nothing to read: the server speaks only when
asked. A server that terminates the backend (`pg_terminate_backend`, a restart, an idle
timeout) sends its FATAL message and closes the socket, so the socket becomes readable.
`ping_when_suspect` pings a connection on checkout only when its socket has something to
read or it sat unused for `idle_seconds` (a peer that vanished without a word, e.g. behind a
NAT); otherwise it is handed out as is. A connection that fails the ping is replaced
before the caller sees it, as with `pool_pre_ping`. The caller's own retry (Database.run,
the warehouse IO manager) covers a connection that dies after checkout, as before.
"""

from __future__ import annotations

import select
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

# Ping a connection that sat in the pool this long (pool_recycle still replaces old ones).
IDLE_PING_SECONDS = 30.0
_IDLE_SINCE = "aura_idle_since"


def has_pending_input(dbapi_connection: Any) -> bool:
    """True when the server sent something to a connection that asked for nothing: a FATAL
    notice before closing, or the close itself (or a stray notice: the ping decides)."""
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def needs_ping(dbapi_connection: Any, record_info: dict[str, Any], *,
               idle_seconds: float = IDLE_PING_SECONDS, now: float | None = None) -> bool:
    idle_since = record_info.get(_IDLE_SINCE)
    if idle_since is None:
        return True
    if (time.monotonic() if now is None else now) - idle_since >= idle_seconds:
        return True
    try:
        return has_pending_input(dbapi_connection)
    except (OSError, ValueError):  # no socket any more
        return True


def ping_when_suspect(engine: sa.Engine, *, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Install the conditional ping on a PostgreSQL engine created without pool_pre_ping."""
    if engine.dialect.name != "postgresql":
        raise ValueError(f"ping_when_suspect is for PostgreSQL engines, not {engine.dialect.name}")
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()  # just connected: alive

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if not needs_ping(dbapi_connection, record.info, idle_seconds=idle_seconds):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and hands out a new one.
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error
        record.info[_IDLE_SINCE] = time.monotonic()
