"""The operational store's tables (SQLAlchemy Core).

External ids (underwriting, organization, document, user) are TEXT as the platform sends
them; ids this engine mints are UUIDs stored as their canonical 36-character text on every
backend (`UuidText`), the form traces, events, the warehouse and the UI show.
The Alembic migrations in `migrations/versions`
create exactly these tables; a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa

from aura_dagster.storage.types import TextList, UTCDateTime, UuidText, UuidTextList, json_type

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

UNDERWRITING_STATUSES = ("created", "processing", "awaiting_review", "completed", "failed",
                         "rejected", "declined")
# The outcomes `processing.completed` publishes; the underwriting keeps the one published.
# `declined`: a lender rule declined the case (no person decided; `rejected` is a reviewer's).
FINAL_UNDERWRITING_STATUSES = ("completed", "failed", "rejected", "declined")
EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "timeout", "cancelled")
PURCHASE_STATUSES = ("active", "disabled", "deleted")
ERROR_CLASSES = ("temporary", "permanent", "critical")
REQUEST_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


underwritings = sa.Table(
    "underwritings",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("business_name", sa.Text()),
    sa.Column("business_state", sa.Text()),
    sa.Column("review_reason", sa.Text()),
    sa.Column("reviewed_by", sa.Text()),
    sa.Column("reviewed_at", UTCDateTime()),
    *_timestamps(),
    # When processing.completed was published (its status is then the final `status`).
    sa.Column("completed_at", UTCDateTime()),
    sa.Column("review_decision", sa.Text()),  # approve | reject (a person's decision)
    sa.Column("review_note", sa.Text()),
    # The lender rule set version the case was judged by (0: the defaults; lender_rule_sets).
    sa.Column("rules_version", sa.Integer()),
    sa.CheckConstraint(_in("status", UNDERWRITING_STATUSES), name="status"),
    sa.Index(None, "organization_id", "status"),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),
    sa.Column(
        "underwriting_id", sa.Text(),
        sa.ForeignKey("underwritings.id", ondelete="CASCADE"), nullable=False,
    ),
    sa.Column("document_type", sa.Text()),
    sa.Column("revision_id", sa.Text()),
    sa.Column("content_location", sa.Text()),
    sa.Column("filename", sa.Text()),
    sa.Column("metadata", json_type(), nullable=False),
    sa.Column("processing_status", sa.Text(), nullable=False),
    *_timestamps(),
    sa.Index(None, "underwriting_id"),
)

purchased_processors = sa.Table(
    "purchased_processors",
    metadata,
    sa.Column("id", UuidText(), primary_key=True),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column("processor", sa.Text(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("auto", sa.Boolean(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("config", json_type(), nullable=False),
    sa.Column("price_amount", sa.BigInteger(), nullable=False),  # cents
    sa.Column("price_unit", sa.Text(), nullable=False),
    sa.Column("purchased_at", UTCDateTime(), nullable=False),
    sa.Column("purchased_by", sa.Text()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint(_in("status", PURCHASE_STATUSES), name="status"),
    sa.Index(None, "organization_id", "processor"),
)

underwriting_processors = sa.Table(
    "underwriting_processors",
    metadata,
    sa.Column("id", UuidText(), primary_key=True),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column(
        "underwriting_id", sa.Text(),
        sa.ForeignKey("underwritings.id", ondelete="CASCADE"), nullable=False,
    ),
    sa.Column(
        "purchased_processor_id", UuidText(),
        sa.ForeignKey("purchased_processors.id"), nullable=False,
    ),
    sa.Column("processor", sa.Text(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("auto", sa.Boolean(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("config_override", json_type(), nullable=False),
    sa.Column("effective_config", json_type(), nullable=False),
    sa.Column("current_executions_list", UuidTextList(), nullable=False),
    *_timestamps(),
    # One row per processor per underwriting: makes provisioning idempotent under races.
    sa.UniqueConstraint("underwriting_id", "processor"),
    sa.Index(None, "organization_id"),
    sa.Index(None, "purchased_processor_id"),
)

processor_executions = sa.Table(
    "processor_executions",
    metadata,
    sa.Column("id", UuidText(), primary_key=True),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column(
        "underwriting_id", sa.Text(),
        sa.ForeignKey("underwritings.id", ondelete="CASCADE"), nullable=False,
    ),
    sa.Column(
        "underwriting_processor_id", UuidText(),
        sa.ForeignKey("underwriting_processors.id", ondelete="CASCADE"), nullable=False,
    ),
    sa.Column("processor", sa.Text(), nullable=False),
    sa.Column("processor_version", sa.Text()),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("payload", json_type()),
    sa.Column("payload_hash", sa.Text(), nullable=False),
    sa.Column("output", json_type()),
    sa.Column("factors_delta", json_type()),
    sa.Column("document_revision_ids", TextList(), nullable=False),
    sa.Column("document_ids_hash", sa.Text()),
    sa.Column("run_cost_cents", sa.BigInteger(), nullable=False),
    sa.Column("confidence", sa.Float()),
    sa.Column("execution_time_ms", sa.BigInteger()),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.Text()),
    sa.Column("started_at", UTCDateTime()),
    sa.Column("completed_at", UTCDateTime()),
    sa.Column("failed_code", sa.Text()),
    sa.Column("failed_reason", sa.Text()),
    sa.Column("error_class", sa.Text()),
    sa.Column(
        "updated_execution_id", UuidText(),
        sa.ForeignKey("processor_executions.id", ondelete="SET NULL"),
    ),
    *_timestamps(),
    sa.Column("disabled_at", UTCDateTime()),
    sa.CheckConstraint(_in("status", EXECUTION_STATUSES), name="status"),
    sa.CheckConstraint(
        "error_class IS NULL OR " + _in("error_class", ERROR_CLASSES), name="error_class"
    ),
    sa.Index(None, "underwriting_processor_id", "payload_hash"),
    sa.Index(None, "underwriting_id", "processor"),
    sa.Index(None, "organization_id"),
    sa.Index(None, "updated_execution_id"),
    sa.Index(None, "run_id"),
)

underwriting_factors = sa.Table(
    "underwriting_factors",
    metadata,
    sa.Column(
        "underwriting_id", sa.Text(),
        sa.ForeignKey("underwritings.id", ondelete="CASCADE"), primary_key=True,
    ),
    sa.Column("factor_name", sa.Text(), primary_key=True),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column("value", json_type()),
    # Filled when the value is a number, so the data team can filter and aggregate in SQL.
    sa.Column("value_numeric", sa.Numeric(28, 8)),
    sa.Column("processor", sa.Text(), nullable=False),
    sa.Column(
        "execution_id", UuidText(),
        sa.ForeignKey("processor_executions.id", ondelete="SET NULL"),
    ),
    sa.Column("produced_at", UTCDateTime(), nullable=False),
    # Provenance carried on the row: the producing execution's version and documents.
    sa.Column("processor_version", sa.Text()),
    sa.Column("document_revision_ids", TextList()),
    # The primary key serves lookups by underwriting; these serve by factor and by tenant.
    sa.Index(None, "factor_name", "underwriting_id"),
    sa.Index(None, "organization_id", "factor_name"),
    sa.Index(None, "execution_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("id", UuidText(), primary_key=True),
    sa.Column("request_id", sa.String(255), nullable=False, unique=True),
    sa.Column("orchestrator_name", sa.String(100), nullable=False),
    sa.Column("organization_id", sa.Text()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("request_hash", sa.Text()),
    sa.Column("response_data", json_type()),
    sa.Column("error_message", sa.Text()),
    sa.Column("attempts", sa.Integer(), nullable=False),
    *_timestamps(),
    sa.Column("completed_at", UTCDateTime()),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
    sa.Index(None, "expires_at"),
)

decision_traces = sa.Table(
    "decision_traces",
    metadata,
    sa.Column("id", UuidText(), primary_key=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("orchestrator_name", sa.String(100), nullable=False),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column("underwriting_id", sa.Text()),
    sa.Column("execution_id", UuidText()),
    sa.Column("sequence_number", sa.Integer(), nullable=False),
    sa.Column("decision_point", sa.Text(), nullable=False),
    sa.Column("decision", sa.Text(), nullable=False),
    sa.Column("rationale", sa.Text()),
    sa.Column("input_data", json_type()),
    sa.Column("output_data", json_type()),
    sa.Column("duration_ms", sa.Integer()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Also the safety net that makes two writers with the same number fail, never interleave.
    sa.UniqueConstraint("request_id", "sequence_number"),
    sa.Index(None, "underwriting_id"),
    sa.Index(None, "execution_id"),
)

evidence_bundles = sa.Table(
    "evidence_bundles",
    metadata,
    sa.Column("id", UuidText(), primary_key=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("orchestrator_name", sa.String(100), nullable=False),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column("underwriting_id", sa.Text()),
    sa.Column("execution_id", UuidText()),
    sa.Column("evidence_type", sa.Text(), nullable=False),
    sa.Column("evidence_data", json_type(), nullable=False),
    sa.Column("source", sa.Text()),
    sa.Column("confidence_score", sa.Float()),
    sa.Column("metadata", json_type()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index(None, "request_id"),
    sa.Index(None, "underwriting_id"),
    sa.Index(None, "execution_id"),
)

lender_rule_sets = sa.Table(
    "lender_rule_sets",
    metadata,
    # Append-only: each change is a new version (1, 2, ...) of the organization's rules;
    # the newest is in force. No row: the organization is judged by the defaults (version 0).
    sa.Column("organization_id", sa.Text(), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("rules", json_type(), nullable=False),  # [{name, condition, action, reason}]
    sa.Column("changed_by", sa.Text(), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    sa.Column("note", sa.Text()),
    sa.CheckConstraint("version >= 1", name="version"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", UuidText(), primary_key=True),
    sa.Column("organization_id", sa.Text(), nullable=False),
    sa.Column("underwriting_id", sa.Text()),
    sa.Column("run_id", sa.Text()),
    sa.Column("step_key", sa.Text()),
    sa.Column("event", sa.Text(), nullable=False),
    sa.Column("detail", json_type()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index(None, "underwriting_id", "created_at"),
    sa.Index(None, "run_id"),
    sa.Index(None, "organization_id", "created_at"),
)

ALL_TABLES: tuple[sa.Table, ...] = tuple(metadata.sorted_tables)
