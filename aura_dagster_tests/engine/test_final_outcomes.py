"""A case's final outcome changes only through a new, accepted processing of that case.

A re-sent or forged `underwriting.created` gets its answer (a failed `processing.completed`)
but leaves a completed case completed: its status, `completed_at`, reason and factors. The
same holds on every path that writes a status: the sensor, the load step, the run-failure
sensors and the review gate.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from dagster import DagsterEventType, build_run_status_sensor_context

from aura_dagster.sensors.run_outcome import publish_failed_outcome
from aura_dagster.sensors.run_status import audit_run_failed
from aura_dagster.services.seeding import UnderwritingSpec
from aura_dagster_tests.engine.conftest import Engine

pytestmark = pytest.mark.faults

_KEPT = ("status", "completed_at", "review_reason", "review_decision", "reviewed_by")


def _completed_case(engine: Engine) -> tuple[UnderwritingSpec, dict[str, Any], Any]:
    spec = engine.tax_return_case()
    assert engine.process_event(spec).success
    engine.completion_for(spec.underwriting_id)
    del engine.received[spec.underwriting_id]
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "completed" and row["completed_at"] is not None
    return spec, row, engine.stores.factors.get_factor_map(spec.underwriting_id)


def _assert_unchanged(engine: Engine, spec: UnderwritingSpec, row: dict[str, Any],
                      factors: Any) -> None:
    now = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert {k: now[k] for k in _KEPT} == {k: row[k] for k in _KEPT}
    assert engine.stores.factors.get_factor_map(spec.underwriting_id) == factors


def _run_failure_sensors(engine: Engine, run_id: str) -> None:
    """What the daemon does with a failed run: both run-failure sensors evaluate it."""
    run = engine.instance.get_run_by_id(run_id)
    (failure,) = engine.instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)
    resources = engine.defs_module.defs.resources
    for sensor, needs in ((publish_failed_outcome, ("store", "pubsub")),
                          (audit_run_failed, ("store", "notifier"))):
        context = build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_instance=engine.instance, dagster_run=run,
            dagster_event=failure.dagster_event,
            resources={name: resources[name] for name in needs})
        sensor(context.for_run_failure() if sensor is publish_failed_outcome else context)


def test_a_resent_event_naming_a_gone_document_leaves_a_completed_case_completed(
        engine: Engine) -> None:
    spec, row, factors = _completed_case(engine)

    engine.publish(spec, document_ids=[spec.documents[0].document_id, "doc_gone"])
    engine.tick()
    engine.tick()

    answer = engine.completion_for(spec.underwriting_id)
    assert answer["status"] == "failed" and "doc_gone" in answer["reason"]
    _assert_unchanged(engine, spec, row, factors)


def test_a_run_naming_a_gone_document_leaves_a_completed_case_completed(
        engine: Engine) -> None:
    """The run path (a run from the UI, or one the sensor could not vet): the load step
    answers, and neither run-failure sensor touches the case."""
    spec, row, factors = _completed_case(engine)

    outcome = engine.execute({"dagster/partition": spec.underwriting_id,
                              "aura/document_ids": json.dumps(["doc_gone"])})
    assert not outcome.success
    _run_failure_sensors(engine, outcome.run_id)

    assert engine.completion_for(spec.underwriting_id)["status"] == "failed"
    _assert_unchanged(engine, spec, row, factors)


def test_another_tenants_event_and_run_leave_a_completed_case_completed(
        engine: Engine) -> None:
    spec, row, factors = _completed_case(engine)
    other = engine.tenant({"p_tax_return": None})

    engine.pubsub.publish(engine.pubsub.underwriting_created_topic, {
        "event": "underwriting.created",
        "data": {"underwriting_id": spec.underwriting_id, "organization_id": other,
                 "documents": []}}, {"event": "underwriting.created"})
    engine.tick()
    engine.tick()
    outcome = engine.execute({"dagster/partition": spec.underwriting_id,
                              "aura/organization_id": other})
    assert not outcome.success
    _run_failure_sensors(engine, outcome.run_id)

    _assert_unchanged(engine, spec, row, factors)


def test_the_review_gate_does_not_redecide_a_final_case(engine: Engine) -> None:
    """The gate alone (resume_after_review without a decision) on a completed case: refused
    with the reason, nothing re-published, the outcome kept."""
    spec, row, factors = _completed_case(engine)

    outcome = engine.review(spec.underwriting_id, raise_on_error=False)

    assert not outcome.success
    failures = engine.instance.all_logs(outcome.run_id, of_type=DagsterEventType.STEP_FAILURE)
    assert "completed" in failures[0].dagster_event.event_specific_data.error.message
    _run_failure_sensors(engine, outcome.run_id)
    _assert_unchanged(engine, spec, row, factors)
    with pytest.raises(AssertionError):
        engine.completion_for(spec.underwriting_id, timeout=3.0)


def test_a_failed_run_of_a_case_being_processed_still_fails_it(engine: Engine) -> None:
    """The guard keeps final outcomes; it does not keep a case in flight from failing."""
    spec = engine.tax_return_case()
    engine.stores.underwritings.set_status(spec.underwriting_id, "processing")
    engine.instance.add_dynamic_partitions("underwriting", [spec.underwriting_id])
    outcome = engine.execute({"dagster/partition": spec.underwriting_id,
                              "aura/document_ids": json.dumps(["doc_gone"])})
    assert not outcome.success
    _run_failure_sensors(engine, outcome.run_id)
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] \
        == "failed"
