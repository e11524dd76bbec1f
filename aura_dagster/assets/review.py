"""Validation (asset checks on the factors), the review gate, and `processing.completed`."""


import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    Config,
    Failure,
    MetadataValue,
    asset,
    asset_check,
)

from aura_dagster.assets.documents import partition_metadata
from aura_dagster.assets.options import OptionError, PipelineOptionsResource
from aura_dagster.assets.processing import infrastructure_retry_policy
from aura_dagster.assets.run_tags import add_run_tags, tag_case
from aura_dagster.domain.events import ProcessingCompleted
from aura_dagster.domain.validation import (
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
from aura_dagster.tags import (
    FAILED_PROCESSORS_TAG,
    REVIEW_DECISION_TAG,
    REVIEW_REFUSED_TAG,
    REVIEWER_TAG,
)

UNSUCCESSFUL = ("failed", "timeout", "cancelled")

REVIEW_COLUMNS = ["underwriting_id", "organization_id", "status", "reasons", "reviewed_by",
                  "decided_at", "run_id"]


def factor_values(factors: pd.DataFrame) -> dict[str, Any]:
    return {row.factor_name: json.loads(row.value_json) for row in factors.itertuples()}


def completed_processors(executions: pd.DataFrame) -> list[str]:
    done = executions[(executions["status"] == "completed") & (~executions["skipped"].astype(bool))]
    return sorted(done["processor"].tolist())


def _partition_result(context: AssetCheckExecutionContext, *, passed: bool,
                      severity: AssetCheckSeverity, description: str,
                      metadata: dict[str, Any]) -> AssetCheckResult:
    # Partitioned checks: the UI's check list sums up every partition while "latest
    # execution" is whichever partition ran last, so each result names its partition.
    partition = context.partition_key if context.has_partition_key else ""
    return AssetCheckResult(
        passed=passed, severity=severity,
        description=f"{partition}: {description}" if partition else description,
        metadata={**metadata, "underwriting_id": partition})


def _check_result(evaluate: Callable[[], FactorCheck], severity: AssetCheckSeverity,
                  context: AssetCheckExecutionContext) -> AssetCheckResult:
    """The check's result; a check that cannot be evaluated fails (it is shown, and the
    review gate decides on the same factors) instead of failing the run."""
    try:
        check = evaluate()
    except Exception as exc:
        return _partition_result(
            context, passed=False, severity=AssetCheckSeverity.ERROR,
            description=f"could not evaluate: {type(exc).__name__}: {exc}", metadata={})
    return _partition_result(context, passed=check.passed, severity=severity,
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
        AssetCheckSeverity.ERROR, context)


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             retry_policy=infrastructure_retry_policy,
             description="Numeric factors are finite and inside their bounds.")
def factor_values_in_range(context: AssetCheckExecutionContext,
                           underwriting_factors: pd.DataFrame) -> AssetCheckResult:
    return _check_result(lambda: check_factor_ranges(factor_values(underwriting_factors)),
                         AssetCheckSeverity.ERROR, context)


@asset_check(asset="underwriting_factors", partitions_def=underwriting_partitions,
             retry_policy=infrastructure_retry_policy,
             description="Opening balance + credits - debits equals closing on every statement.")
def statements_reconcile(context: AssetCheckExecutionContext,
                         underwriting_factors: pd.DataFrame) -> AssetCheckResult:
    return _check_result(
        lambda: check_statements_reconcile(factor_values(underwriting_factors)),
        AssetCheckSeverity.WARN, context)


class Decision(Enum):
    """A person's decision (an enum: the launchpad offers the two values)."""

    approve = "approve"
    reject = "reject"


class ReviewConfig(Config):
    """A person's decision on a parked case (launch `resume_after_review` with it):
    `decision` approve | reject, `reviewer` (who), `note` (why; a rejection's reason).
    Without a decision the gate decides by itself. `approved_by` is the deprecated form of
    decision=approve with reviewer=<name>; `auto_approve_above` that of the pipeline option."""

    decision: Decision | None = None
    reviewer: str | None = None
    note: str | None = None
    approved_by: str | None = None
    auto_approve_above: float | None = None


@dataclass(frozen=True)
class PersonDecision:
    decision: str  # approve | reject
    reviewer: str
    note: str | None


def person_decision(config: ReviewConfig) -> PersonDecision | None:
    if config.decision is None and config.approved_by:
        return PersonDecision("approve", config.approved_by, config.note)
    if config.decision is None:
        if config.reviewer:
            raise Failure(description="a reviewer was given without a decision: set decision "
                                      "to approve or reject", allow_retries=False)
        return None
    decision = config.decision.value
    reviewer = (config.reviewer or config.approved_by or "").strip()
    if not reviewer:
        raise Failure(description="a decision needs the reviewer's name (reviewer)",
                      allow_retries=False)
    return PersonDecision(decision, reviewer, config.note)


def _apply_person_decision(context: AssetExecutionContext, repos: Any, row: dict[str, Any],
                           decided: PersonDecision) -> tuple[str, list[str]]:
    """Record an approval or rejection; only a case awaiting review can take one."""
    underwriting_id = row["id"]
    add_run_tags(context, {REVIEWER_TAG: decided.reviewer,
                           REVIEW_DECISION_TAG: decided.decision}, replace=True)
    approved = decided.decision == "approve"
    changed = repos.underwritings.transition(
        underwriting_id, "awaiting_review", "processing" if approved else "rejected",
        reviewed_by=decided.reviewer, reviewed_at=dt.datetime.now(dt.UTC),
        review_decision=decided.decision, review_note=decided.note)
    if changed is None:
        current = repos.underwritings.get_underwriting(underwriting_id)
        status = current["status"] if current else "unknown"
        add_run_tags(context, {REVIEW_REFUSED_TAG: status}, replace=True)
        raise Failure(
            description=f"underwriting {underwriting_id!r} is {status}, not awaiting review: "
                        f"only a parked case can be {'approved' if approved else 'rejected'}. "
                        "Nothing was changed.",
            metadata={"status": status}, allow_retries=False)
    reasons = [row["review_reason"]] if row.get("review_reason") else []
    return ("approved" if approved else "rejected"), reasons


@asset(partitions_def=underwriting_partitions, group_name="underwriting",
       io_manager_key="warehouse_io_manager", retry_policy=infrastructure_retry_policy,
       ins={"underwriting_factors": AssetIn(), "processor_executions": AssetIn()},
       metadata={"partition_expr": "underwriting_id"},
       description="The review gate: auto-approved, awaiting review, or approved / rejected "
                   "by a person (the metadata's `status`; the review_cleared check).")
def underwriting_review(context: AssetExecutionContext, config: ReviewConfig,
                        store: StoreResource, notifier: NotifierResource,
                        pipeline_options: PipelineOptionsResource,
                        underwriting_factors: pd.DataFrame,
                        processor_executions: pd.DataFrame) -> pd.DataFrame:
    underwriting_id = context.partition_key
    repos = store.open()
    row = repos.underwritings.get_underwriting(underwriting_id)
    if row is None:
        raise Failure(description=f"underwriting {underwriting_id!r} does not exist",
                      allow_retries=False)
    organization_id = row["organization_id"]
    tag_case(context, underwriting_id, organization_id)
    try:
        options = pipeline_options.resolve(context.run.tags)
    except OptionError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    threshold = (config.auto_approve_above if config.auto_approve_above is not None
                 else options.auto_approve_above)
    decided = person_decision(config)
    if decided is not None:
        status, reasons = _apply_person_decision(context, repos, row, decided)
    else:
        checks = validate_factors(factor_values(underwriting_factors),
                                  completed_processors(processor_executions))
        confidences = {r.processor: (None if pd.isna(r.confidence) else float(r.confidence))
                       for r in processor_executions.itertuples() if r.status == "completed"}
        # A processor that failed (e.g. an unreadable document) parks the case with its error.
        failed = {r.processor: f"{r.error_code}: {r.error_message}"
                  for r in processor_executions.itertuples() if r.status == "failed"}
        # skip_validation: failed checks still show on the checks, but do not park the case.
        verdict = review_decision([] if options.skip_validation else checks, confidences,
                                  threshold, failed)
        reasons = list(verdict.reasons)
        if verdict.needs_review and not options.skip_review:
            status = "awaiting_review"
            repos.underwritings.set_status(underwriting_id, "awaiting_review",
                                           review_reason="; ".join(reasons),
                                           reviewed_by=None, reviewed_at=None,
                                           review_decision=None, review_note=None)
            if options.notify_on_review:
                notifier.notify(f"Review needed: {underwriting_id}",
                                "The underwriting is parked for review:\n- "
                                + "\n- ".join(reasons)
                                + "\n\nApprove or reject it: launch resume_after_review for "
                                  "this partition (docs/operating-ui.md).")
        else:
            status = "auto_approved"
            # Decided, not yet published: processing_completed (or finish_partial_runs,
            # when this run materializes the review alone) completes it.
            repos.underwritings.set_status(underwriting_id, "processing")
    context.add_output_metadata({
        "status": status, "reasons": reasons,
        **partition_metadata(organization_id, row.get("business_name")),
        **({"reviewer": decided.reviewer, "decision": decided.decision,
            "note": decided.note or ""} if decided else {}),
        **({"options": MetadataValue.json(options.non_defaults())}
           if options.non_defaults() else {}),
    })
    return pd.DataFrame([{
        "underwriting_id": underwriting_id, "organization_id": organization_id,
        "status": status, "reasons": json.dumps(reasons),
        "reviewed_by": decided.reviewer if decided else None,
        "decided_at": pd.Timestamp.now(tz="UTC"), "run_id": context.run_id,
    }], columns=REVIEW_COLUMNS)


@asset_check(asset="underwriting_review", partitions_def=underwriting_partitions,
             description="The case is not waiting for a person (WARN while it is parked).")
def review_cleared(context: AssetCheckExecutionContext,
                   underwriting_review: pd.DataFrame) -> AssetCheckResult:
    row = underwriting_review.iloc[0]
    status = str(row["status"])
    parked = status == "awaiting_review"
    return _partition_result(
        context, passed=not parked, severity=AssetCheckSeverity.WARN,
        description=("parked: approve or reject it with resume_after_review" if parked
                     else f"cleared: {status}"),
        metadata={"status": status, "reasons": MetadataValue.json(json.loads(row["reasons"])),
                  "reviewed_by": str(row["reviewed_by"] or "")})


@asset_check(asset="processor_executions", partitions_def=underwriting_partitions,
             description="Every processor completed (WARN naming those that failed or timed "
                         "out; also the run tag aura/failed_processors).")
def processors_succeeded(context: AssetCheckExecutionContext,
                         processor_executions: pd.DataFrame) -> AssetCheckResult:
    bad = processor_executions[processor_executions["status"].isin(UNSUCCESSFUL)]
    failures = {r.processor: r.status for r in bad.itertuples()}
    if failures:
        add_run_tags(context.op_execution_context, {FAILED_PROCESSORS_TAG: ",".join(
            f"{p}:{s}" for p, s in sorted(failures.items()))}, replace=True)
    errors = {r.processor: str(r.error_message or r.error_code or r.status)
              for r in bad.itertuples()}
    return _partition_result(
        context, passed=not failures, severity=AssetCheckSeverity.WARN,
        description=("every processor completed" if not failures else
                     f"{len(failures)} processor(s) did not complete: "
                     + ", ".join(f"{p} ({s})" for p, s in sorted(failures.items()))),
        metadata={"failed": MetadataValue.json(sorted(p for p, s in failures.items()
                                                      if s != "timeout")),
                  "timed_out": MetadataValue.json(sorted(p for p, s in failures.items()
                                                         if s == "timeout")),
                  "errors": MetadataValue.json(errors)})


@asset(partitions_def=underwriting_partitions, group_name="underwriting",
       io_manager_key="warehouse_io_manager", retry_policy=infrastructure_retry_policy,
       ins={"underwriting_review": AssetIn(), "processor_executions": AssetIn()},
       metadata={"partition_expr": "underwriting_id"},
       description="The processing.completed event published for the underwriting "
                   "(status completed, or rejected with the reviewer's note as reason).")
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
    repos = store.open()
    outcome, reason = "completed", None
    if review["status"] == "rejected":
        row = repos.underwritings.get_underwriting(underwriting_id) or {}
        outcome = "rejected"
        reason = row.get("review_note") or f"rejected by {review['reviewed_by']}"
    event = completion_payload(
        underwriting_id=underwriting_id, organization_id=organization_id,
        run_id=context.run_id, status=outcome, reason=reason,
        executions=processor_executions.where(pd.notna(processor_executions), None)
        .to_dict("records"))
    stores = store.open()
    # Once per run group: a retried step or run that already published reuses its message.
    message_id, _ = publish_once(
        stores, completion_key(context.run.root_run_id or context.run_id),
        lambda: pubsub.publish_completed(ProcessingCompleted.model_validate(event)),
        organization_id=organization_id)
    stores.underwritings.record_completion(underwriting_id, outcome)
    summary = event["summary"]
    notifier.notify(f"Processing {outcome}: {underwriting_id}",
                    (f"Rejected: {reason}\n\n" if reason else "")
                    + json.dumps(summary, indent=2))
    context.add_output_metadata({"published": True, "message_id": message_id,
                                 "status": outcome, "summary": MetadataValue.json(summary)})
    return pd.DataFrame([{"underwriting_id": underwriting_id,
                          "organization_id": organization_id, "published": True,
                          "message_id": message_id, "event_json": json.dumps(event),
                          "published_at": dt.datetime.now(dt.UTC).isoformat()}])
