"""The operator's paths on the asset side: approve / reject a parked case from the launchpad,
the parked case visible as a failed WARN check, pipeline options, failed processors visible,
and a partial *Materialize* that still finishes the case."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterRunStatus,
    JobExecutionResult,
    ReexecutionOptions,
    RunRequest,
    build_run_status_sensor_context,
    execute_job,
    reconstructable,
)
from dagster._core.definitions.reconstruct import ReconstructableRepository

from aura_dagster.sensors.run_status import audit_run_failed, audit_run_succeeded
from aura_dagster.services.seeding import UnderwritingSpec
from aura_dagster_tests.engine.conftest import QUIET, Engine
from aura_dagster_tests.resources.smtp_server import SmtpServer


def _parked_case(engine: Engine, **tags: str) -> tuple[UnderwritingSpec, JobExecutionResult]:
    """Harbor CU statements do not reconcile: the gate parks the case."""
    org = engine.tenant({"p_bank_statement": None})
    spec = engine.underwriting(org, "Golden Gate Dry Cleaners Inc", "CA", [
        (engine.samples[f"harbor_cu_2024-0{m}.pdf"], "bank_statement") for m in (1, 2, 3)])
    engine.instance.add_dynamic_partitions("underwriting", [spec.underwriting_id])
    return spec, engine.execute({"dagster/partition": spec.underwriting_id, **tags})


def _review(engine: Engine, underwriting_id: str, **config: Any) -> JobExecutionResult:
    """What the launchpad of `resume_after_review` (and the CLI) launches."""
    return engine.review(underwriting_id, raise_on_error=False, **config)


def _check(engine: Engine, run_id: str, name: str) -> Any:
    (evaluation,) = [e.dagster_event.event_specific_data for e in engine.instance.all_logs(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.asset_check_key.name == name]
    return evaluation


def _materialized(engine: Engine, run_id: str, asset: str) -> dict[str, Any]:
    (event,) = [e.dagster_event.event_specific_data.materialization for e in
                engine.instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
                if e.dagster_event.event_specific_data.materialization.asset_key
                == AssetKey(asset)]
    return {k: v.value for k, v in event.metadata.items()}


def _sensor_context(engine: Engine, sensor: Any, run_id: str) -> Any:
    run = engine.instance.get_run_by_id(run_id)
    kind = {DagsterRunStatus.SUCCESS: DagsterEventType.RUN_SUCCESS,
            DagsterRunStatus.FAILURE: DagsterEventType.RUN_FAILURE}[run.status]
    status_event = engine.instance.all_logs(run_id, of_type=kind)[-1].dagster_event
    return build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=status_event, dagster_instance=engine.instance,
        dagster_run=run, resources=engine.defs_module.defs.resources)


def _completion(engine: Engine, underwriting_id: str) -> dict[str, Any]:
    return engine.completion_for(underwriting_id)


def test_parked_case_shows_a_warning_check_and_a_reject_publishes_rejected(
        engine: Engine, engine_smtp: SmtpServer) -> None:
    spec, parked = _parked_case(engine)
    assert parked.success
    # Parked is visible: the review asset says so and its check does not pass (WARN).
    assert _materialized(engine, parked.run_id, "underwriting_review")["status"] == \
        "awaiting_review"
    cleared = _check(engine, parked.run_id, "review_cleared")
    assert not cleared.passed and cleared.severity.value == "WARN"
    assert engine_smtp.wait_for(f"Review needed: {spec.underwriting_id}")

    rejected = _review(engine, spec.underwriting_id, decision="reject", reviewer="carol",
                       note="statements look altered")

    assert rejected.success
    event = _completion(engine, spec.underwriting_id)
    assert (event["status"], event["reason"]) == ("rejected", "statements look altered")
    assert event["run_id"] == rejected.run_id
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert (row["status"], row["reviewed_by"], row["review_decision"], row["review_note"]) == (
        "rejected", "carol", "reject", "statements look altered")
    assert row["reviewed_at"] is not None
    tags = engine.instance.get_run_by_id(rejected.run_id).tags
    assert (tags["aura/reviewer"], tags["aura/review_decision"]) == ("carol", "reject")
    assert tags["aura/organization_id"] == row["organization_id"]
    assert _check(engine, rejected.run_id, "review_cleared").passed
    assert _materialized(engine, rejected.run_id, "underwriting_review")["status"] == "rejected"
    mail = engine_smtp.wait_for(f"Processing rejected: {spec.underwriting_id}")
    assert "statements look altered" in mail.body

    audit_run_succeeded(_sensor_context(engine, audit_run_succeeded, rejected.run_id))
    audit_run_succeeded(_sensor_context(engine, audit_run_succeeded, parked.run_id))
    events = {r["event"]: r for r in engine.stores.audit.list_for_underwriting(
        spec.underwriting_id, row["organization_id"])}
    assert events["review_rejected"]["detail"] == {"reviewer": "carol",
                                                   "note": "statements look altered"}
    assert events["review_needed"]["run_id"] == parked.run_id
    assert "statements_reconcile" in json.dumps(events["review_needed"]["detail"])
    assert events["pipeline_completed"]["detail"]["status"] == "rejected"

    # A decided case takes no second decision.
    again = _review(engine, spec.underwriting_id, decision="approve", reviewer="dave")
    assert not again.success
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "rejected"


def test_approval_refuses_a_case_that_is_still_processing(engine: Engine) -> None:
    spec = engine.tax_return_case()
    assert engine.materialize(spec.underwriting_id).success
    engine.stores.underwritings.set_status(spec.underwriting_id, "processing")  # a run in flight

    outcome = _review(engine, spec.underwriting_id, decision="approve", reviewer="alice")

    assert not outcome.success
    (failure,) = engine.instance.all_logs(outcome.run_id, of_type=DagsterEventType.STEP_FAILURE)
    message = failure.dagster_event.event_specific_data.error_display_string
    assert "is processing, not awaiting review" in message
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert (row["status"], row["reviewed_by"]) == ("processing", None)
    # The failed review run does not fail the case that another run is working on.
    audit_run_failed(_sensor_context(engine, audit_run_failed, outcome.run_id))
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "processing"


def test_approve_records_the_reviewer_and_the_deprecated_approved_by_still_works(
        engine: Engine) -> None:
    spec, parked = _parked_case(engine)
    assert parked.success
    approved = _review(engine, spec.underwriting_id, approved_by="erin")
    assert approved.success
    assert _completion(engine, spec.underwriting_id)["status"] == "completed"
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert (row["status"], row["reviewed_by"], row["review_decision"]) == (
        "completed", "erin", "approve")
    tags = engine.instance.get_run_by_id(approved.run_id).tags
    assert (tags["aura/reviewer"], tags["aura/review_decision"]) == ("erin", "approve")


def test_an_approval_whose_publish_failed_is_not_lost(engine: Engine) -> None:
    """Review and publish are one step: when publishing fails after the decision was
    recorded, the step's retries and a re-execution from failure publish the same decision
    instead of refusing it as "not awaiting review"."""
    spec, parked = _parked_case(engine)
    assert parked.success
    decision = {"decision": "approve", "reviewer": "frank"}
    # A topic the emulator does not have: every publish attempt fails for real.
    broken = execute_job(
        reconstructable(engine.defs_module.resume_job), instance=engine.instance,
        tags={"dagster/partition": spec.underwriting_id}, raise_on_error=False,
        run_config={"ops": {"underwriting_review": {"config": decision}},
                    "resources": {"pubsub": {"config": {
                        **{k: v for k, v in engine.pubsub.model_dump().items()
                           if v is not None}, "completed_topic": "no-such-topic"}}},
                    **QUIET})
    assert not broken.success
    retries = engine.instance.all_logs(broken.run_id,
                                       of_type=DagsterEventType.STEP_UP_FOR_RETRY)
    assert retries  # the step's retries got as far as publishing again
    failure = engine.instance.all_logs(broken.run_id, of_type=DagsterEventType.STEP_FAILURE)
    assert "not awaiting review" not in failure[-1].dagster_event.event_specific_data \
        .error_display_string
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert (row["status"], row["review_decision"], row["reviewed_by"]) == (
        "processing", "approve", "frank")

    resumed = execute_job(
        reconstructable(engine.defs_module.resume_job), instance=engine.instance,
        tags={"dagster/partition": spec.underwriting_id}, raise_on_error=False,
        reexecution_options=ReexecutionOptions.from_failure(broken.run_id, engine.instance),
        run_config={"ops": {"underwriting_review": {"config": decision}}, **QUIET})

    assert resumed.success
    assert _completion(engine, spec.underwriting_id)["status"] == "completed"
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "completed"
    # A decided and published case still takes no further decision, re-executed or not.
    again = _review(engine, spec.underwriting_id, decision="reject", reviewer="frank")
    assert not again.success


def test_pipeline_options_from_run_config_and_from_backfill_tags(
        engine: Engine, engine_smtp: SmtpServer) -> None:
    # Backfill path: tags. notify_on_review=false parks without an e-mail.
    quiet, parked = _parked_case(engine, **{"aura/option/notify_on_review": "false"})
    assert parked.success
    assert engine.stores.underwritings.get_underwriting(quiet.underwriting_id)["status"] == \
        "awaiting_review"
    assert not engine_smtp.with_subject(f"Review needed: {quiet.underwriting_id}")
    executions = len(engine.executions(quiet.underwriting_id))

    # start_from=review with skip_validation (run config): no processor runs again and the
    # failed reconcile check no longer parks; the statement's own low confidence (it does not
    # reconcile, so the processor is not confident: issue 7) still does.
    redo = execute_job(reconstructable(engine.defs_module.process_job), instance=engine.instance,
                       tags={"dagster/partition": quiet.underwriting_id}, run_config={
                           **QUIET, "resources": {"pipeline_options": {"config": {
                               "start_from": "review", "skip_validation": True}}}})
    assert redo.success
    assert len(engine.executions(quiet.underwriting_id)) == executions
    review = _materialized(engine, redo.run_id, "underwriting_review")
    assert review["options"] == {"start_from": "review", "skip_validation": True}
    assert review["status"] == "awaiting_review"
    assert review["reasons"] and not [r for r in review["reasons"] if r.startswith("check ")]
    assert any("p_bank_statement confidence" in r for r in review["reasons"])

    # ... and with skip_review as well (run config) the case completes without a person.
    done = execute_job(reconstructable(engine.defs_module.process_job), instance=engine.instance,
                       tags={"dagster/partition": quiet.underwriting_id}, run_config={
                           **QUIET, "resources": {"pipeline_options": {"config": {
                               "start_from": "review", "skip_review": True}}}})
    assert done.success
    assert len(engine.executions(quiet.underwriting_id)) == executions
    assert _completion(engine, quiet.underwriting_id)["status"] == "completed"

    # skip_review as a tag; force_reprocess runs the processor again despite the same payload.
    forced = engine.execute({"dagster/partition": quiet.underwriting_id,
                             "aura/option/skip_review": "true",
                             "aura/option/force_reprocess": "true"})
    assert forced.success
    assert len(engine.executions(quiet.underwriting_id)) == executions + 1
    assert _materialized(engine, forced.run_id, "underwriting_review")["status"] == \
        "auto_approved"

    # A bad tag value fails the run with the reason.
    spec = engine.underwriting(engine.tenant({"p_tax_return": None}), "Sunrise Bakery LLC",
                               "CA", [])
    strict = engine.execute({"dagster/partition": spec.underwriting_id,
                             "aura/option/skip_review": "maybe"})
    assert not strict.success
    failure = engine.instance.all_logs(strict.run_id, of_type=DagsterEventType.STEP_FAILURE)[0]
    assert "aura/option/skip_review='maybe'" in \
        failure.dagster_event.event_specific_data.error_display_string


def test_failed_and_timed_out_processors_warn_and_are_tagged(engine: Engine, tmp_path) -> None:
    from fpdf import FPDF

    bad_license = engine.documents_root / f"bad_license_{tmp_path.name}.pdf"
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="DRIVER LICENSE  (scan unreadable)")
    pdf.output(str(bad_license))
    org = engine.tenant({"p_tax_return": None, "p_drivers_license": None})
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA", [
        (engine.samples["tax_return.pdf"], "tax_return"), (bad_license, "drivers_license")])

    outcome = engine.materialize(spec.underwriting_id)

    assert outcome.success  # a processor's failure is a result, not a failed run ...
    check = _check(engine, outcome.run_id, "processors_succeeded")
    assert not check.passed and check.severity.value == "WARN"  # ... but it shows
    assert check.metadata["failed"].value == ["p_drivers_license"]
    assert engine.instance.get_run_by_id(outcome.run_id).tags["aura/failed_processors"] == \
        "p_drivers_license:failed"


def test_materializing_one_asset_from_the_ui_still_finishes_the_case(engine: Engine) -> None:
    """*Materialize* on processor_executions runs `__ASSET_JOB` for that asset alone: the run
    gets the aura/* tags, and finish_partial_runs decides and publishes right after."""
    from aura_dagster.sensors.run_status import finish_partial_runs

    spec = engine.tax_return_case()
    engine.instance.add_dynamic_partitions("underwriting", [spec.underwriting_id])

    ui_job = ReconstructableRepository.for_module(
        "aura_dagster_tests.engine.engine_definitions", "defs").get_reconstructable_job(
        "__ASSET_JOB")
    partial = execute_job(ui_job, instance=engine.instance, raise_on_error=False, run_config=QUIET,
                          tags={"dagster/partition": spec.underwriting_id},
                          asset_selection=[AssetKey("processor_executions"),
                                           AssetKey("underwriting_factors")])

    assert partial.success
    tags = engine.instance.get_run_by_id(partial.run_id).tags
    assert (tags["aura/organization_id"], tags["aura/underwriting_id"]) == (
        spec.organization_id, spec.underwriting_id)
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "processing"

    request = finish_partial_runs(_sensor_context(engine, finish_partial_runs, partial.run_id))

    assert isinstance(request, RunRequest) and request.partition_key == spec.underwriting_id
    finished = execute_job(reconstructable(engine.defs_module.resume_job),
                           instance=engine.instance, run_config=QUIET,
                           tags={**request.tags, "dagster/partition": request.partition_key})
    assert finished.success
    assert _completion(engine, spec.underwriting_id)["status"] == "completed"
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "completed"
    again = finish_partial_runs(_sensor_context(engine, finish_partial_runs, finished.run_id))
    assert not isinstance(again, RunRequest)


def _materialized_keys(engine: Engine, run_id: str) -> set[str]:
    return {e.dagster_event.asset_key.to_user_string() for e in engine.instance.all_logs(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}


def _step_keys(engine: Engine, run_id: str) -> list[str]:
    return [e.dagster_event.step_key for e in engine.instance.all_logs(
        run_id, of_type=DagsterEventType.STEP_START)]


def test_the_factor_matrix_is_written_by_the_review_step_and_alone_changes_nothing_else(
        engine: Engine) -> None:
    """The matrix is an output of the review step (one step fewer per run), written before
    the gate publishes. Materialized alone (UI, or a backfill after a factor-dictionary
    change) it neither re-decides the gate nor publishes again; the resume job leaves it."""
    spec = engine.tax_return_case()
    full = engine.materialize(spec.underwriting_id)
    assert full.success
    assert {"underwriting_factor_matrix", "underwriting_review",
            "processing_completed"} <= _materialized_keys(engine, full.run_id)
    assert "underwriting_factor_matrix" not in _step_keys(engine, full.run_id)
    assert _completion(engine, spec.underwriting_id)["status"] == "completed"
    case_before = engine.stores.underwritings.get_underwriting(spec.underwriting_id)

    ui_job = ReconstructableRepository.for_module(
        "aura_dagster_tests.engine.engine_definitions", "defs").get_reconstructable_job(
        "__ASSET_JOB")
    matrix_only = execute_job(ui_job, instance=engine.instance, raise_on_error=False,
                              run_config=QUIET, tags={"dagster/partition": spec.underwriting_id},
                              asset_selection=[AssetKey("underwriting_factor_matrix")])
    assert matrix_only.success
    assert _step_keys(engine, matrix_only.run_id) == ["underwriting_review"]
    assert _materialized_keys(engine, matrix_only.run_id) == {"underwriting_factor_matrix"}
    assert _materialized(engine, matrix_only.run_id, "underwriting_factor_matrix")[
        "factor_columns_filled"] > 0
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id) == case_before
    engine.received.pop(spec.underwriting_id)
    with pytest.raises(AssertionError, match="no processing.completed"):
        engine.completion_for(spec.underwriting_id, timeout=3.0)  # nothing published again

    publish_alone = execute_job(ui_job, instance=engine.instance, raise_on_error=False,
                                run_config=QUIET,
                                tags={"dagster/partition": spec.underwriting_id},
                                asset_selection=[AssetKey("processing_completed")])
    assert not publish_alone.success  # the gate publishes: a clear failure, nothing changed
    failure = next(e for e in engine.instance.all_logs(
        publish_alone.run_id, of_type=DagsterEventType.STEP_FAILURE))
    assert "select underwriting_review with it" in failure.dagster_event.step_failure_data \
        .user_failure_data.description
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id) == case_before
