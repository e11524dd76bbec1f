"""A run that fails for good still answers the platform.

When an underwriting's run fails and no run retry will follow (Dagster's `dagster/will_retry`
tag, set when the failure is recorded, says so), publish `processing.completed` with
`status: "failed"` and the reason (docs/events.md), and mark the underwriting `failed`.
A failure that will be retried is left alone: the retry publishes the outcome. Nothing is
published twice: a run group that already materialized `processing_completed` (published,
or held for review) has answered.
"""

from __future__ import annotations

import time

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)
from dagster._core.execution.retries import auto_reexecution_should_retry_run

from aura_dagster.assets.jobs import process_underwriting_job, resume_after_review_job
from aura_dagster.domain.events import ProcessingCompleted
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.services.failure_outcome import failed_run_payload
from aura_dagster.services.publish_once import (
    already_published,
    completion_key,
    publish_once,
)
from aura_dagster.storage.repositories.underwritings import IN_FLIGHT_STATUSES
from aura_dagster.tags import ORGANIZATION_ID_TAG, OUTCOME_PUBLISHED_KEY, REVIEW_REFUSED_TAG

# Dagster's own run tags (dagster._core.storage.tags; not exported publicly).
WILL_RETRY_TAG = "dagster/will_retry"
RETRY_NUMBER_TAG = "dagster/retry_number"
PARTITION_TAG = "dagster/partition"
PUBLISH_ASSET = AssetKey("processing_completed")


def will_retry(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Dagster's own decision, as the run retry daemon will read it."""
    tag = run.tags.get(WILL_RETRY_TAG)
    if tag is not None:
        return tag == "true"
    # The tag is added just after the failure is stored: decide the same way meanwhile.
    return instance.run_retries_enabled and auto_reexecution_should_retry_run(instance, run,
                                                                               None)


def _run_group(instance: DagsterInstance, run: DagsterRun) -> list[DagsterRun]:
    group = instance.get_run_group(run.run_id)
    return list(group[1]) if group else [run]


def _already_answered(instance: DagsterInstance, runs: list[DagsterRun]) -> bool:
    """A run of the group published the completion, or a step answered the platform itself
    before failing (the load step's rejection of an unknown id: `aura/outcome_published`)."""
    for run in runs:
        for record in instance.all_logs(run.run_id, of_type={
                DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.STEP_FAILURE}):
            event = record.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                if event.asset_key == PUBLISH_ASSET:
                    return True
                continue
            user_failure = getattr(event.event_specific_data, "user_failure_data", None)
            metadata = getattr(user_failure, "metadata", None) or {}
            published = metadata.get(OUTCOME_PUBLISHED_KEY)
            if published is not None and getattr(published, "value", published) is True:
                return True
    return False


def failure_reason(instance: DagsterInstance, run: DagsterRun, run_message: str | None) -> str:
    """The failed steps and their errors, else the run's own failure message (a dead worker
    has no failed step)."""
    steps = []
    for record in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        data = event.event_specific_data if event else None
        error = getattr(data, "error", None)
        message = error.message.strip() if error is not None else record.user_message
        steps.append(f"{event.step_key if event else '?'}: {message}")
    retries = int(run.tags.get(RETRY_NUMBER_TAG, "0"))
    detail = "; ".join(steps) or (run_message or "the run failed")
    return f"run {run.run_id} failed after {retries} retr{'y' if retries == 1 else 'ies'}: " \
           f"{detail}"


@run_failure_sensor(
    name="publish_failed_outcome",
    monitored_jobs=[process_underwriting_job, resume_after_review_job],
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="A run that failed for good (no retry follows) publishes processing.completed "
                "with status 'failed' and the reason.",
)
def publish_failed_outcome(context: RunFailureSensorContext, store: StoreResource,
                           pubsub: PubSubResource) -> None:
    # Returns None on every path: a returned SkipReason would end the tick after one run.
    run = context.dagster_run
    underwriting_id = run.tags.get(PARTITION_TAG)
    if not underwriting_id:
        return
    # Read the run again from storage: the will-retry tag is added when the failure is stored.
    stored = context.instance.get_run_by_id(run.run_id) or run
    if will_retry(context.instance, stored):
        context.log.info(f"run {run.run_id} will be retried: its retry answers")
        return
    if stored.tags.get(REVIEW_REFUSED_TAG) is not None:
        # The gate refused to decide a case that was not its to decide: nothing changed,
        # and the case's own outcome stands (the run's failure says why, in the UI).
        context.log.info(f"run {run.run_id} changed nothing: {underwriting_id} keeps its "
                         "outcome")
        return
    runs = _run_group(context.instance, stored)
    if _already_answered(context.instance, runs):
        context.log.info(f"{underwriting_id} already has its outcome")
        return
    stores = store.open()
    row = stores.underwritings.get_underwriting(underwriting_id)
    if row is None:
        context.log.warning(f"run {run.run_id}: underwriting {underwriting_id} is not stored")
        return
    organization_id = row["organization_id"] or run.tags.get(ORGANIZATION_ID_TAG, "")
    reason = failure_reason(context.instance, stored, context.failure_event.message)
    event = failed_run_payload(stores, underwriting_id=underwriting_id,
                               organization_id=organization_id, run_id=run.run_id,
                               run_ids={r.run_id for r in runs}, reason=reason)
    # The same key the publish step uses: a run that published before it died answered.
    key = completion_key(stored.root_run_id or stored.run_id)
    if already_published(stores, key):
        context.log.info(f"{underwriting_id}: its run group already published")
        return
    # The run group's outcome, unless the case has one already (parked, or decided by a
    # later run): a stale failure never overwrites a final outcome.
    stores.underwritings.transition(underwriting_id, IN_FLIGHT_STATUSES, "failed")
    message_id, published = publish_once(
        stores, key,
        lambda: _publish(pubsub, ProcessingCompleted.model_validate(event)),
        organization_id=organization_id)
    if published:
        context.log.warning(f"{underwriting_id}: published processing.completed (failed) "
                            f"{message_id}: {reason}")


def _publish(pubsub: PubSubResource, event: ProcessingCompleted, attempts: int = 4) -> str:
    """A failed sensor evaluation moves on to the next run: retry the publish here."""
    for attempt in range(1, attempts + 1):
        try:
            return pubsub.publish_completed(event)
        except Exception:
            if attempt == attempts:
                raise
            time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")
