"""One repository per concern; all take a `Database` and return plain dicts."""

from aura_dagster.storage.repositories.audit import AuditEntry, AuditRepository
from aura_dagster.storage.repositories.executions import (
    FINAL_STATUSES,
    ExecutionRepository,
    allowed_previous_statuses,
)
from aura_dagster.storage.repositories.factors import FactorRepository, FactorRow, numeric_value
from aura_dagster.storage.repositories.idempotency import (
    DEFAULT_TTL,
    ClaimResult,
    IdempotencyRepository,
)
from aura_dagster.storage.repositories.processors import ProcessorRepository
from aura_dagster.storage.repositories.traces import TraceRepository
from aura_dagster.storage.repositories.underwritings import UnderwritingRepository

__all__ = [
    "DEFAULT_TTL",
    "FINAL_STATUSES",
    "AuditEntry",
    "AuditRepository",
    "ClaimResult",
    "ExecutionRepository",
    "FactorRepository",
    "FactorRow",
    "IdempotencyRepository",
    "ProcessorRepository",
    "TraceRepository",
    "UnderwritingRepository",
    "allowed_previous_statuses",
    "numeric_value",
]
