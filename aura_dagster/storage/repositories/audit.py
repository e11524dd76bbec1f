"""AuditRepository: what happened to an underwriting's runs (written by run status sensors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.repositories._common import (
    Record,
    Repository,
    new_ordered_id,
    record,
    records,
    utcnow,
)
from aura_dagster.storage.schema import audit_log

A = audit_log


class AuditRepository(Repository):
    def record(self, event: str, *, organization_id: str, underwriting_id: str | None = None,
               run_id: str | None = None, step_key: str | None = None,
               detail: Mapping[str, Any] | None = None) -> Record:
        values = {"id": new_ordered_id(), "organization_id": organization_id,
                  "underwriting_id": underwriting_id, "run_id": run_id, "step_key": step_key,
                  "event": event, "detail": dict(detail) if detail is not None else None,
                  "created_at": utcnow()}

        def work(conn: Connection) -> Record:
            row = record(conn.execute(A.insert().values(**values).returning(*A.c)).one())
            assert row is not None
            return row

        return self.db.run(work)

    def list_for_underwriting(self, underwriting_id: str, organization_id: str) -> list[Record]:
        query = (sa.select(A)
                 .where(A.c.underwriting_id == underwriting_id,
                        A.c.organization_id == organization_id)
                 .order_by(A.c.created_at, A.c.id))
        return self.db.run(lambda conn: records(conn.execute(query)))

    def list_for_run(self, run_id: str, organization_id: str | None = None) -> list[Record]:
        query = sa.select(A).where(A.c.run_id == run_id)
        if organization_id is not None:
            query = query.where(A.c.organization_id == organization_id)
        return self.db.run(lambda conn: records(conn.execute(query.order_by(A.c.created_at,
                                                                             A.c.id))))
