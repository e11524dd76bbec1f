"""The factor matrix, the review gate and `processing.completed`: one step, three assets and
the review_cleared check (the checks on the factors run in the consolidation step:
assets/checks.py)."""


import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    Config,
    Failure,
    MetadataValue,
    Output,
    RunsFilter,
    multi_asset,
)

from aura_dagster.assets.checks import (
    REVIEW_CLEARED,
    completed_processors,
    factor_values,
    review_cleared,
)
from aura_dagster.assets.documents import partition_metadata
from aura_dagster.assets.factor_matrix import (
    MATRIX_DESCRIPTION,
    MATRIX_KEY,
    matrix_materialization,
)
from aura_dagster.assets.options import OptionError, PipelineOptionsResource
from aura_dagster.assets.processing import infrastructure_retry_policy
from aura_dagster.assets.run_tags import add_run_tags, tag_case
from aura_dagster.domain.events import ProcessingCompleted
from aura_dagster.domain.validation import review_decision, validate_factors
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.resources.notifier import NotifierResource
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.services.completion import completion_payload
from aura_dagster.services.lender_rules import RulesJudgement, judge_case
from aura_dagster.services.publish_once import (
    already_published,
    completion_key,
    publish_once,
)
from aura_dagster.tags import (
    REVIEW_DECISION_TAG,
    REVIEW_REFUSED_TAG,
    REVIEW_RUN_TAG,
    REVIEW_TAG,
    REVIEWER_TAG,
)

PARTITION_TAG = "dagster/partition"  # Dagster's run tag (not exported publicly)

REVIEW_COLUMNS = ["underwriting_id", "organization_id", "status", "reasons", "reviewed_by",
                  "decided_at", "run_id"]


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


def _decision_already_applied(context: AssetExecutionContext, current: dict[str, Any] | None,
                              decided: PersonDecision) -> bool:
    """A retry or re-execution of this very step after publishing failed: the decision was
    recorded by the first attempt (review and publish are one step), so go on and publish."""
    if current is None or current.get("completed_at") is not None:
        return False
    retried = context.retry_number > 0 or context.run.parent_run_id is not None
    target = "processing" if decided.decision == "approve" else "rejected"
    return (retried and current["status"] == target
            and current.get("review_decision") == decided.decision
            and current.get("reviewed_by") == decided.reviewer)


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
        if _decision_already_applied(context, current, decided):
            changed = current
    if changed is None:
        status = current["status"] if current else "unknown"
        add_run_tags(context, {REVIEW_REFUSED_TAG: status}, replace=True)
        raise Failure(
            description=f"underwriting {underwriting_id!r} is {status}, not awaiting review: "
                        f"only a parked case can be {'approved' if approved else 'rejected'}. "
                        "Nothing was changed.",
            metadata={"status": status}, allow_retries=False)
    reasons = [row["review_reason"]] if row.get("review_reason") else []
    return ("approved" if approved else "rejected"), reasons


Materialized = tuple[pd.DataFrame, dict[str, Any]]  # a frame and its metadata

# The gate decides by itself only a case a run has accepted (the load step made it
# `processing`) or one already parked (deciding again, e.g. with another threshold).
GATE_DECIDES = ("processing", "awaiting_review")


def _record_gate_decision(context: AssetExecutionContext, repos: Any, row: dict[str, Any],
                          status: str, **fields: Any) -> None:
    """Compare-and-set the gate's decision: a final outcome is never decided again without
    processing the case again. The one exception is this run group's own retry after it
    published (the same decision, the same message: publish_once reuses it)."""
    underwriting_id = row["id"]
    if repos.underwritings.transition(underwriting_id, GATE_DECIDES, status,
                                      **fields) is not None:
        return
    current = repos.underwritings.get_underwriting(underwriting_id) or {}
    group = context.run.root_run_id or context.run_id
    if current.get("completed_at") is not None and already_published(
            repos, completion_key(group)):
        return
    state = current.get("status", "unknown")
    add_run_tags(context, {REVIEW_REFUSED_TAG: state}, replace=True)
    raise Failure(
        description=f"underwriting {underwriting_id!r} is {state}: the review gate decides "
                    "only a case being processed or parked. To process it again, rerun it "
                    f"(aura-dagster rerun {underwriting_id}, or materialize the whole job). "
                    "Nothing was changed.",
        metadata={"status": state}, allow_retries=False)


def _tag_review_outcome(context: AssetExecutionContext, status: str) -> None:
    """The runs list shows the gate's outcome (`aura/review`). A decision also retags the
    partition's runs that parked it, so no run still reads as waiting once it is decided."""
    add_run_tags(context, {REVIEW_TAG: status}, replace=True)
    if status == "awaiting_review":
        return
    parked = context.instance.get_runs(filters=RunsFilter(tags={
        PARTITION_TAG: context.partition_key, REVIEW_TAG: "awaiting_review"}))
    for run in parked:
        if run.run_id != context.run_id:
            context.instance.add_run_tags(run.run_id, {REVIEW_TAG: status,
                                                       REVIEW_RUN_TAG: context.run_id})


def decide_review(context: AssetExecutionContext, config: ReviewConfig, store: StoreResource,
                  notifier: NotifierResource, pipeline_options: PipelineOptionsResource,
                  underwriting_factors: pd.DataFrame,
                  processor_executions: pd.DataFrame, row: dict[str, Any] | None
                  ) -> Materialized:
    """The review gate: auto-approved, parked for a person, or the person's decision.
    `row`: the underwriting's store row (None: unknown)."""
    underwriting_id = context.partition_key
    repos = store.open()
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
    judgement: RulesJudgement | None = None  # a person's decision overrides the rules
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
        # The lender's rules, after the checks: a decline is the lender's decision and
        # stands even with skip_review; a park (or a factor a rule needs that is missing)
        # parks like a failed check.
        judgement = judge_case(repos, organization_id, factor_values(underwriting_factors))
        repos.rules.set_underwriting_rules_version(underwriting_id, judgement.version,
                                                   organization_id=organization_id)
        reasons = list(verdict.reasons)
        if judgement.declined:
            status = "declined"
            reasons = list(judgement.reasons)
            # Decided, not yet published: publish_completion (same step) declines it.
            _record_gate_decision(context, repos, row, "processing",
                                  review_reason="; ".join(reasons))
        elif (verdict.needs_review or judgement.parked) and not options.skip_review:
            reasons += list(judgement.reasons)
            status = "awaiting_review"
            _record_gate_decision(context, repos, row, "awaiting_review",
                                  review_reason="; ".join(reasons), reviewed_by=None,
                                  reviewed_at=None, review_decision=None, review_note=None)
            if options.notify_on_review:
                notifier.notify(f"Review needed: {underwriting_id}",
                                "The underwriting is parked for review:\n- "
                                + "\n- ".join(reasons)
                                + "\n\nApprove or reject it: launch resume_after_review for "
                                  "this partition (docs/operating-ui.md).")
        else:
            status = "auto_approved"
            # Decided, not yet published: publish_completion (same step) completes it.
            _record_gate_decision(context, repos, row, "processing")
    _tag_review_outcome(context, status)
    metadata = {
        "status": status, "reasons": reasons,
        **({"rules": MetadataValue.json(judgement.as_dict())} if judgement else {}),
        **partition_metadata(organization_id, row.get("business_name")),
        **({"reviewer": decided.reviewer, "decision": decided.decision,
            "note": decided.note or ""} if decided else {}),
        **({"options": MetadataValue.json(options.non_defaults())}
           if options.non_defaults() else {}),
    }
    return pd.DataFrame([{
        "underwriting_id": underwriting_id, "organization_id": organization_id,
        "status": status, "reasons": json.dumps(reasons),
        "reviewed_by": decided.reviewer if decided else None,
        "decided_at": pd.Timestamp.now(tz="UTC"), "run_id": context.run_id,
    }], columns=REVIEW_COLUMNS), metadata


def publish_completion(context: AssetExecutionContext, store: StoreResource,
                       pubsub: PubSubResource, notifier: NotifierResource,
                       underwriting_review: pd.DataFrame,
                       processor_executions: pd.DataFrame) -> Materialized:
    """processing.completed for a decided case (the caller holds it while the case awaits
    review)."""
    underwriting_id = context.partition_key
    review = underwriting_review.iloc[0]
    organization_id = str(review["organization_id"])
    case = store.open().underwritings.get_underwriting(underwriting_id) or {}
    metadata = partition_metadata(organization_id, case.get("business_name"))
    repos = store.open()
    outcome, reason = "completed", None
    if review["status"] == "rejected":
        row = repos.underwritings.get_underwriting(underwriting_id) or {}
        outcome = "rejected"
        reason = row.get("review_note") or f"rejected by {review['reviewed_by']}"
    elif review["status"] == "declined":
        outcome, reason = "declined", "; ".join(json.loads(review["reasons"]))
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
                    (f"{outcome.capitalize()}: {reason}\n\n" if reason else "")
                    + json.dumps(summary, indent=2))
    return pd.DataFrame([{"underwriting_id": underwriting_id,
                          "organization_id": organization_id, "published": True,
                          "message_id": message_id, "event_json": json.dumps(event),
                          "published_at": dt.datetime.now(dt.UTC).isoformat()}]), {
        **metadata, "published": True, "message_id": message_id, "status": outcome,
        "summary": MetadataValue.json(summary)}


def _warehouse_out(description: str) -> AssetOut:
    # Not required: a run may select part of the step (the matrix alone, review + publish).
    return AssetOut(io_manager_key="warehouse_io_manager", description=description,
                    metadata={"partition_expr": "underwriting_id"}, is_required=False)


# One step writes the factor matrix, decides the gate and publishes: every step costs
# Dagster event-log commits, and the matrix is in the warehouse before processing.completed
# says the factors are ready. The resume job's config path stays
# ops.underwriting_review.config (the op keeps the old asset's name). Subsettable: the matrix
# alone (a backfill after a dictionary change) neither re-decides nor republishes, and
# resume_after_review selects review and publish without the matrix.
@multi_asset(
    name="underwriting_review",
    outs={
        MATRIX_KEY: _warehouse_out(MATRIX_DESCRIPTION),
        "underwriting_review": _warehouse_out(
            "The review gate: auto-approved, awaiting review, or approved / rejected by a "
            "person (the metadata's `status`; the review_cleared check)."),
        "processing_completed": _warehouse_out(
            "The processing.completed event published for the underwriting (status "
            "completed, or rejected with the reviewer's note as reason)."),
    },
    ins={"underwriting_factors": AssetIn(), "processor_executions": AssetIn()},
    internal_asset_deps={
        MATRIX_KEY: {AssetKey("underwriting_factors")},
        "underwriting_review": {AssetKey("underwriting_factors"),
                                AssetKey("processor_executions")},
        "processing_completed": {AssetKey("underwriting_review"),
                                 AssetKey("processor_executions")},
    },
    check_specs=[REVIEW_CLEARED],
    partitions_def=underwriting_partitions,
    group_name="underwriting",
    retry_policy=infrastructure_retry_policy,
    can_subset=True,
)
def underwriting_review(context: AssetExecutionContext, config: ReviewConfig,
                        store: StoreResource, notifier: NotifierResource,
                        pubsub: PubSubResource, pipeline_options: PipelineOptionsResource,
                        underwriting_factors: pd.DataFrame,
                        processor_executions: pd.DataFrame
                        ) -> Iterator[Output | AssetCheckResult]:
    selected = context.selected_output_names
    # Read once: the matrix names the business, the gate decides on the case's status.
    underwriting = store.open().underwritings.get_underwriting(context.partition_key)
    if MATRIX_KEY in selected:
        matrix, metadata = matrix_materialization(context.partition_key, underwriting or {},
                                                  underwriting_factors)
        yield Output(matrix, MATRIX_KEY, metadata=metadata)
    if "underwriting_review" not in selected:
        if "processing_completed" in selected:
            raise Failure(description="processing_completed is published by the review gate: "
                                      "select underwriting_review with it",
                          allow_retries=False)
        return
    review, metadata = decide_review(context, config, store, notifier, pipeline_options,
                                     underwriting_factors, processor_executions, underwriting)
    yield Output(review, "underwriting_review", metadata=metadata)
    yield review_cleared(context, review)
    if "processing_completed" not in selected:
        return
    if review.iloc[0]["status"] == "awaiting_review":
        # Held: nothing is published, so the partition of processing_completed stays
        # unmaterialized (not a green "Materialized") until a person decides.
        context.log.info(f"{context.partition_key} awaits review: processing.completed is "
                         "held")
        return
    completed, metadata = publish_completion(context, store, pubsub, notifier, review,
                                             processor_executions)
    yield Output(completed, "processing_completed", metadata=metadata)
