"""IdempotencyRepository (seed 002): claim a request id once, cache its response, expire."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.errors import DuplicateRequestError, RequestHashMismatchError
from aura_dagster.storage.repositories._common import (
    Record,
    Repository,
    insert_for,
    record,
    utcnow,
)
from aura_dagster.storage.schema import idempotency_keys

K = idempotency_keys
DEFAULT_TTL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class ClaimResult:
    """`won`: the caller owns the request now and must complete() or fail() it.
    Otherwise the request already COMPLETED and `response` is its cached response."""

    request_id: str
    won: bool
    status: str
    response: dict[str, Any] | None = None
    attempts: int = 1


class IdempotencyRepository(Repository):
    def claim(self, request_id: str, orchestrator_name: str, request_hash: str | None = None,
              ttl: dt.timedelta = DEFAULT_TTL, *,
              organization_id: str | None = None) -> ClaimResult:
        """Claim atomically. New, FAILED or expired: the caller wins. PROCESSING (or PENDING):
        DuplicateRequestError. COMPLETED: the cached response. A request id reused with another
        request hash raises RequestHashMismatchError."""

        def work(conn: Connection) -> ClaimResult:
            now = utcnow()
            won = conn.execute(
                insert_for(conn, K).values(
                    id=uuid.uuid4(), request_id=request_id, orchestrator_name=orchestrator_name,
                    organization_id=organization_id, status="PROCESSING",
                    request_hash=request_hash, attempts=1, created_at=now, updated_at=now,
                    expires_at=now + ttl)
                .on_conflict_do_nothing(index_elements=["request_id"])
                .returning(K.c.id)).first()
            if won is not None:
                return ClaimResult(request_id, True, "PROCESSING")
            same_request = (sa.true() if request_hash is None else sa.or_(
                K.c.request_hash.is_(None), K.c.request_hash == request_hash))
            # Re-claim a FAILED or expired key: a conditional UPDATE, so of two racing
            # re-claimers only one matches (PostgreSQL re-checks the WHERE after the row lock).
            reclaimed = conn.execute(
                K.update()
                .where(K.c.request_id == request_id,
                       sa.or_(K.c.expires_at <= now,
                              sa.and_(K.c.status == "FAILED", same_request)))
                .values(status="PROCESSING", orchestrator_name=orchestrator_name,
                        request_hash=request_hash, response_data=None, error_message=None,
                        completed_at=None, attempts=K.c.attempts + 1, updated_at=now,
                        expires_at=now + ttl)
                .returning(K.c.attempts)).first()
            if reclaimed is not None:
                return ClaimResult(request_id, True, "PROCESSING", attempts=reclaimed.attempts)
            row = record(conn.execute(sa.select(K).where(K.c.request_id == request_id)).one())
            assert row is not None
            if (request_hash is not None and row["request_hash"] is not None
                    and row["request_hash"] != request_hash):
                raise RequestHashMismatchError(
                    f"request {request_id!r} was first made with a different body")
            if row["status"] == "COMPLETED":
                return ClaimResult(request_id, False, "COMPLETED", row["response_data"],
                                   row["attempts"])
            raise DuplicateRequestError(request_id, row["status"])

        return self.db.run(work)

    def complete(self, request_id: str, response: Mapping[str, Any] | None) -> bool:
        """PROCESSING -> COMPLETED with the response to hand to later duplicates."""
        now = utcnow()
        stmt = (K.update().where(K.c.request_id == request_id, K.c.status == "PROCESSING")
                .values(status="COMPLETED", response_data=dict(response or {}),
                        completed_at=now, updated_at=now))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount == 1)

    def fail(self, request_id: str, error_message: str) -> bool:
        """PROCESSING -> FAILED; the request may be claimed again."""
        stmt = (K.update().where(K.c.request_id == request_id, K.c.status == "PROCESSING")
                .values(status="FAILED", error_message=error_message, updated_at=utcnow()))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount == 1)

    def get(self, request_id: str) -> Record | None:
        query = sa.select(K).where(K.c.request_id == request_id)
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    def cleanup_expired(self, now: dt.datetime | None = None) -> int:
        """Delete keys past their TTL; returns how many."""
        stmt = K.delete().where(K.c.expires_at <= (now or utcnow()))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount)
