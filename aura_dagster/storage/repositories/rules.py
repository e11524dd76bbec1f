"""RulesRepository: each organization's lender rule sets, append-only and audited.

A change is a new version (1, 2, ...), never an update, and writes an audit_log row
(`rules_changed`) in the same transaction: the history says who changed what and when.
No row for an organization means it is judged by the default rules (version 0); the
rules themselves are checked by the service (services/lender_rules.py) before they
come here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.errors import NotFoundError
from aura_dagster.storage.repositories._common import (
    Record,
    Repository,
    insert_for,
    new_ordered_id,
    record,
    records,
    utcnow,
)
from aura_dagster.storage.schema import audit_log, lender_rule_sets, underwritings

R = lender_rule_sets
RULES_CHANGED = "rules_changed"  # the audit event of a new version
DEFAULTS_VERSION = 0  # the version number of "no rules of its own: the defaults"
_ATTEMPTS = 5  # a writer that lost the next version (should the lock be bypassed) takes the next


class RulesRepository(Repository):
    def current(self, organization_id: str) -> Record | None:
        """The organization's rule set in force (its newest version), or None: defaults."""
        query = (
            sa.select(R)
            .where(R.c.organization_id == organization_id)
            .order_by(R.c.version.desc())
            .limit(1)
        )
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    def get_version(self, organization_id: str, version: int) -> Record | None:
        query = sa.select(R).where(R.c.organization_id == organization_id, R.c.version == version)
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    def history(self, organization_id: str) -> list[Record]:
        """Every version of the organization's rules, newest first."""
        query = (
            sa.select(R).where(R.c.organization_id == organization_id).order_by(R.c.version.desc())
        )
        return self.db.run(lambda conn: records(conn.execute(query)))

    def add_version(
        self,
        organization_id: str,
        rules: Sequence[Mapping[str, Any]],
        *,
        changed_by: str,
        note: str | None = None,
    ) -> Record:
        """Store `rules` as the organization's next version and audit it (one transaction).
        Returns the new row."""
        if not changed_by.strip():
            raise ValueError("changed_by is required: who changes the rules")
        stored = [dict(rule) for rule in rules]

        def work(conn: Connection) -> Record:
            if conn.dialect.name == "postgresql":
                # One writer per organization at a time (SQLite's BEGIN IMMEDIATE already
                # serializes): racing writers would otherwise retry for the same next version.
                conn.execute(
                    sa.select(
                        sa.func.pg_advisory_xact_lock(
                            sa.func.hashtext(f"lender_rule_sets:{organization_id}")
                        )
                    )
                )
            for _ in range(_ATTEMPTS):
                latest = (
                    conn.execute(
                        sa.select(sa.func.max(R.c.version)).where(
                            R.c.organization_id == organization_id
                        )
                    ).scalar_one_or_none()
                    or DEFAULTS_VERSION
                )
                now = utcnow()
                row = record(
                    conn.execute(
                        insert_for(conn, R)
                        .values(
                            organization_id=organization_id,
                            version=latest + 1,
                            rules=stored,
                            changed_by=changed_by.strip(),
                            changed_at=now,
                            note=note,
                        )
                        .on_conflict_do_nothing(index_elements=["organization_id", "version"])
                        .returning(*R.c)
                    ).first()
                )
                if row is None:
                    continue  # another writer took that version meanwhile
                conn.execute(
                    audit_log.insert().values(
                        id=new_ordered_id(),
                        organization_id=organization_id,
                        event=RULES_CHANGED,
                        created_at=now,
                        detail={
                            "version": row["version"],
                            "previous_version": latest,
                            "changed_by": row["changed_by"],
                            "note": note,
                            "rules": [r.get("name") for r in stored],
                        },
                    )
                )
                return row
            raise RuntimeError(
                f"could not store a new rule version for {organization_id} "
                f"after {_ATTEMPTS} attempts (concurrent changes)"
            )

        return self.db.run(work)

    def set_underwriting_rules_version(
        self, underwriting_id: str, version: int, *, organization_id: str | None = None
    ) -> Record:
        """Record the rule set version the case was judged by (0: the defaults). Raises
        NotFoundError when the underwriting is unknown (or is another organization's)."""
        if version < DEFAULTS_VERSION:
            raise ValueError(f"not a rules version: {version}")
        query = underwritings.update().where(underwritings.c.id == underwriting_id)
        if organization_id is not None:
            query = query.where(underwritings.c.organization_id == organization_id)
        query = query.values(rules_version=version, updated_at=utcnow())

        def work(conn: Connection) -> Record:
            row = record(conn.execute(query.returning(*underwritings.c)).first())
            if row is None:
                raise NotFoundError(f"unknown underwriting {underwriting_id}")
            return row

        return self.db.run(work)
