"""Validation (asset checks on the factors), the review gate, and `processing.completed`."""


import datetime as dt
import json
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    Config,
    MetadataValue,
    asset,
    asset_check,
)

from aura_dagster.assets.documents import partition_metadata
from aura_dagster.domain.events import ProcessingCompleted
from aura_dagster.domain.validation import (
    DEFAULT_AUTO_APPROVE_ABOVE,
    FactorCheck,
    check_factor_ranges,
    check_required_factors,
    check_statements_reconcile,
    review_decision,
    validate_factors,
)
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.resources.notifier import NotifierResource
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.services.completion import completion_payload

REVIEW_COLUMNS = ["underwriting_id", "organization_id", "status", "reasons", "reviewed_by",
                  "decided_at", "run_id"]


def factor_values(factors: pd.DataFrame) -> dict[str, Any]:
    return {row.factor_name: json.loads(row.value_json) for row in factors.itertuples()}


def completed_processors(executions: pd.DataFrame) -> list[str]:
    done = executions[(executions["status"] == "completed") & (~executions["skipped"].astype(bool))]
    return sorted(done["processor"].tolist())


def _check_result(check: FactorCheck, severity: AssetCheckSeverity,
                  context: AssetCheckExecutionContext) -> AssetCheckResult:
    # Partitioned checks: the UI's check list sums up every partition while "latest
    # execution" is whichever partition ran last, so each result names its partition.
    partition = context.partition_key if context.has_partition_key else ""
    return AssetCheckResult(
        passed=check.passed, severity=severity,
        description=f"{partition}: {check.description}" if partition else check.description,
        metadata={"failures": MetadataValue.json(list(check.failures)),
                  "underwriting_id": partition})


_executions_in = {"processor_executions": AssetIn("processor_executions")}


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             additional_ins=_executions_in,
             description="Every completed processor produced its required factors.")
def required_factors_present(context: AssetCheckExecutionContext,
                             underwriting_factors: pd.DataFrame,
                             processor_executions: pd.DataFrame) -> AssetCheckResult:
    check = check_required_factors(factor_values(underwriting_factors),
                                   completed_processors(processor_executions))
    return _check_result(check, AssetCheckSeverity.ERROR, context)


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             description="Numeric factors are finite and inside their bounds.")
def factor_values_in_range(context: AssetCheckExecutionContext,
                           underwriting_factors: pd.DataFrame) -> AssetCheckResult:
    return _check_result(check_factor_ranges(factor_values(underwriting_factors)),
                         AssetCheckSeverity.ERROR, context)


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             description="Opening balance + credits - debits equals closing on every statement.")
def statements_reconcile(context: AssetCheckExecutionContext,
                         underwriting_factors: pd.DataFrame) -> AssetCheckResult:
    return _check_result(check_statements_reconcile(factor_values(underwriting_factors)),
                         AssetCheckSeverity.WARN, context)


class ReviewConfig(Config):
    """Set `approved_by` to approve an underwriting parked for review (resume job)."""

    approved_by: str | None = None
    auto_approve_above: float = DEFAULT_AUTO_APPROVE_ABOVE


@asset(partitions_def=underwriting_partitions, group_name="underwriting",
       io_manager_key="warehouse_io_manager",
       ins={"underwriting_factors": AssetIn(), "processor_executions": AssetIn()},
       metadata={"partition_expr": "underwriting_id"},
       description="The review gate: auto-approved, approved by a person, or awaiting review.")
def underwriting_review(context: AssetExecutionContext, config: ReviewConfig,
                        store: StoreResource, notifier: NotifierResource,
                        underwriting_factors: pd.DataFrame,
                        processor_executions: pd.DataFrame) -> pd.DataFrame:
    underwriting_id = context.partition_key
    repos = store.open()
    row = repos.underwritings.get_underwriting(underwriting_id)
    organization_id = row["organization_id"] if row else ""
    checks = validate_factors(factor_values(underwriting_factors),
                              completed_processors(processor_executions))
    confidences = {r.processor: (None if pd.isna(r.confidence) else float(r.confidence))
                   for r in processor_executions.itertuples() if r.status == "completed"}
    failed = {r.processor: f"{r.error_code}: {r.error_message}"
              for r in processor_executions.itertuples() if r.status == "failed"}
    decision = review_decision(checks, confidences, config.auto_approve_above, failed)
    if config.approved_by:
        status = "approved"
        repos.underwritings.set_status(underwriting_id, "processing",
                                       reviewed_by=config.approved_by,
                                       reviewed_at=dt.datetime.now(dt.UTC))
    elif decision.needs_review:
        status = "awaiting_review"
        repos.underwritings.set_status(underwriting_id, "awaiting_review",
                                       review_reason="; ".join(decision.reasons))
        notifier.notify(f"Review needed: {underwriting_id}",
                        "The underwriting is parked for review:\n- "
                        + "\n- ".join(decision.reasons))
    else:
        status = "auto_approved"
    context.add_output_metadata({"status": status, "reasons": list(decision.reasons),
                                 **partition_metadata(organization_id, row and row.get(
                                     "business_name"))})
    return pd.DataFrame([{
        "underwriting_id": underwriting_id, "organization_id": organization_id,
        "status": status, "reasons": json.dumps(list(decision.reasons)),
        "reviewed_by": config.approved_by, "decided_at": pd.Timestamp.now(tz="UTC"),
        "run_id": context.run_id,
    }], columns=REVIEW_COLUMNS)


@asset(partitions_def=underwriting_partitions, group_name="underwriting",
       io_manager_key="warehouse_io_manager",
       ins={"underwriting_review": AssetIn(), "processor_executions": AssetIn()},
       metadata={"partition_expr": "underwriting_id"},
       description="The processing.completed event published for the underwriting.")
def processing_completed(context: AssetExecutionContext, store: StoreResource,
                         pubsub: PubSubResource, notifier: NotifierResource,
                         underwriting_review: pd.DataFrame,
                         processor_executions: pd.DataFrame) -> pd.DataFrame:
    underwriting_id = context.partition_key
    review = underwriting_review.iloc[0]
    organization_id = str(review["organization_id"])
    case = store.open().underwritings.get_underwriting(underwriting_id) or {}
    context.add_output_metadata(partition_metadata(organization_id, case.get("business_name")))
    if review["status"] == "awaiting_review":
        context.log.info(f"{underwriting_id} awaits review: processing.completed is held")
        context.add_output_metadata({"published": False, "reason": "awaiting_review"})
        return pd.DataFrame([{"underwriting_id": underwriting_id,
                              "organization_id": organization_id, "published": False,
                              "message_id": None, "event_json": None,
                              "published_at": None}])
    event = completion_payload(
        underwriting_id=underwriting_id, organization_id=organization_id,
        run_id=context.run_id,
        executions=processor_executions.where(pd.notna(processor_executions), None)
        .to_dict("records"))
    message_id = pubsub.publish_completed(ProcessingCompleted.model_validate(event))
    store.open().underwritings.record_completion(underwriting_id, event["status"])
    summary = event["summary"]
    notifier.notify(f"Processing completed: {underwriting_id}",
                    json.dumps(summary, indent=2))
    context.add_output_metadata({"published": True, "message_id": message_id,
                                 "summary": MetadataValue.json(summary)})
    return pd.DataFrame([{"underwriting_id": underwriting_id,
                          "organization_id": organization_id, "published": True,
                          "message_id": message_id, "event_json": json.dumps(event),
                          "published_at": dt.datetime.now(dt.UTC).isoformat()}])
