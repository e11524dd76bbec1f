"""Run status sensors: audit entries, notifications, cancellation, and finishing a case that a
partial materialization left half done. All are on by default (DefaultSensorStatus.RUNNING)
and watch every job of the code location: the sensor's, the UI's `__ASSET_JOB`, backfills.

Audit and notification are hooks (seed 004 §6): a failure to write or send is logged and
never fails anything. Audit entries carry a key, so a re-evaluated tick writes no duplicate.
A cancelled or failed run leaves no execution stuck in `running`.
"""

from __future__ import annotations

from typing import Any

from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SkipReason,
    run_status_sensor,
)

from aura_dagster.assets.jobs import resume_after_review_job
from aura_dagster.resources.notifier import NotifierResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.sensors.run_outcome import will_retry
from aura_dagster.storage import AuditEntry
from aura_dagster.storage.repositories.underwritings import IN_FLIGHT_STATUSES
from aura_dagster.tags import (
    ORGANIZATION_ID_TAG,
    REVIEW_DECISION_TAG,
    REVIEW_REFUSED_TAG,
    REVIEWER_TAG,
)

PARTITION_TAG = "dagster/partition"
_STEP_EVENTS = {
    DagsterEventType.STEP_START: "step_started",
    DagsterEventType.STEP_SUCCESS: "step_succeeded",
    DagsterEventType.STEP_FAILURE: "step_failed",
    DagsterEventType.STEP_UP_FOR_RETRY: "step_retry_requested",
}
_IN_PROGRESS = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                DagsterRunStatus.STARTED]
_INTERVAL = 5


def _materializations(context: RunStatusSensorContext) -> dict[str, dict[str, Any]]:
    """Asset name -> metadata values of what the run materialized."""
    found: dict[str, dict[str, Any]] = {}
    for entry in context.instance.all_logs(context.dagster_run.run_id,
                                           of_type=DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.dagster_event
        if event is None:
            continue
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        found[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()}
    return found


def audit_run(context: RunStatusSensorContext, store: StoreResource, run_event: str) -> int:
    """Write the run's audit entries; returns how many were written (0 on any failure).

    Best effort, like a hook: a failure to write is logged and returns 0, so it never stops
    the sensor's other duties (closing executions, notifying)."""
    run = context.dagster_run
    try:
        return _write_audit(context, store, run_event)
    except Exception as exc:
        context.log.warning(f"run {run.run_id}: audit {run_event!r} not written: "
                            f"{type(exc).__name__}: {exc}")
        return 0


def _write_audit(context: RunStatusSensorContext, store: StoreResource, run_event: str) -> int:
    run = context.dagster_run
    underwriting_id = run.tags.get(PARTITION_TAG)
    stores = store.open()
    organization_id = run.tags.get(ORGANIZATION_ID_TAG)
    if organization_id is None and underwriting_id:
        row = stores.underwritings.get_underwriting(underwriting_id)
        organization_id = row["organization_id"] if row else None
    if organization_id is None:
        context.log.warning(f"run {run.run_id}: no organization, audit skipped")
        return 0
    entries: list[AuditEntry] = []

    def record(event: str, key: str, **fields: Any) -> None:
        entries.append(AuditEntry(event, key=f"{run.run_id}:{key}", **fields))

    for entry in context.instance.all_logs(run.run_id, of_type=set(_STEP_EVENTS)):
        event = entry.dagster_event
        if event is None:
            continue
        name = _STEP_EVENTS[event.event_type]
        record(name, f"{name}:{event.step_key}:{entry.timestamp}", step_key=event.step_key,
               detail={"message": entry.user_message[:500], "timestamp": entry.timestamp})
    assets = _materializations(context)
    review = assets.get("underwriting_review", {})
    if review.get("status") == "awaiting_review":
        record("review_needed", "review_needed", detail={"reasons": review.get("reasons")})
    rules = review.get("rules") or {}
    if rules.get("fired"):  # which lender rules fired, and the rule set version judged by
        record("rules_fired", "rules_fired", detail=rules)
    decision = run.tags.get(REVIEW_DECISION_TAG)
    if decision and run.tags.get(REVIEW_REFUSED_TAG) is None and review:
        record(f"review_{'approved' if decision == 'approve' else 'rejected'}", "review_decision",
               detail={"reviewer": run.tags.get(REVIEWER_TAG), "note": review.get("note")})
    stats = context.instance.get_run_stats(run.run_id)
    duration = (round(stats.end_time - stats.start_time, 3)
                if stats.start_time and stats.end_time else None)
    cost = assets.get("processor_executions", {}).get("total_cost_cents")
    completed = assets.get("processing_completed", {})
    if completed.get("published"):
        record("pipeline_completed", "pipeline_completed",
               detail={"status": completed.get("status", "completed"), "duration_s": duration,
                       "cost_cents": cost, "message_id": completed.get("message_id")})
    record(run_event, run_event, detail={"job": run.job_name, "status": run.status.value,
                                         "duration_s": duration, "cost_cents": cost})
    # One transaction for the run's entries (keyed: a re-evaluated tick adds nothing).
    return stores.audit.record_many(entries, organization_id=organization_id,
                                    underwriting_id=underwriting_id, run_id=run.run_id)


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, name="audit_run_succeeded",
                   minimum_interval_seconds=_INTERVAL, default_status=DefaultSensorStatus.RUNNING)
def audit_run_succeeded(context: RunStatusSensorContext, store: StoreResource):
    audit_run(context, store, "run_succeeded")


@run_status_sensor(run_status=DagsterRunStatus.FAILURE, name="audit_run_failed",
                   minimum_interval_seconds=_INTERVAL, default_status=DefaultSensorStatus.RUNNING)
def audit_run_failed(context: RunStatusSensorContext, store: StoreResource,
                     notifier: NotifierResource):
    run = context.dagster_run
    stores = store.open()
    cancelled = stores.executions.cancel_unfinished_for_run(run.run_id, "run failed")
    underwriting_id = run.tags.get(PARTITION_TAG)
    row = stores.underwritings.get_underwriting(underwriting_id) if underwriting_id else None
    refused = run.tags.get(REVIEW_REFUSED_TAG) is not None
    # A run retry (dagster.yaml run_retries) will resume the case: it is not failed yet, and
    # publish_failed_outcome answers the platform once the retries are spent.
    retrying = will_retry(context.instance, run)
    # Only a case this run was working on fails with it: a refused approval changed nothing,
    # and a decided case (completed, rejected, parked) keeps its outcome.
    if row is not None and not refused and not retrying:
        stores.underwritings.transition(underwriting_id, IN_FLIGHT_STATUSES, "failed")
    audit_run(context, store, "run_failed")
    if refused or retrying:
        return
    reason = context.dagster_event.message if context.dagster_event else None
    notifier.notify(f"Processing failed: {underwriting_id}",
                    f"Run {run.run_id} ({run.job_name}) failed"
                    + (f": {reason}" if reason else "") + "\n"
                    f"{cancelled} unfinished execution(s) closed. "
                    "Re-execute it from failure in the Dagster UI.")


@run_status_sensor(run_status=DagsterRunStatus.CANCELED, name="close_cancelled_runs",
                   minimum_interval_seconds=_INTERVAL, default_status=DefaultSensorStatus.RUNNING)
def close_cancelled_runs(context: RunStatusSensorContext, store: StoreResource):
    """Cancelling marks the run's running executions cancelled; re-execution resumes."""
    run = context.dagster_run
    cancelled = store.open().executions.cancel_unfinished_for_run(run.run_id, "run cancelled")
    audit_run(context, store, "run_cancelled")
    if not cancelled:
        return SkipReason(f"run {run.run_id} had no unfinished executions")
    context.log.info(f"run {run.run_id}: {cancelled} execution(s) marked cancelled")


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, name="finish_partial_runs",
                   request_job=resume_after_review_job, minimum_interval_seconds=_INTERVAL,
                   default_status=DefaultSensorStatus.RUNNING)
def finish_partial_runs(context: RunStatusSensorContext, store: StoreResource):
    """A run that materialized only part of a case (UI *Materialize* on processor_executions,
    a backfill of one asset) left it `processing`: decide the review gate and publish."""
    run = context.dagster_run
    underwriting_id = run.tags.get(PARTITION_TAG)
    if not underwriting_id or "processing_completed" in _materializations(context):
        return SkipReason("nothing left undone")
    row = store.open().underwritings.get_underwriting(underwriting_id)
    if row is None or row["status"] != "processing":
        return SkipReason(f"{underwriting_id} is {row['status'] if row else 'unknown'}")
    busy = context.instance.get_runs(filters=RunsFilter(
        tags={PARTITION_TAG: underwriting_id}, statuses=_IN_PROGRESS), limit=1)
    if busy:
        return SkipReason(f"{underwriting_id}: run {busy[0].run_id} is still in progress")
    return RunRequest(run_key=f"finish:{run.run_id}", partition_key=underwriting_id,
                      tags={ORGANIZATION_ID_TAG: row["organization_id"],
                            "aura/finishes_run": run.run_id})


run_status_sensors = [audit_run_succeeded, audit_run_failed, close_cancelled_runs,
                      finish_partial_runs]
