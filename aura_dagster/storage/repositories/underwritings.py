"""Underwritings and their documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.errors import NotFoundError, TenantMismatchError, UnknownDocumentError
from aura_dagster.storage.repositories._common import (
    UNSET,
    Record,
    Repository,
    Unset,
    insert_for,
    record,
    records,
    utcnow,
)
from aura_dagster.storage.schema import (
    FINAL_UNDERWRITING_STATUSES,
    UNDERWRITING_STATUSES,
    documents,
    underwritings,
)

# A case without an outcome yet: the only states a failure (a failed run, a rejected event)
# may move to `failed`. A parked or final case keeps its state (see `transition`).
IN_FLIGHT_STATUSES = ("created", "processing")


def ensure_underwriting(conn: Connection, underwriting_id: str, organization_id: str) -> Record:
    """Create the underwriting if it is new; raise if it belongs to another organization."""
    now = utcnow()
    conn.execute(
        insert_for(conn, underwritings)
        .values(id=underwriting_id, organization_id=organization_id, status="created",
                created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    row = record(conn.execute(sa.select(underwritings).where(underwritings.c.id == underwriting_id))
                 .one())
    assert row is not None
    if row["organization_id"] != organization_id:
        raise TenantMismatchError(
            f"underwriting {underwriting_id} does not belong to organization {organization_id}"
        )
    return row


def require_underwriting_of(conn: Connection, underwriting_id: str, organization_id: str) -> None:
    """Raise unless the underwriting exists and belongs to the organization."""
    owner = conn.execute(
        sa.select(underwritings.c.organization_id).where(underwritings.c.id == underwriting_id)
    ).scalar_one_or_none()
    if owner is None:
        raise NotFoundError(f"unknown underwriting {underwriting_id}")
    if owner != organization_id:
        raise TenantMismatchError(
            f"underwriting {underwriting_id} does not belong to organization {organization_id}"
        )


class UnderwritingRepository(Repository):
    # -- underwritings ---------------------------------------------------------------------
    def upsert_underwriting(self, underwriting_id: str, organization_id: str,
                            business_name: str | None = None, business_state: str | None = None,
                            status: str = "created") -> Record:
        """Create the underwriting, or update its business fields when given. An existing
        underwriting keeps its status; one owned by another organization raises."""
        _check_status(status)

        def work(conn: Connection) -> Record:
            now = utcnow()
            inserted = conn.execute(
                insert_for(conn, underwritings)
                .values(id=underwriting_id, organization_id=organization_id, status=status,
                        business_name=business_name, business_state=business_state,
                        created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(underwritings.c.id)
            ).first()
            if inserted is None:
                current = self._get(conn, underwriting_id)
                assert current is not None
                if current["organization_id"] != organization_id:
                    raise TenantMismatchError(
                        f"underwriting {underwriting_id} belongs to another organization"
                    )
                changes: dict[str, Any] = {}
                if business_name is not None:
                    changes["business_name"] = business_name
                if business_state is not None:
                    changes["business_state"] = business_state
                if changes:
                    conn.execute(underwritings.update()
                                 .where(underwritings.c.id == underwriting_id)
                                 .values(**changes, updated_at=now))
            row = self._get(conn, underwriting_id)
            assert row is not None
            return row

        return self.db.run(work)

    def get_underwriting(self, underwriting_id: str,
                         organization_id: str | None = None) -> Record | None:
        def work(conn: Connection) -> Record | None:
            return self._get(conn, underwriting_id, organization_id)

        return self.db.run(work)

    def list_underwritings(self, organization_id: str, status: str | None = None,
                           limit: int = 100) -> list[Record]:
        query = sa.select(underwritings).where(underwritings.c.organization_id == organization_id)
        if status is not None:
            query = query.where(underwritings.c.status == status)
        query = query.order_by(underwritings.c.created_at.desc(), underwritings.c.id).limit(limit)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def list_by_status(self, status: str, organization_id: str | None = None,
                       limit: int = 500) -> list[Record]:
        """Underwritings in `status` across organizations (or one), longest-waiting first."""
        _check_status(status)
        query = sa.select(underwritings).where(underwritings.c.status == status)
        if organization_id is not None:
            query = query.where(underwritings.c.organization_id == organization_id)
        query = query.order_by(underwritings.c.updated_at, underwritings.c.id).limit(limit)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def set_status(self, underwriting_id: str, status: str, *,
                   review_reason: str | None | Unset = UNSET,
                   reviewed_by: str | None | Unset = UNSET,
                   reviewed_at: dt.datetime | None | Unset = UNSET,
                   review_decision: str | None | Unset = UNSET,
                   review_note: str | None | Unset = UNSET,
                   organization_id: str | None = None) -> Record:
        """Set the status (and review fields when given). Raises NotFoundError if unknown."""
        _check_status(status)
        changes: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        for name, value in (("review_reason", review_reason), ("reviewed_by", reviewed_by),
                            ("reviewed_at", reviewed_at),
                            ("review_decision", review_decision), ("review_note", review_note)):
            if not isinstance(value, Unset):
                changes[name] = value

        def work(conn: Connection) -> Record:
            query = underwritings.update().where(underwritings.c.id == underwriting_id)
            if organization_id is not None:
                query = query.where(underwritings.c.organization_id == organization_id)
            row = record(conn.execute(query.values(**changes).returning(*underwritings.c)).first())
            if row is None:
                raise NotFoundError(f"unknown underwriting {underwriting_id}")
            return row

        return self.db.run(work)

    def record_completion(self, underwriting_id: str, status: str, *,
                          completed_at: dt.datetime | None = None,
                          organization_id: str | None = None) -> Record:
        """The outcome `processing.completed` published: the final status (completed, failed
        or rejected) and when. Raises NotFoundError if the underwriting is unknown."""
        if status not in FINAL_UNDERWRITING_STATUSES:
            raise ValueError(f"not a final status {status!r}; one of "
                             f"{FINAL_UNDERWRITING_STATUSES}")
        now = utcnow()
        query = underwritings.update().where(underwritings.c.id == underwriting_id)
        if organization_id is not None:
            query = query.where(underwritings.c.organization_id == organization_id)
        query = query.values(status=status, completed_at=completed_at or now, updated_at=now)

        def work(conn: Connection) -> Record:
            row = record(conn.execute(query.returning(*underwritings.c)).first())
            if row is None:
                raise NotFoundError(f"unknown underwriting {underwriting_id}")
            return row

        return self.db.run(work)

    def transition(self, underwriting_id: str, from_status: str | tuple[str, ...],
                   status: str, **fields: Any) -> Record | None:
        """Compare-and-set: move to `status` (with the review fields given as keywords;
        `completed_at` defaults to now when `status` is final) only if the underwriting is
        in `from_status` (one status or several); None when it is not (or is unknown). The
        one way to change a case that may have an outcome already: a final outcome is never
        overwritten by a stale writer."""
        _check_status(status)
        allowed = {"review_reason", "reviewed_by", "reviewed_at", "review_decision",
                   "review_note", "completed_at"}
        if set(fields) - allowed:
            raise TypeError(f"cannot set {sorted(set(fields) - allowed)}")
        sources = (from_status,) if isinstance(from_status, str) else from_status
        if status in FINAL_UNDERWRITING_STATUSES:
            fields.setdefault("completed_at", utcnow())  # an outcome says when it came
        query = (underwritings.update()
                 .where(underwritings.c.id == underwriting_id,
                        underwritings.c.status.in_(sources))
                 .values(status=status, updated_at=utcnow(), **fields)
                 .returning(*underwritings.c))
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    # -- documents -------------------------------------------------------------------------
    def upsert_document(self, document_id: str, underwriting_id: str, *,
                        document_type: str | None = None, revision_id: str | None = None,
                        content_location: str | None = None, filename: str | None = None,
                        metadata: Mapping[str, Any] | None = None,
                        processing_status: str = "received",
                        organization_id: str | None = None) -> Record:
        """Insert or replace a document's fields. The underwriting must exist (and belong to
        `organization_id` when given); a document id owned by another underwriting raises."""
        values: dict[str, Any] = {
            "document_type": document_type, "revision_id": revision_id,
            "content_location": content_location, "filename": filename,
            "metadata": dict(metadata or {}), "processing_status": processing_status,
        }

        def work(conn: Connection) -> Record:
            if organization_id is not None:
                require_underwriting_of(conn, underwriting_id, organization_id)
            now = utcnow()
            stmt = insert_for(conn, documents).values(
                id=document_id, underwriting_id=underwriting_id, created_at=now, updated_at=now,
                **values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["id"], set_={**values, "updated_at": now},
                where=documents.c.underwriting_id == underwriting_id)
            row = record(conn.execute(stmt.returning(*documents.c)).first())
            if row is None:
                raise TenantMismatchError(
                    f"document {document_id} belongs to another underwriting")
            return row

        return self.db.run(work)

    def get_documents(self, underwriting_id: str, document_ids: Sequence[str] | None = None,
                      organization_id: str | None = None) -> list[Record]:
        """The underwriting's documents: all (by creation) or those named, in the order named.
        Raises UnknownDocumentError naming every requested id that is not stored for it."""

        def work(conn: Connection) -> list[Record]:
            query = (sa.select(documents)
                     .join(underwritings, underwritings.c.id == documents.c.underwriting_id)
                     .where(documents.c.underwriting_id == underwriting_id))
            if organization_id is not None:
                query = query.where(underwritings.c.organization_id == organization_id)
            if document_ids is None:
                return records(conn.execute(query.order_by(documents.c.created_at,
                                                           documents.c.id)))
            wanted = list(dict.fromkeys(document_ids))
            found = {r["id"]: r for r in records(conn.execute(
                query.where(documents.c.id.in_(wanted))))}
            missing = [d for d in wanted if d not in found]
            if missing:
                raise UnknownDocumentError(underwriting_id, missing)
            return [found[d] for d in document_ids]

        return self.db.run(work)

    def update_document(self, document_id: str, *,
                        document_type: str | None | Unset = UNSET,
                        revision_id: str | None | Unset = UNSET,
                        content_location: str | None | Unset = UNSET,
                        filename: str | None | Unset = UNSET,
                        metadata: Mapping[str, Any] | Unset = UNSET,
                        processing_status: str | Unset = UNSET,
                        organization_id: str | None = None) -> Record:
        """Change the fields given. Raises UnknownDocumentError if the document is unknown."""
        changes: dict[str, Any] = {
            name: value for name, value in (
                ("document_type", document_type), ("revision_id", revision_id),
                ("content_location", content_location), ("filename", filename),
                ("processing_status", processing_status))
            if not isinstance(value, Unset)
        }
        if not isinstance(metadata, Unset):
            changes["metadata"] = dict(metadata)
        changes["updated_at"] = utcnow()

        def work(conn: Connection) -> Record:
            query = documents.update().where(documents.c.id == document_id)
            if organization_id is not None:
                owned = sa.select(underwritings.c.id).where(
                    underwritings.c.organization_id == organization_id)
                query = query.where(documents.c.underwriting_id.in_(owned))
            row = record(conn.execute(query.values(**changes).returning(*documents.c)).first())
            if row is None:
                raise UnknownDocumentError(None, [document_id])
            return row

        return self.db.run(work)

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _get(conn: Connection, underwriting_id: str,
             organization_id: str | None = None) -> Record | None:
        query = sa.select(underwritings).where(underwritings.c.id == underwriting_id)
        if organization_id is not None:
            query = query.where(underwritings.c.organization_id == organization_id)
        return record(conn.execute(query).first())


def _check_status(status: str) -> None:
    if status not in UNDERWRITING_STATUSES:
        raise ValueError(f"unknown underwriting status {status!r}; one of {UNDERWRITING_STATUSES}")
