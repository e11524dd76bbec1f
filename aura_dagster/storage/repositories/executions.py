"""ExecutionRepository (seed 001): execution records, status, dedup, supersession, rollback."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.errors import (
    IllegalStatusTransitionError,
    NotFoundError,
    StorageError,
    TenantMismatchError,
)
from aura_dagster.storage.repositories._common import (
    Record,
    Repository,
    as_uuid,
    record,
    records,
    utcnow,
)
from aura_dagster.storage.schema import (
    ERROR_CLASSES,
    EXECUTION_STATUSES,
    processor_executions,
    underwriting_processors,
)

E = processor_executions
UP = underwriting_processors

FINAL_STATUSES = frozenset({"completed", "failed", "timeout", "cancelled"})
# Status only moves forward: pending -> running -> one final status.
_RANK = {"pending": 0, "running": 1, **{s: 2 for s in FINAL_STATUSES}}


def allowed_previous_statuses(status: str) -> list[str]:
    """The statuses an execution may be in for it to move to `status`."""
    if status not in _RANK:
        raise ValueError(f"unknown execution status {status!r}; one of {EXECUTION_STATUSES}")
    return [s for s, rank in _RANK.items() if rank < _RANK[status]]


class ExecutionRepository(Repository):
    # -- creation --------------------------------------------------------------------------
    def create_execution(self, underwriting_id: str, underwriting_processor_id: str,
                         organization_id: str, processor_name: str,
                         payload: Mapping[str, Any] | None, payload_hash: str,
                         document_revision_ids: Sequence[str] = (),
                         document_ids_hash: str | None = None, *,
                         execution_id: str | None = None, processor_version: str | None = None,
                         run_id: str | None = None, attempt: int = 1,
                         status: str = "pending") -> str:
        """Record a new execution and return its id (the caller's, or a new UUID). The
        underwriting processor must belong to this underwriting and organization."""
        if status not in ("pending", "running"):
            raise ValueError("an execution starts pending or running")
        exec_id = as_uuid(execution_id) if execution_id else uuid.uuid4()
        up_id = as_uuid(underwriting_processor_id)

        def work(conn: Connection) -> str:
            owner = conn.execute(
                sa.select(UP.c.organization_id, UP.c.underwriting_id, UP.c.processor)
                .where(UP.c.id == up_id)).first()
            if owner is None:
                raise NotFoundError(f"unknown underwriting processor {underwriting_processor_id}")
            if (owner.organization_id, owner.underwriting_id) != (organization_id,
                                                                  underwriting_id):
                raise TenantMismatchError(
                    f"underwriting processor {underwriting_processor_id} does not belong to "
                    f"underwriting {underwriting_id} of organization {organization_id}")
            if owner.processor != processor_name:
                raise ValueError(f"underwriting processor {underwriting_processor_id} is "
                                 f"{owner.processor!r}, not {processor_name!r}")
            now = utcnow()
            conn.execute(E.insert().values(
                id=exec_id, organization_id=organization_id, underwriting_id=underwriting_id,
                underwriting_processor_id=up_id, processor=processor_name,
                processor_version=processor_version, status=status, enabled=True,
                payload=dict(payload) if payload is not None else None,
                payload_hash=payload_hash, document_revision_ids=list(document_revision_ids),
                document_ids_hash=document_ids_hash, run_cost_cents=0, attempt=attempt,
                run_id=run_id, started_at=now if status == "running" else None,
                created_at=now, updated_at=now))
            return str(exec_id)

        return self.db.run(work)

    def find_execution_by_hash(self, underwriting_processor_id: str, payload_hash: str, *,
                               status: str | None = None) -> Record | None:
        """The execution with this payload for this processor: a completed one if any, else
        the newest."""
        query = sa.select(E).where(E.c.underwriting_processor_id == as_uuid(
            underwriting_processor_id), E.c.payload_hash == payload_hash)
        if status is not None:
            query = query.where(E.c.status == status)
        query = query.order_by(sa.case((E.c.status == "completed", 0), else_=1),
                               E.c.created_at.desc(), E.c.id.desc()).limit(1)
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    # -- status ----------------------------------------------------------------------------
    def update_execution_status(self, execution_id: str, status: str,
                                started_at: dt.datetime | None = None,
                                completed_at: dt.datetime | None = None,
                                failed_code: str | None = None,
                                failed_reason: str | None = None, *,
                                error_class: str | None = None,
                                execution_time_ms: int | None = None,
                                run_id: str | None = None) -> bool:
        """Move the status forward. False if the execution is unknown; raises
        IllegalStatusTransitionError for a backward or sideways move."""
        if error_class is not None and error_class not in ERROR_CLASSES:
            raise ValueError(f"unknown error class {error_class!r}")
        now = utcnow()
        changes: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "running":
            changes["started_at"] = started_at or now
        elif started_at is not None:
            changes["started_at"] = started_at
        if status in FINAL_STATUSES:
            changes["completed_at"] = completed_at or now
        for name, value in (("failed_code", failed_code), ("failed_reason", failed_reason),
                            ("error_class", error_class),
                            ("execution_time_ms", execution_time_ms), ("run_id", run_id)):
            if value is not None:
                changes[name] = value
        return self.db.run(lambda conn: self._transition(conn, execution_id, status, changes))

    def save_execution_result(self, execution_id: str, output: Mapping[str, Any],
                              factors_delta: Mapping[str, Any], run_cost_cents: int = 0,
                              completed_at: dt.datetime | None = None, *,
                              confidence: float | None = None,
                              execution_time_ms: int | None = None,
                              supersede: bool = True) -> bool:
        """Complete the execution with its output and, in the same transaction, make it the
        active one of its underwriting processor (superseding the previous active one)."""
        changes: dict[str, Any] = {
            "status": "completed", "output": dict(output), "factors_delta": dict(factors_delta),
            "run_cost_cents": int(run_cost_cents), "completed_at": completed_at or utcnow(),
            "updated_at": utcnow(), "confidence": confidence,
            "execution_time_ms": execution_time_ms,
        }

        def work(conn: Connection) -> bool:
            if not self._transition(conn, execution_id, "completed", changes):
                return False
            if supersede:
                up_id = conn.execute(sa.select(E.c.underwriting_processor_id)
                                     .where(E.c.id == as_uuid(execution_id))).scalar_one()
                self._supersede_active(conn, up_id, as_uuid(execution_id))
            return True

        return self.db.run(work)

    def cancel_unfinished_for_run(self, run_id: str, reason: str = "run cancelled") -> int:
        """Mark the run's pending and running executions cancelled (run terminated)."""
        now = utcnow()
        stmt = (E.update()
                .where(E.c.run_id == run_id, E.c.status.in_(("pending", "running")))
                .values(status="cancelled", completed_at=now, updated_at=now,
                        failed_code="CANCELLED", failed_reason=reason))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount)

    # -- retrieval -------------------------------------------------------------------------
    def get_execution_by_id(self, execution_id: str,
                            organization_id: str | None = None) -> Record | None:
        query = sa.select(E).where(E.c.id == as_uuid(execution_id))
        if organization_id is not None:
            query = query.where(E.c.organization_id == organization_id)
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    def get_active_executions(self, underwriting_processor_id: str,
                              organization_id: str | None = None) -> list[Record]:
        """What consolidation uses: enabled, in the current list, completed; in list order."""
        up_id = as_uuid(underwriting_processor_id)

        def work(conn: Connection) -> list[Record]:
            query = sa.select(UP.c.current_executions_list).where(UP.c.id == up_id)
            if organization_id is not None:
                query = query.where(UP.c.organization_id == organization_id)
            current = conn.execute(query).scalar_one_or_none()
            if not current:
                return []
            rows = records(conn.execute(sa.select(E).where(
                E.c.id.in_([as_uuid(e) for e in current]), E.c.enabled.is_(True),
                E.c.status == "completed", E.c.underwriting_processor_id == up_id)))
            order = {e: i for i, e in enumerate(current)}
            return sorted(rows, key=lambda r: order[r["id"]])

        return self.db.run(work)

    def get_executions_by_underwriting(self, underwriting_id: str,
                                       processor: str | None = None,
                                       status: str | None = None,
                                       organization_id: str | None = None) -> list[Record]:
        query = sa.select(E).where(E.c.underwriting_id == underwriting_id)
        if processor is not None:
            query = query.where(E.c.processor == processor)
        if status is not None:
            query = query.where(E.c.status == status)
        if organization_id is not None:
            query = query.where(E.c.organization_id == organization_id)
        query = query.order_by(E.c.created_at, E.c.id)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def get_execution_count(self, underwriting_id: str, processor: str | None = None,
                            organization_id: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(E).where(
            E.c.underwriting_id == underwriting_id)
        if processor is not None:
            query = query.where(E.c.processor == processor)
        if organization_id is not None:
            query = query.where(E.c.organization_id == organization_id)
        return self.db.run(lambda conn: int(conn.execute(query).scalar_one()))

    # -- supersession ----------------------------------------------------------------------
    def mark_execution_superseded(self, old_execution_id: str, new_execution_id: str) -> bool:
        """Link old -> new, disable old, and put new in old's place in the current list, in one
        transaction. False if either execution is unknown."""
        old_id, new_id = as_uuid(old_execution_id), as_uuid(new_execution_id)

        def work(conn: Connection) -> bool:
            found = {r.id: r.underwriting_processor_id for r in conn.execute(
                sa.select(E.c.id, E.c.underwriting_processor_id)
                .where(E.c.id.in_([old_id, new_id])))}
            if len(found) != 2:
                return False
            if found[old_id] != found[new_id]:
                raise StorageError("executions of different underwriting processors")
            self._supersede_active(conn, found[new_id], new_id, only=[old_id])
            return True

        return self.db.run(work)

    def supersede_active(self, underwriting_processor_id: str,
                         new_execution_id: str) -> list[str]:
        """Make `new_execution_id` the active execution: every other execution in the current
        list is linked to it (updated_execution_id), disabled and replaced. Returns their ids."""
        up_id, new_id = as_uuid(underwriting_processor_id), as_uuid(new_execution_id)

        def work(conn: Connection) -> list[str]:
            owner = conn.execute(sa.select(E.c.underwriting_processor_id)
                                 .where(E.c.id == new_id)).scalar_one_or_none()
            if owner is None:
                raise NotFoundError(f"unknown execution {new_execution_id}")
            if owner != up_id:
                raise StorageError(f"execution {new_execution_id} belongs to another "
                                   "underwriting processor")
            return self._supersede_active(conn, up_id, new_id)

        return self.db.run(work)

    def get_execution_chain(self, execution_id: str) -> list[Record]:
        """The supersession chain through this execution, oldest first: the executions it
        superseded (walking back) and those that superseded it (walking forward)."""
        start = as_uuid(execution_id)
        return self.db.run(lambda conn: self._chain(conn, start))

    # -- activation ------------------------------------------------------------------------
    def activate_execution(self, execution_id: str) -> bool:
        stmt = (E.update().where(E.c.id == as_uuid(execution_id))
                .values(enabled=True, disabled_at=None, updated_at=utcnow()))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount == 1)

    def deactivate_execution(self, execution_id: str) -> bool:
        now = utcnow()
        stmt = (E.update().where(E.c.id == as_uuid(execution_id))
                .values(enabled=False, disabled_at=now, updated_at=now))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount == 1)

    def rollback_to(self, execution_id: str) -> list[str]:
        """Re-activate a completed execution of a supersession chain (usually an older one):
        the chain's executions that are current are disabled and replaced by it in
        current_executions_list, in one transaction. Supersession links are kept as history.
        Returns the new current list."""
        target_id = as_uuid(execution_id)

        def work(conn: Connection) -> list[str]:
            target = record(conn.execute(sa.select(E).where(E.c.id == target_id)).first())
            if target is None:
                raise NotFoundError(f"unknown execution {execution_id}")
            if target["status"] != "completed":
                raise StorageError(f"execution {execution_id} is {target['status']}; only a "
                                   "completed execution can be re-activated")
            up_id = as_uuid(target["underwriting_processor_id"])
            current = self._locked_current_list(conn, up_id)
            # Every other execution of the same chain, older or newer, gives way to the target.
            chain = {e["id"] for e in self._chain(conn, target_id)} - {target["id"]}
            replaced = [e for e in current if e in chain]
            new_list: list[str] = []
            for e in current:
                if e in chain:
                    if target["id"] not in new_list:
                        new_list.append(target["id"])
                elif e not in new_list:
                    new_list.append(e)
            if target["id"] not in new_list:
                new_list.append(target["id"])
            now = utcnow()
            if replaced:
                conn.execute(E.update().where(E.c.id.in_([as_uuid(e) for e in replaced]))
                             .values(enabled=False, disabled_at=now, updated_at=now))
            conn.execute(E.update().where(E.c.id == target_id)
                         .values(enabled=True, disabled_at=None, updated_at=now))
            self._write_current_list(conn, up_id, new_list)
            return new_list

        return self.db.run(work)

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _chain(conn: Connection, start: str) -> list[Record]:
        first = record(conn.execute(sa.select(E).where(E.c.id == start)).first())
        if first is None:
            return []
        seen = {first["id"]}
        back: list[Record] = []
        current = first
        while True:  # predecessors: the newest row whose updated_execution_id points here
            previous = record(conn.execute(
                sa.select(E).where(E.c.updated_execution_id == as_uuid(current["id"]))
                .order_by(E.c.created_at.desc(), E.c.id.desc()).limit(1)).first())
            if previous is None or previous["id"] in seen:
                break
            seen.add(previous["id"])
            back.append(previous)
            current = previous
        forward: list[Record] = []
        current = first
        while current["updated_execution_id"] and current["updated_execution_id"] not in seen:
            following = record(conn.execute(sa.select(E).where(
                E.c.id == as_uuid(current["updated_execution_id"]))).first())
            if following is None:
                break
            seen.add(following["id"])
            forward.append(following)
            current = following
        return [*reversed(back), first, *forward]

    def _transition(self, conn: Connection, execution_id: str, status: str,
                    changes: Mapping[str, Any]) -> bool:
        """Conditional UPDATE: only from an allowed previous status, so two racing writers
        cannot both move the same execution."""
        exec_id = as_uuid(execution_id)
        updated = conn.execute(
            E.update().where(E.c.id == exec_id,
                             E.c.status.in_(allowed_previous_statuses(status)))
            .values(**changes)).rowcount
        if updated == 1:
            return True
        current = conn.execute(sa.select(E.c.status).where(E.c.id == exec_id)).scalar_one_or_none()
        if current is None:
            return False
        raise IllegalStatusTransitionError(str(exec_id), current, status)

    def _locked_current_list(self, conn: Connection, up_id: str) -> list[str]:
        query = self._lock_clause(conn, sa.select(UP.c.current_executions_list)
                                  .where(UP.c.id == up_id))
        current = conn.execute(query).scalar_one_or_none()
        if current is None:
            raise NotFoundError(f"unknown underwriting processor {up_id}")
        return list(current)

    @staticmethod
    def _write_current_list(conn: Connection, up_id: str, ids: Sequence[str]) -> None:
        conn.execute(UP.update().where(UP.c.id == up_id).values(
            current_executions_list=[as_uuid(e) for e in ids], updated_at=utcnow()))

    def _supersede_active(self, conn: Connection, up_id: str, new_id: str,
                          only: Sequence[str] | None = None) -> list[str]:
        """Replace the current executions (or just `only`) by `new_id`: link, disable, swap."""
        current = self._locked_current_list(conn, up_id)
        new = str(new_id)
        targets = {str(e) for e in only} if only is not None else set(current) - {new}
        superseded = [e for e in current if e in targets]
        if only is not None:  # an explicit pair is linked even when old is no longer current
            superseded = sorted(targets - {new})
        now = utcnow()
        if superseded:
            conn.execute(E.update().where(E.c.id.in_([as_uuid(e) for e in superseded]))
                         .values(updated_execution_id=new_id, enabled=False, disabled_at=now,
                                 updated_at=now))
        conn.execute(E.update().where(E.c.id == new_id)
                     .values(enabled=True, disabled_at=None, updated_at=now))
        new_list: list[str] = []
        for e in current:
            replacement = new if e in targets else e
            if replacement not in new_list:
                new_list.append(replacement)
        if new not in new_list:
            new_list.append(new)
        self._write_current_list(conn, up_id, new_list)
        return superseded
