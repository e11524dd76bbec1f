"""A run that fails for good still publishes its outcome; one that will be retried does not.

The instance here has run retries on (max 1), like dagster.yaml: Dagster itself decides,
when it records a run's failure, whether a retry follows (the `dagster/will_retry` tag).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    ReexecutionOptions,
    build_run_status_sensor_context,
    execute_job,
    reconstructable,
)

from aura_dagster.sensors.run_outcome import publish_failed_outcome
from aura_dagster_tests.engine.conftest import QUIET, Engine

pytestmark = pytest.mark.faults


@pytest.fixture
def retrying_instance() -> Iterator[DagsterInstance]:
    with tempfile.TemporaryDirectory() as home, DagsterInstance.local_temp(
            home, overrides={"run_retries": {"enabled": True, "max_retries": 1}}) as instance:
        yield instance


def _evaluate(engine: Engine, instance: DagsterInstance, run_id: str) -> None:
    """What the daemon does with the failed run: evaluate the run-failure sensor on it."""
    run = instance.get_run_by_id(run_id)
    (failure,) = instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)
    resources = engine.defs_module.defs.resources
    context = build_run_status_sensor_context(
        sensor_name=publish_failed_outcome.name, dagster_instance=instance, dagster_run=run,
        dagster_event=failure.dagster_event,
        resources={"store": resources["store"], "pubsub": resources["pubsub"]},
    ).for_run_failure()
    publish_failed_outcome(context)


def _no_completion(engine: Engine, underwriting_id: str) -> bool:
    try:
        engine.completion_for(underwriting_id, timeout=3.0)
    except AssertionError:
        return True
    return False


def test_run_failed_for_good_publishes_failed_outcome_once(
        engine: Engine, retrying_instance: DagsterInstance) -> None:
    instance = retrying_instance
    org = engine.tenant({"p_tax_return": None, "p_test_crash": None})
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA",
                               [(engine.samples["tax_return.pdf"], "tax_return")])
    uid = spec.underwriting_id
    instance.add_dynamic_partitions("underwriting", [uid])
    job = reconstructable(engine.defs_module.process_job)
    engine.crash_flag.touch()
    try:
        first = execute_job(job, instance=instance, tags={"dagster/partition": uid},
                            raise_on_error=False, run_config=QUIET)
        assert not first.success
        assert instance.get_run_by_id(first.run_id).tags["dagster/will_retry"] == "true"
        _evaluate(engine, instance, first.run_id)
        # A retry follows: nothing is published yet and the case is not closed.
        assert _no_completion(engine, uid)

        # The retry (what the run-retry daemon launches) fails the same way: retries spent.
        retry = execute_job(
            job, instance=instance,
            reexecution_options=ReexecutionOptions.from_failure(first.run_id, instance),
            # The tags the run-retry daemon gives a retry (they define the run group).
            tags={"dagster/partition": uid, "dagster/retry_number": "1",
                  "dagster/parent_run_id": first.run_id, "dagster/root_run_id": first.run_id},
            raise_on_error=False, run_config=QUIET)
    finally:
        engine.crash_flag.unlink()
    assert not retry.success
    assert instance.get_run_by_id(retry.run_id).tags["dagster/will_retry"] == "false"

    _evaluate(engine, instance, retry.run_id)

    event = engine.completion_for(uid)
    assert event["status"] == "failed" and event["run_id"] == retry.run_id
    assert "p_test_crash" in event["reason"] and "worker crashed" in event["reason"]
    assert "after 1 retry" in event["reason"]
    assert [p["processor_id"] for p in event["completed_processors"]] == ["p_tax_return"]
    assert [p["processor_id"] for p in event["failed_processors"]] == ["p_test_crash"]
    assert engine.stores.underwritings.get_underwriting(uid)["status"] == "failed"

    # Evaluated again (a restarted daemon re-reading the run): not published twice.
    del engine.received[uid]
    _evaluate(engine, instance, retry.run_id)
    assert _no_completion(engine, uid)


def test_a_load_step_rejection_is_answered_once_and_not_retried(
        engine: Engine, retrying_instance: DagsterInstance) -> None:
    """A run for a partition with no underwriting (added by hand in the UI): the load step
    publishes the failed outcome itself; Dagster does not retry the run, and the run-failure
    sensor does not publish a second answer."""
    instance = retrying_instance
    phantom = engine.new_id()
    instance.add_dynamic_partitions("underwriting", [phantom])
    run = execute_job(reconstructable(engine.defs_module.process_job), instance=instance,
                      tags={"dagster/partition": phantom}, raise_on_error=False,
                      run_config=QUIET)
    assert not run.success
    stored = instance.get_run_by_id(run.run_id)
    assert stored.tags["dagster/will_retry"] == "false"  # retries are on, but not for this

    event = engine.completion_for(phantom)
    assert event["status"] == "failed" and "does not exist" in event["reason"]

    del engine.received[phantom]
    _evaluate(engine, instance, run.run_id)
    assert _no_completion(engine, phantom)
