"""ProcessorRepository (seed 001): catalog, tenant purchases, underwriting processors, config."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.database import Database
from aura_dagster.storage.errors import NotFoundError
from aura_dagster.storage.repositories._common import (
    UNSET,
    Record,
    Repository,
    Unset,
    as_uuid,
    deep_merge,
    insert_for,
    record,
    records,
    utcnow,
)
from aura_dagster.storage.repositories.underwritings import ensure_underwriting
from aura_dagster.storage.schema import (
    PURCHASE_STATUSES,
    purchased_processors,
    underwriting_processors,
)

# processor id -> processor class (anything with PROCESSOR_ID, NAME, VERSION, CONFIG).
Catalog = Mapping[str, Any]


def _default_catalog() -> Catalog:
    # Imported on first use: the registry pulls in every processor module.
    from aura_dagster.domain.processors.registry import CATALOG

    return CATALOG


class ProcessorRepository(Repository):
    def __init__(self, db: Database, catalog: Catalog | None = None) -> None:
        super().__init__(db)
        self._catalog = catalog

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = _default_catalog()
        return self._catalog

    # -- system level ----------------------------------------------------------------------
    def get_processor_catalog(self) -> list[Record]:
        """The code-managed processors: id, name, version, default config, document types."""
        return [
            {
                "processor": processor_id,
                "name": getattr(cls, "NAME", processor_id),
                "version": getattr(cls, "VERSION", None),
                "config": dict(getattr(cls, "CONFIG", {}) or {}),
                "document_types": sorted(str(t) for t in getattr(cls, "REQUIRED_DOCUMENT_TYPES",
                                                                 ()) or ()),
                "api_pool": getattr(cls, "API_POOL", None),
            }
            for processor_id, cls in self.catalog.items()
        ]

    def system_config(self, processor: str) -> dict[str, Any]:
        """The processor's CONFIG; {} for a processor no longer in the code catalog."""
        cls = self.catalog.get(processor)
        return deep_merge(getattr(cls, "CONFIG", None) or {}) if cls is not None else {}

    # -- tenant level (purchased_processors) -----------------------------------------------
    def create_purchased_processor(self, organization_id: str, processor: str,
                                   name: str | None = None, auto: bool = True,
                                   status: str = "active",
                                   config: Mapping[str, Any] | None = None,
                                   price_amount: int = 0, price_unit: str = "execution",
                                   purchased_by: str | None = None) -> Record:
        _check_purchase_status(status)
        now = utcnow()
        cls = self.catalog.get(processor)
        values = {
            "id": uuid.uuid4(), "organization_id": organization_id, "processor": processor,
            "name": name or getattr(cls, "NAME", None) or processor, "auto": auto,
            "status": status, "config": dict(config or {}), "price_amount": int(price_amount),
            "price_unit": price_unit, "purchased_at": now, "purchased_by": purchased_by,
            "updated_at": now,
        }

        def work(conn: Connection) -> Record:
            stmt = purchased_processors.insert().values(**values)
            row = record(conn.execute(stmt.returning(*purchased_processors.c)).one())
            assert row is not None
            return row

        return self.db.run(work)

    def update_purchased_processor(self, purchased_processor_id: str, *,
                                   status: str | Unset = UNSET, auto: bool | Unset = UNSET,
                                   config: Mapping[str, Any] | Unset = UNSET,
                                   name: str | Unset = UNSET,
                                   organization_id: str | None = None) -> Record:
        changes: dict[str, Any] = {"updated_at": utcnow()}
        if not isinstance(status, Unset):
            _check_purchase_status(status)
            changes["status"] = status
        if not isinstance(auto, Unset):
            changes["auto"] = auto
        if not isinstance(config, Unset):
            changes["config"] = dict(config)
        if not isinstance(name, Unset):
            changes["name"] = name
        pp_id = as_uuid(purchased_processor_id)

        def work(conn: Connection) -> Record:
            query = purchased_processors.update().where(purchased_processors.c.id == pp_id)
            if organization_id is not None:
                query = query.where(purchased_processors.c.organization_id == organization_id)
            row = record(conn.execute(
                query.values(**changes).returning(*purchased_processors.c)).first())
            if row is None:
                raise NotFoundError(f"unknown purchased processor {purchased_processor_id}")
            return row

        return self.db.run(work)

    def get_purchased_processor_by_id(self, purchased_processor_id: str,
                                      organization_id: str | None = None) -> Record | None:
        query = sa.select(purchased_processors).where(
            purchased_processors.c.id == as_uuid(purchased_processor_id))
        if organization_id is not None:
            query = query.where(purchased_processors.c.organization_id == organization_id)
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    def get_purchased_processors_by_organization(self, organization_id: str,
                                                 enabled_only: bool = False,
                                                 auto_only: bool = False) -> list[Record]:
        """The tenant's purchases (never deleted ones); enabled_only: status active."""
        query = sa.select(purchased_processors).where(
            purchased_processors.c.organization_id == organization_id,
            purchased_processors.c.status != "deleted")
        if enabled_only:
            query = query.where(purchased_processors.c.status == "active")
        if auto_only:
            query = query.where(purchased_processors.c.auto.is_(True))
        query = query.order_by(purchased_processors.c.processor,
                               purchased_processors.c.purchased_at)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def get_processor_by_name(self, processor_name: str, organization_id: str) -> Record | None:
        """The tenant's purchase of a processor: the active one first, then the newest."""
        query = (
            sa.select(purchased_processors)
            .where(purchased_processors.c.organization_id == organization_id,
                   purchased_processors.c.processor == processor_name,
                   purchased_processors.c.status != "deleted")
            .order_by(sa.case((purchased_processors.c.status == "active", 0), else_=1),
                      purchased_processors.c.purchased_at.desc())
            .limit(1)
        )
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    # -- underwriting level (underwriting_processors) --------------------------------------
    def provision_underwriting_processors(self, underwriting_id: str,
                                          organization_id: str) -> list[Record]:
        """Create the underwriting's processors from the tenant's active purchases the first
        time the underwriting is seen; afterwards return what exists. Safe under races: the
        (underwriting, processor) unique key lets the second writer's inserts do nothing."""

        def work(conn: Connection) -> list[Record]:
            ensure_underwriting(conn, underwriting_id, organization_id)
            existing = self._underwriting_processors(conn, underwriting_id)
            if existing:
                return existing
            purchases = records(conn.execute(
                sa.select(purchased_processors)
                .where(purchased_processors.c.organization_id == organization_id,
                       purchased_processors.c.status == "active")
                .order_by(purchased_processors.c.purchased_at)))
            now = utcnow()
            seen: set[str] = set()
            for purchase in purchases:
                if purchase["processor"] in seen:  # two purchases of one processor: first wins
                    continue
                seen.add(purchase["processor"])
                effective = deep_merge(self.system_config(purchase["processor"]),
                                       purchase["config"])
                conn.execute(
                    insert_for(conn, underwriting_processors).values(
                        id=uuid.uuid4(), organization_id=organization_id,
                        underwriting_id=underwriting_id,
                        purchased_processor_id=as_uuid(purchase["id"]),
                        processor=purchase["processor"], name=purchase["name"],
                        auto=purchase["auto"], enabled=True, config_override={},
                        effective_config=effective, current_executions_list=[],
                        created_at=now, updated_at=now,
                    ).on_conflict_do_nothing(index_elements=["underwriting_id", "processor"])
                )
            return self._underwriting_processors(conn, underwriting_id)

        return self.db.run(work)

    def get_underwriting_processor_by_id(self, underwriting_processor_id: str,
                                         organization_id: str | None = None) -> Record | None:
        query = sa.select(underwriting_processors).where(
            underwriting_processors.c.id == as_uuid(underwriting_processor_id))
        if organization_id is not None:
            query = query.where(underwriting_processors.c.organization_id == organization_id)
        return self.db.run(lambda conn: record(conn.execute(query).first()))

    def get_underwriting_processors(self, underwriting_id: str, enabled_only: bool = False,
                                    auto_only: bool = False,
                                    organization_id: str | None = None) -> list[Record]:
        def work(conn: Connection) -> list[Record]:
            return self._underwriting_processors(conn, underwriting_id, enabled_only=enabled_only,
                                                 auto_only=auto_only,
                                                 organization_id=organization_id)

        return self.db.run(work)

    def set_underwriting_processor_enabled(self, underwriting_processor_id: str,
                                           enabled: bool) -> bool:
        stmt = (underwriting_processors.update()
                .where(underwriting_processors.c.id == as_uuid(underwriting_processor_id))
                .values(enabled=enabled, updated_at=utcnow()))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount == 1)

    def update_current_executions_list(self, underwriting_processor_id: str,
                                       execution_ids: Sequence[str]) -> bool:
        stmt = (underwriting_processors.update()
                .where(underwriting_processors.c.id == as_uuid(underwriting_processor_id))
                .values(current_executions_list=[as_uuid(e) for e in execution_ids],
                        updated_at=utcnow()))
        return self.db.run(lambda conn: conn.execute(stmt).rowcount == 1)

    # -- configuration ---------------------------------------------------------------------
    def get_effective_config(self, underwriting_processor_id: str) -> dict[str, Any]:
        """System default (the processor's CONFIG) <- tenant config <- underwriting override,
        right side wins, nested dictionaries merged key by key. The result is also stored in
        `effective_config` so the row shows what the last run used."""
        up_id = as_uuid(underwriting_processor_id)

        def work(conn: Connection) -> dict[str, Any]:
            return self._resolve_config(conn, up_id)

        return self.db.run(work)

    def set_config_override(self, underwriting_processor_id: str,
                            override: Mapping[str, Any]) -> Record:
        """Replace the underwriting's override and store the newly resolved config."""
        up_id = as_uuid(underwriting_processor_id)

        def work(conn: Connection) -> Record:
            updated = conn.execute(
                underwriting_processors.update().where(underwriting_processors.c.id == up_id)
                .values(config_override=dict(override), updated_at=utcnow())).rowcount
            if updated != 1:
                raise NotFoundError(f"unknown underwriting processor {underwriting_processor_id}")
            self._resolve_config(conn, up_id)
            row = record(conn.execute(sa.select(underwriting_processors)
                                      .where(underwriting_processors.c.id == up_id)).one())
            assert row is not None
            return row

        return self.db.run(work)

    # -- internals -------------------------------------------------------------------------
    def _resolve_config(self, conn: Connection, up_id: str) -> dict[str, Any]:
        row = conn.execute(
            sa.select(underwriting_processors.c.processor,
                      underwriting_processors.c.config_override,
                      underwriting_processors.c.effective_config,
                      purchased_processors.c.config.label("tenant_config"))
            .join(purchased_processors,
                  purchased_processors.c.id == underwriting_processors.c.purchased_processor_id)
            .where(underwriting_processors.c.id == up_id)
        ).first()
        if row is None:
            raise NotFoundError(f"unknown underwriting processor {up_id}")
        effective = deep_merge(self.system_config(row.processor), row.tenant_config,
                               row.config_override)
        if effective != row.effective_config:
            conn.execute(underwriting_processors.update()
                         .where(underwriting_processors.c.id == up_id)
                         .values(effective_config=effective, updated_at=utcnow()))
        return effective

    @staticmethod
    def _underwriting_processors(conn: Connection, underwriting_id: str, *,
                                 enabled_only: bool = False, auto_only: bool = False,
                                 organization_id: str | None = None) -> list[Record]:
        query = sa.select(underwriting_processors).where(
            underwriting_processors.c.underwriting_id == underwriting_id)
        if enabled_only:
            query = query.where(underwriting_processors.c.enabled.is_(True))
        if auto_only:
            query = query.where(underwriting_processors.c.auto.is_(True))
        if organization_id is not None:
            query = query.where(underwriting_processors.c.organization_id == organization_id)
        return records(conn.execute(query.order_by(underwriting_processors.c.processor)))


def _check_purchase_status(status: str) -> None:
    if status not in PURCHASE_STATUSES:
        raise ValueError(f"unknown purchase status {status!r}; one of {PURCHASE_STATUSES}")
