"""The operational store: SQLAlchemy schema, Alembic migrations and repositories.

SQLite (a file under the data directory) is the embedded default; PostgreSQL runs in
production. No Dagster import here: the engine wraps this package in a resource.

    db = Database(default_sqlite_url(Path(".data")))
    db.upgrade()
    stores = Stores(db)
    stores.underwritings.upsert_underwriting("uw_1", "org_1")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aura_dagster.storage.database import (
    Database,
    RetryPolicy,
    default_sqlite_url,
    is_transient_error,
    with_retry,
)
from aura_dagster.storage.errors import (
    DuplicateRequestError,
    IllegalStatusTransitionError,
    NotFoundError,
    RequestHashMismatchError,
    StorageError,
    TenantMismatchError,
    UnknownDocumentError,
)
from aura_dagster.storage.repositories import (
    DEFAULT_TTL,
    FINAL_STATUSES,
    AuditEntry,
    AuditRepository,
    ClaimResult,
    ExecutionRepository,
    FactorRepository,
    FactorRow,
    IdempotencyRepository,
    ProcessorRepository,
    TraceRepository,
    UnderwritingRepository,
    numeric_value,
)
from aura_dagster.storage.repositories.rules import RulesRepository


@dataclass
class Stores:
    """Every repository over one Database (what the engine's store resource hands out)."""

    db: Database
    catalog: Any = None  # processor id -> class; None: the registry, imported on first use
    underwritings: UnderwritingRepository = field(init=False)
    processors: ProcessorRepository = field(init=False)
    executions: ExecutionRepository = field(init=False)
    factors: FactorRepository = field(init=False)
    idempotency: IdempotencyRepository = field(init=False)
    traces: TraceRepository = field(init=False)
    audit: AuditRepository = field(init=False)
    rules: RulesRepository = field(init=False)

    def __post_init__(self) -> None:
        self.underwritings = UnderwritingRepository(self.db)
        self.processors = ProcessorRepository(self.db, catalog=self.catalog)
        self.executions = ExecutionRepository(self.db)
        self.factors = FactorRepository(self.db)
        self.idempotency = IdempotencyRepository(self.db)
        self.traces = TraceRepository(self.db)
        self.audit = AuditRepository(self.db)
        self.rules = RulesRepository(self.db)


__all__ = [
    "DEFAULT_TTL",
    "FINAL_STATUSES",
    "AuditEntry",
    "AuditRepository",
    "ClaimResult",
    "Database",
    "DuplicateRequestError",
    "ExecutionRepository",
    "FactorRepository",
    "FactorRow",
    "IdempotencyRepository",
    "IllegalStatusTransitionError",
    "NotFoundError",
    "ProcessorRepository",
    "RequestHashMismatchError",
    "RetryPolicy",
    "RulesRepository",
    "StorageError",
    "Stores",
    "TenantMismatchError",
    "TraceRepository",
    "UnderwritingRepository",
    "UnknownDocumentError",
    "default_sqlite_url",
    "is_transient_error",
    "numeric_value",
    "with_retry",
]
