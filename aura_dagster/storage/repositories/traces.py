"""TraceRepository (seed 002): ordered decision traces and evidence bundles per request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.repositories._common import (
    Record,
    Repository,
    as_uuid,
    new_ordered_id,
    records,
    utcnow,
)
from aura_dagster.storage.schema import decision_traces, evidence_bundles

if TYPE_CHECKING:
    from aura_dagster.domain.processors.base import DecisionTrace, Evidence

T = decision_traces
EV = evidence_bundles

_TRACE_FIELDS = ("decision_point", "decision", "rationale", "input_data", "output_data",
                 "duration_ms")
_EVIDENCE_FIELDS = ("evidence_type", "evidence_data", "source", "confidence_score", "metadata")


def _fields(item: Any, names: Sequence[str]) -> dict[str, Any]:
    """Accept the domain dataclasses or plain mappings."""
    if isinstance(item, Mapping):
        return {name: item.get(name) for name in names}
    return {name: getattr(item, name, None) for name in names}


class TraceRepository(Repository):
    def add_traces(self, request_id: str, orchestrator_name: str,
                   traces: Sequence[DecisionTrace | Mapping[str, Any]], *,
                   organization_id: str, underwriting_id: str | None = None,
                   execution_id: str | None = None) -> list[int]:
        """Append traces with the next sequence numbers of the request (1, 2, ...), atomically:
        concurrent writers for one request are serialized, never interleaved or duplicated."""
        items = [_fields(t, _TRACE_FIELDS) for t in traces]
        exec_id = as_uuid(execution_id) if execution_id else None

        def work(conn: Connection) -> list[int]:
            if not items:
                return []
            self._lock_request(conn, request_id)
            last = conn.execute(sa.select(sa.func.max(T.c.sequence_number))
                                .where(T.c.request_id == request_id)).scalar_one_or_none() or 0
            now = utcnow()
            numbers = list(range(last + 1, last + 1 + len(items)))
            conn.execute(T.insert(), [
                {**item, "id": new_ordered_id(), "request_id": request_id,
                 "orchestrator_name": orchestrator_name, "organization_id": organization_id,
                 "underwriting_id": underwriting_id, "execution_id": exec_id,
                 "sequence_number": number, "created_at": now}
                for number, item in zip(numbers, items, strict=True)
            ])
            return numbers

        return self.db.run(work)

    def add_evidence(self, request_id: str, orchestrator_name: str,
                     evidence: Sequence[Evidence | Mapping[str, Any]], *,
                     organization_id: str, underwriting_id: str | None = None,
                     execution_id: str | None = None) -> list[str]:
        items = [_fields(e, _EVIDENCE_FIELDS) for e in evidence]
        exec_id = as_uuid(execution_id) if execution_id else None
        ids = [new_ordered_id() for _ in items]

        def work(conn: Connection) -> list[str]:
            if items:
                now = utcnow()
                conn.execute(EV.insert(), [
                    {**item, "evidence_data": item["evidence_data"] or {}, "id": row_id,
                     "request_id": request_id, "orchestrator_name": orchestrator_name,
                     "organization_id": organization_id, "underwriting_id": underwriting_id,
                     "execution_id": exec_id, "created_at": now}
                    for row_id, item in zip(ids, items, strict=True)
                ])
            return [str(i) for i in ids]

        return self.db.run(work)

    def get_traces(self, request_id: str, organization_id: str | None = None) -> list[Record]:
        query = sa.select(T).where(T.c.request_id == request_id)
        if organization_id is not None:
            query = query.where(T.c.organization_id == organization_id)
        query = query.order_by(T.c.sequence_number)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def get_evidence(self, request_id: str, organization_id: str | None = None) -> list[Record]:
        query = sa.select(EV).where(EV.c.request_id == request_id)
        if organization_id is not None:
            query = query.where(EV.c.organization_id == organization_id)
        query = query.order_by(EV.c.created_at, EV.c.id)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def get_traces_for_underwriting(self, underwriting_id: str,
                                    organization_id: str) -> list[Record]:
        query = (sa.select(T)
                 .where(T.c.underwriting_id == underwriting_id,
                        T.c.organization_id == organization_id)
                 .order_by(T.c.request_id, T.c.sequence_number))
        return self.db.run(lambda conn: records(conn.execute(query)))

    @staticmethod
    def _lock_request(conn: Connection, request_id: str) -> None:
        """Serialize writers of one request. PostgreSQL: a transaction-scoped advisory lock on
        a hash of the request id (bound as a parameter). SQLite: BEGIN IMMEDIATE already holds
        the write lock."""
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended(sa.bindparam("request_id", request_id), 0))))
