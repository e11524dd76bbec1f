"""Validation (asset checks on the factors), the review gate, and `processing.completed`."""


import datetime as dt
import json
from collections.abc import Callable
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

from aura_dagster.assets.processing import infrastructure_retry_policy
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
from aura_dagster.services.publish_once import completion_key, publish_once

REVIEW_COLUMNS = ["underwriting_id", "organization_id", "status", "reasons", "reviewed_by",
                  "decided_at", "run_id"]


def factor_values(factors: pd.DataFrame) -> dict[str, Any]:
    return {row.factor_name: json.loads(row.value_json) for row in factors.itertuples()}


def completed_processors(executions: pd.DataFrame) -> list[str]:
    done = executions[(executions["status"] == "completed") & (~executions["skipped"].astype(bool))]
    return sorted(done["processor"].tolist())


def _check_result(evaluate: Callable[[], FactorCheck],
                  severity: AssetCheckSeverity) -> AssetCheckResult:
    """The check's result; a check that cannot be evaluated fails (it is shown, and the
    review gate decides on the same factors) instead of failing the run."""
    try:
        check = evaluate()
    except Exception as exc:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                                description=f"could not evaluate: {type(exc).__name__}: {exc}")
    return AssetCheckResult(
        passed=check.passed, severity=severity,
        description=check.description,
        metadata={"failures": MetadataValue.json(list(check.failures))})


_executions_in = {"processor_executions": AssetIn("processor_executions")}


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             retry_policy=infrastructure_retry_policy,
             additional_ins=_executions_in,
             description="Every completed processor produced its required factors.")
def required_factors_present(context: AssetCheckExecutionContext,
                             underwriting_factors: pd.DataFrame,
                             processor_executions: pd.DataFrame) -> AssetCheckResult:
    return _check_result(lambda: check_required_factors(
        factor_values(underwriting_factors), completed_processors(processor_executions)),
        AssetCheckSeverity.ERROR)


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             retry_policy=infrastructure_retry_policy,
             description="Numeric factors are finite and inside their bounds.")
def factor_values_in_range(context: AssetCheckExecutionContext,
                           underwriting_factors: pd.DataFrame) -> AssetCheckResult:
    return _check_result(lambda: check_factor_ranges(factor_values(underwriting_factors)),
                         AssetCheckSeverity.ERROR)


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             retry_policy=infrastructure_retry_policy,
             description="Opening balance + credits - debits equals closing on every statement.")
def statements_reconcile(context: AssetCheckExecutionContext,
                         underwriting_factors: pd.DataFrame) -> AssetCheckResult:
    return _check_result(
        lambda: check_statements_reconcile(factor_values(underwriting_factors)),
        AssetCheckSeverity.WARN)


class ReviewConfig(Config):
    """Set `approved_by` to approve an underwriting parked for review (resume job)."""

    approved_by: str | None = None
    auto_approve_above: float = DEFAULT_AUTO_APPROVE_ABOVE


@asset(partitions_def=underwriting_partitions, group_name="underwriting",
       io_manager_key="warehouse_io_manager", retry_policy=infrastructure_retry_policy,
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
    decision = review_decision(checks, confidences, config.auto_approve_above)
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
    context.add_output_metadata({"status": status, "reasons": list(decision.reasons)})
    return pd.DataFrame([{
        "underwriting_id": underwriting_id, "organization_id": organization_id,
        "status": status, "reasons": json.dumps(list(decision.reasons)),
        "reviewed_by": config.approved_by, "decided_at": pd.Timestamp.now(tz="UTC"),
        "run_id": context.run_id,
    }], columns=REVIEW_COLUMNS)


@asset(partitions_def=underwriting_partitions, group_name="underwriting",
       io_manager_key="warehouse_io_manager", retry_policy=infrastructure_retry_policy,
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
    stores = store.open()
    # Once per run group: a retried step or run that already published reuses its message.
    message_id, _ = publish_once(
        stores, completion_key(context.run.root_run_id or context.run_id),
        lambda: pubsub.publish_completed(ProcessingCompleted.model_validate(event)),
        organization_id=organization_id)
    stores.underwritings.set_status(underwriting_id, "completed")
    summary = event["summary"]
    notifier.notify(f"Processing completed: {underwriting_id}",
                    json.dumps(summary, indent=2))
    context.add_output_metadata({"published": True, "message_id": message_id,
                                 "summary": MetadataValue.json(summary)})
    return pd.DataFrame([{"underwriting_id": underwriting_id,
                          "organization_id": organization_id, "published": True,
                          "message_id": message_id, "event_json": json.dumps(event),
                          "published_at": dt.datetime.now(dt.UTC).isoformat()}])
