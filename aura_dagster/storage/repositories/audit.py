"""AuditRepository: what happened to an underwriting's runs (written by run status sensors)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.repositories._common import (
    Record,
    Repository,
    insert_for,
    new_ordered_id,
    record,
    records,
    utcnow,
)
from aura_dagster.storage.schema import audit_log

A = audit_log
# Namespace of the ids derived from an entry's key (uuid5): same key, same row.
_KEYED_IDS = uuid.UUID("6f0d8f0e-2b8c-4a57-9a3e-5d7c3c2f9b10")


@dataclass(frozen=True)
class AuditEntry:
    """One entry of `AuditRepository.record_many` (the run's ids are given once)."""

    event: str
    key: str | None = None
    step_key: str | None = None
    detail: Mapping[str, Any] | None = None


def _row(entry: AuditEntry, organization_id: str, underwriting_id: str | None,
         run_id: str | None, created_at: dt.datetime) -> dict[str, Any]:
    """An audit_log row; a keyed entry's id derives from its key (same key, same row)."""
    return {"id": (uuid.uuid5(_KEYED_IDS, entry.key) if entry.key is not None
                   else new_ordered_id()),
            "organization_id": organization_id, "underwriting_id": underwriting_id,
            "run_id": run_id, "step_key": entry.step_key, "event": entry.event,
            "detail": dict(entry.detail) if entry.detail is not None else None,
            "created_at": created_at}


class AuditRepository(Repository):
    def record(self, event: str, *, organization_id: str, underwriting_id: str | None = None,
               run_id: str | None = None, step_key: str | None = None,
               detail: Mapping[str, Any] | None = None, key: str | None = None) -> Record:
        """Append an entry. With a `key` (e.g. run id + event + step event), writing the same
        entry again (a re-evaluated sensor tick) leaves the first row and returns it."""
        values = _row(AuditEntry(event, key, step_key, detail), organization_id,
                      underwriting_id, run_id, utcnow())
        entry_id = values["id"]

        def work(conn: Connection) -> Record:
            conn.execute(insert_for(conn, A).values(**values)
                         .on_conflict_do_nothing(index_elements=["id"]))
            row = record(conn.execute(sa.select(A).where(A.c.id == entry_id)).one())
            assert row is not None
            return row

        return self.db.run(work)

    def record_many(self, entries: Sequence[AuditEntry], *, organization_id: str,
                    underwriting_id: str | None = None, run_id: str | None = None) -> int:
        """Append the entries of one run in one transaction and one INSERT (a run's ~20
        entries were ~80 statements one by one). Keyed entries already there are left as
        they are. Entries keep their order: created_at grows by a microsecond each.
        Returns how many entries were given."""
        if not entries:
            return 0
        now = utcnow()
        rows = [_row(e, organization_id, underwriting_id, run_id,
                     now + dt.timedelta(microseconds=i)) for i, e in enumerate(entries)]

        def work(conn: Connection) -> None:
            conn.execute(insert_for(conn, A).values(rows)
                         .on_conflict_do_nothing(index_elements=["id"]))

        self.db.run(work)
        return len(rows)

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
