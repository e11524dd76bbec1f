"""Run status sensors: an audit entry per step and run, notifications, cancellation.

Audit and notification are hooks (seed 004): a failure to write or send is logged and
never fails anything. A cancelled or failed run leaves no execution stuck in `running`.
"""


from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunStatusSensorContext,
    SkipReason,
    run_status_sensor,
)

from aura_dagster.assets.jobs import process_underwriting_job, resume_after_review_job
from aura_dagster.resources.notifier import NotifierResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.tags import ORGANIZATION_ID_TAG

_STEP_EVENTS = {
    DagsterEventType.STEP_START: "step_started",
    DagsterEventType.STEP_SUCCESS: "step_succeeded",
    DagsterEventType.STEP_FAILURE: "step_failed",
    DagsterEventType.STEP_UP_FOR_RETRY: "step_retry_requested",
}
_MONITORED = [process_underwriting_job, resume_after_review_job]


def audit_run(context: RunStatusSensorContext, store: StoreResource, run_event: str) -> int:
    """Write one audit row per step event and one for the run; returns rows written.

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
    underwriting_id = run.tags.get("dagster/partition")
    stores = store.open()
    organization_id = run.tags.get(ORGANIZATION_ID_TAG)
    if organization_id is None and underwriting_id:
        row = stores.underwritings.get_underwriting(underwriting_id)
        organization_id = row["organization_id"] if row else None
    if organization_id is None:
        context.log.warning(f"run {run.run_id}: no organization, audit skipped")
        return 0
    written = 0
    records = context.instance.all_logs(run.run_id, of_type=set(_STEP_EVENTS))
    for entry in records:
        event = entry.dagster_event
        if event is None:
            continue
        stores.audit.record(_STEP_EVENTS[event.event_type], organization_id=organization_id,
                            underwriting_id=underwriting_id, run_id=run.run_id,
                            step_key=event.step_key,
                            detail={"message": entry.user_message[:500],
                                    "timestamp": entry.timestamp})
        written += 1
    stores.audit.record(run_event, organization_id=organization_id,
                        underwriting_id=underwriting_id, run_id=run.run_id,
                        detail={"job": run.job_name, "status": run.status.value})
    return written + 1


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=_MONITORED,
                   name="audit_run_succeeded", minimum_interval_seconds=5)
def audit_run_succeeded(context: RunStatusSensorContext, store: StoreResource):
    audit_run(context, store, "run_succeeded")


@run_status_sensor(run_status=DagsterRunStatus.FAILURE, monitored_jobs=_MONITORED,
                   name="audit_run_failed", minimum_interval_seconds=5,
                   default_status=DefaultSensorStatus.RUNNING)  # closes executions: on
def audit_run_failed(context: RunStatusSensorContext, store: StoreResource,
                     notifier: NotifierResource):
    run = context.dagster_run
    stores = store.open()
    cancelled = stores.executions.cancel_unfinished_for_run(run.run_id, "run failed")
    underwriting_id = run.tags.get("dagster/partition")
    if underwriting_id and stores.underwritings.get_underwriting(underwriting_id):
        stores.underwritings.set_status(underwriting_id, "failed")
    audit_run(context, store, "run_failed")
    reason = context.dagster_event.message if context.dagster_event else None
    notifier.notify(f"Processing failed: {underwriting_id}",
                    f"Run {run.run_id} ({run.job_name}) failed"
                    + (f": {reason}" if reason else "") + "\n"
                    f"{cancelled} unfinished execution(s) closed. "
                    "Re-execute it from failure in the Dagster UI.")


@run_status_sensor(run_status=DagsterRunStatus.CANCELED, monitored_jobs=_MONITORED,
                   name="close_cancelled_runs", minimum_interval_seconds=5,
                   default_status=DefaultSensorStatus.RUNNING)  # closes executions: on
def close_cancelled_runs(context: RunStatusSensorContext, store: StoreResource):
    """Cancelling marks the run's running executions cancelled; re-execution resumes."""
    run = context.dagster_run
    cancelled = store.open().executions.cancel_unfinished_for_run(run.run_id, "run cancelled")
    audit_run(context, store, "run_cancelled")
    if not cancelled:
        return SkipReason(f"run {run.run_id} had no unfinished executions")
    context.log.info(f"run {run.run_id}: {cancelled} execution(s) marked cancelled")


run_status_sensors = [audit_run_succeeded, audit_run_failed, close_cancelled_runs]
