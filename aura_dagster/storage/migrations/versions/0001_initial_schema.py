"""Initial schema: every table of seeds 001 and 002 plus underwritings, documents,
underwriting_factors and audit_log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:51:17.807309
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aura_dagster.storage.types import TextList, UTCDateTime, UuidList, json_type

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("underwriting_id", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("step_key", sa.Text(), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("detail", json_type(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        op.f("ix_audit_log_organization_id_created_at"),
        "audit_log",
        ["organization_id", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_log_run_id"), "audit_log", ["run_id"], unique=False)
    op.create_index(
        op.f("ix_audit_log_underwriting_id_created_at"),
        "audit_log",
        ["underwriting_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "decision_traces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("orchestrator_name", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("underwriting_id", sa.Text(), nullable=True),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("decision_point", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("input_data", json_type(), nullable=True),
        sa.Column("output_data", json_type(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_traces")),
        sa.UniqueConstraint(
            "request_id",
            "sequence_number",
            name=op.f("uq_decision_traces_request_id_sequence_number"),
        ),
    )
    op.create_index(
        op.f("ix_decision_traces_execution_id"), "decision_traces", ["execution_id"], unique=False
    )
    op.create_index(
        op.f("ix_decision_traces_underwriting_id"),
        "decision_traces",
        ["underwriting_id"],
        unique=False,
    )
    op.create_table(
        "evidence_bundles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("orchestrator_name", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("underwriting_id", sa.Text(), nullable=True),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("evidence_type", sa.Text(), nullable=False),
        sa.Column("evidence_data", json_type(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("confidence_score", sa.Float(), nullable=True),
        sa.Column("metadata", json_type(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_bundles")),
    )
    op.create_index(
        op.f("ix_evidence_bundles_execution_id"), "evidence_bundles", ["execution_id"], unique=False
    )
    op.create_index(
        op.f("ix_evidence_bundles_request_id"), "evidence_bundles", ["request_id"], unique=False
    )
    op.create_index(
        op.f("ix_evidence_bundles_underwriting_id"),
        "evidence_bundles",
        ["underwriting_id"],
        unique=False,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("orchestrator_name", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=True),
        sa.Column("response_data", json_type(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')",
            name=op.f("ck_idempotency_keys_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("request_id", name=op.f("uq_idempotency_keys_request_id")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False
    )
    op.create_table(
        "purchased_processors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("processor", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("config", json_type(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("price_unit", sa.Text(), nullable=False),
        sa.Column("purchased_at", UTCDateTime(), nullable=False),
        sa.Column("purchased_by", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'disabled', 'deleted')",
            name=op.f("ck_purchased_processors_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchased_processors")),
    )
    op.create_index(
        op.f("ix_purchased_processors_organization_id_processor"),
        "purchased_processors",
        ["organization_id", "processor"],
        unique=False,
    )
    op.create_table(
        "underwritings",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("business_name", sa.Text(), nullable=True),
        sa.Column("business_state", sa.Text(), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.Text(), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('created', 'processing', 'awaiting_review', 'completed', 'failed')",
            name=op.f("ck_underwritings_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_underwritings")),
    )
    op.create_index(
        op.f("ix_underwritings_organization_id_status"),
        "underwritings",
        ["organization_id", "status"],
        unique=False,
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("underwriting_id", sa.Text(), nullable=False),
        sa.Column("document_type", sa.Text(), nullable=True),
        sa.Column("revision_id", sa.Text(), nullable=True),
        sa.Column("content_location", sa.Text(), nullable=True),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("metadata", json_type(), nullable=False),
        sa.Column("processing_status", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["underwriting_id"],
            ["underwritings.id"],
            name=op.f("fk_documents_underwriting_id_underwritings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index(
        op.f("ix_documents_underwriting_id"), "documents", ["underwriting_id"], unique=False
    )
    op.create_table(
        "underwriting_processors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("underwriting_id", sa.Text(), nullable=False),
        sa.Column("purchased_processor_id", sa.Uuid(), nullable=False),
        sa.Column("processor", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config_override", json_type(), nullable=False),
        sa.Column("effective_config", json_type(), nullable=False),
        sa.Column("current_executions_list", UuidList(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchased_processor_id"],
            ["purchased_processors.id"],
            name=op.f("fk_underwriting_processors_purchased_processor_id_purchased_processors"),
        ),
        sa.ForeignKeyConstraint(
            ["underwriting_id"],
            ["underwritings.id"],
            name=op.f("fk_underwriting_processors_underwriting_id_underwritings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_underwriting_processors")),
        sa.UniqueConstraint(
            "underwriting_id",
            "processor",
            name=op.f("uq_underwriting_processors_underwriting_id_processor"),
        ),
    )
    op.create_index(
        op.f("ix_underwriting_processors_organization_id"),
        "underwriting_processors",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_underwriting_processors_purchased_processor_id"),
        "underwriting_processors",
        ["purchased_processor_id"],
        unique=False,
    )
    op.create_table(
        "processor_executions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("underwriting_id", sa.Text(), nullable=False),
        sa.Column("underwriting_processor_id", sa.Uuid(), nullable=False),
        sa.Column("processor", sa.Text(), nullable=False),
        sa.Column("processor_version", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("payload", json_type(), nullable=True),
        sa.Column("payload_hash", sa.Text(), nullable=False),
        sa.Column("output", json_type(), nullable=True),
        sa.Column("factors_delta", json_type(), nullable=True),
        sa.Column("document_revision_ids", TextList(), nullable=False),
        sa.Column("document_ids_hash", sa.Text(), nullable=True),
        sa.Column("run_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("execution_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("failed_code", sa.Text(), nullable=True),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.Column("error_class", sa.Text(), nullable=True),
        sa.Column("updated_execution_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "error_class IS NULL OR error_class IN ('temporary', 'permanent', 'critical')",
            name=op.f("ck_processor_executions_error_class"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'timeout', 'cancelled')",
            name=op.f("ck_processor_executions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["underwriting_id"],
            ["underwritings.id"],
            name=op.f("fk_processor_executions_underwriting_id_underwritings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["underwriting_processor_id"],
            ["underwriting_processors.id"],
            name=op.f("fk_processor_executions_underwriting_processor_id_underwriting_processors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_execution_id"],
            ["processor_executions.id"],
            name=op.f("fk_processor_executions_updated_execution_id_processor_executions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processor_executions")),
    )
    op.create_index(
        op.f("ix_processor_executions_organization_id"),
        "processor_executions",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_processor_executions_run_id"), "processor_executions", ["run_id"], unique=False
    )
    op.create_index(
        op.f("ix_processor_executions_underwriting_id_processor"),
        "processor_executions",
        ["underwriting_id", "processor"],
        unique=False,
    )
    op.create_index(
        op.f("ix_processor_executions_underwriting_processor_id_payload_hash"),
        "processor_executions",
        ["underwriting_processor_id", "payload_hash"],
        unique=False,
    )
    op.create_index(
        op.f("ix_processor_executions_updated_execution_id"),
        "processor_executions",
        ["updated_execution_id"],
        unique=False,
    )
    op.create_table(
        "underwriting_factors",
        sa.Column("underwriting_id", sa.Text(), nullable=False),
        sa.Column("factor_name", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("value", json_type(), nullable=True),
        sa.Column("value_numeric", sa.Numeric(precision=28, scale=8), nullable=True),
        sa.Column("processor", sa.Text(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("produced_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["processor_executions.id"],
            name=op.f("fk_underwriting_factors_execution_id_processor_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["underwriting_id"],
            ["underwritings.id"],
            name=op.f("fk_underwriting_factors_underwriting_id_underwritings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "underwriting_id", "factor_name", name=op.f("pk_underwriting_factors")
        ),
    )
    op.create_index(
        op.f("ix_underwriting_factors_execution_id"),
        "underwriting_factors",
        ["execution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_underwriting_factors_factor_name_underwriting_id"),
        "underwriting_factors",
        ["factor_name", "underwriting_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_underwriting_factors_organization_id_factor_name"),
        "underwriting_factors",
        ["organization_id", "factor_name"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_underwriting_factors_organization_id_factor_name"),
        table_name="underwriting_factors",
    )
    op.drop_index(
        op.f("ix_underwriting_factors_factor_name_underwriting_id"),
        table_name="underwriting_factors",
    )
    op.drop_index(op.f("ix_underwriting_factors_execution_id"), table_name="underwriting_factors")
    op.drop_table("underwriting_factors")
    op.drop_index(
        op.f("ix_processor_executions_updated_execution_id"), table_name="processor_executions"
    )
    op.drop_index(
        op.f("ix_processor_executions_underwriting_processor_id_payload_hash"),
        table_name="processor_executions",
    )
    op.drop_index(
        op.f("ix_processor_executions_underwriting_id_processor"), table_name="processor_executions"
    )
    op.drop_index(op.f("ix_processor_executions_run_id"), table_name="processor_executions")
    op.drop_index(
        op.f("ix_processor_executions_organization_id"), table_name="processor_executions"
    )
    op.drop_table("processor_executions")
    op.drop_index(
        op.f("ix_underwriting_processors_purchased_processor_id"),
        table_name="underwriting_processors",
    )
    op.drop_index(
        op.f("ix_underwriting_processors_organization_id"), table_name="underwriting_processors"
    )
    op.drop_table("underwriting_processors")
    op.drop_index(op.f("ix_documents_underwriting_id"), table_name="documents")
    op.drop_table("documents")
    op.drop_index(op.f("ix_underwritings_organization_id_status"), table_name="underwritings")
    op.drop_table("underwritings")
    op.drop_index(
        op.f("ix_purchased_processors_organization_id_processor"), table_name="purchased_processors"
    )
    op.drop_table("purchased_processors")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_evidence_bundles_underwriting_id"), table_name="evidence_bundles")
    op.drop_index(op.f("ix_evidence_bundles_request_id"), table_name="evidence_bundles")
    op.drop_index(op.f("ix_evidence_bundles_execution_id"), table_name="evidence_bundles")
    op.drop_table("evidence_bundles")
    op.drop_index(op.f("ix_decision_traces_underwriting_id"), table_name="decision_traces")
    op.drop_index(op.f("ix_decision_traces_execution_id"), table_name="decision_traces")
    op.drop_table("decision_traces")
    op.drop_index(op.f("ix_audit_log_underwriting_id_created_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_run_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_organization_id_created_at"), table_name="audit_log")
    op.drop_table("audit_log")
