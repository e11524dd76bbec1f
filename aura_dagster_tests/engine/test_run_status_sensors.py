"""Run status sensors on the real runs the engine makes: audit rows, notifications over a
real loopback SMTP server, closing the executions of failed and cancelled runs.

The daemon evaluates these sensors after a run reaches its status; here each test builds the
same context with `build_run_status_sensor_context` from the run's own status event.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    ReexecutionOptions,
    RunStatusSensorContext,
    SensorDefinition,
    build_run_status_sensor_context,
    execute_job,
    reconstructable,
)
from dagster_shared.serdes import serialize_value

from aura_dagster.resources.notifier import NotifierResource
from aura_dagster.sandbox import SandboxServer
from aura_dagster.sensors.run_status import (
    audit_run_failed,
    audit_run_succeeded,
    close_cancelled_runs,
)
from aura_dagster_tests.engine.conftest import NOTIFY_TO, QUIET, Engine
from aura_dagster_tests.resources.smtp_server import SmtpServer

_RUN_EVENT = {DagsterRunStatus.SUCCESS: DagsterEventType.RUN_SUCCESS,
              DagsterRunStatus.FAILURE: DagsterEventType.RUN_FAILURE,
              DagsterRunStatus.CANCELED: DagsterEventType.RUN_CANCELED}
_AUDITED_STEP_EVENTS = {DagsterEventType.STEP_START: "step_started",
                        DagsterEventType.STEP_SUCCESS: "step_succeeded",
                        DagsterEventType.STEP_FAILURE: "step_failed",
                        DagsterEventType.STEP_UP_FOR_RETRY: "step_retry_requested"}
SLOW_STEP = "underwriting_processing.run_opencorporates_processor[p_secretary_of_state]"
TAX_STEP = "underwriting_processing.run_local_processor[p_tax_return]"


def _sensor_context(engine: Engine, sensor: SensorDefinition, run_id: str,
                    **resources: object) -> RunStatusSensorContext:
    """What the daemon hands the sensor: the run and its run-status event."""
    run = engine.instance.get_run_by_id(run_id)
    assert run is not None
    status_events = engine.instance.all_logs(run_id, of_type=_RUN_EVENT[run.status])
    return build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=status_events[-1].dagster_event,
        dagster_instance=engine.instance, dagster_run=run,
        resources={**engine.defs_module.defs.resources, **resources})


def _expected_step_rows(engine: Engine, run_id: str) -> Counter:
    logs = engine.instance.all_logs(run_id, of_type=set(_AUDITED_STEP_EVENTS))
    return Counter((_AUDITED_STEP_EVENTS[e.dagster_event.event_type], e.step_key) for e in logs)


def _audit_rows(engine: Engine, run_id: str) -> tuple[Counter, list[dict]]:
    rows = engine.stores.audit.list_for_run(run_id)
    steps = Counter((r["event"], r["step_key"]) for r in rows if r["step_key"])
    return steps, [r for r in rows if not r["step_key"]]


def test_successful_run_writes_one_audit_row_per_step_event_and_emails_completion(
        engine: Engine, engine_smtp: SmtpServer) -> None:
    spec = engine.tax_return_case()
    outcome = engine.materialize(spec.underwriting_id)  # no organization tag: looked up
    assert outcome.success

    audit_run_succeeded(_sensor_context(engine, audit_run_succeeded, outcome.run_id))

    expected = _expected_step_rows(engine, outcome.run_id)
    steps, run_rows = _audit_rows(engine, outcome.run_id)
    assert steps == expected
    assert {event for event, _ in steps} == {"step_started", "step_succeeded"}
    # 4 steps: load, the tax-return processor, consolidate, review (matrix, gate, publish).
    assert ("step_succeeded", TAX_STEP) in steps and len(steps) == 8
    assert [r["event"] for r in run_rows] == ["pipeline_completed", "run_succeeded"]
    completed, run_row = run_rows
    cost = engine.executions(spec.underwriting_id)[0]["run_cost_cents"]
    assert cost is not None
    assert run_row["detail"]["job"] == "process_underwriting"
    assert run_row["detail"]["status"] == "SUCCESS" and run_row["detail"]["cost_cents"] == cost
    assert completed["detail"]["status"] == "completed"
    assert completed["detail"]["cost_cents"] == cost and completed["detail"]["duration_s"] > 0
    # The daemon may evaluate a tick again: the entries are keyed, nothing is duplicated.
    audit_run_succeeded(_sensor_context(engine, audit_run_succeeded, outcome.run_id))
    assert len(engine.stores.audit.list_for_run(outcome.run_id)) == sum(expected.values()) + 2
    rows = engine.stores.audit.list_for_run(outcome.run_id)
    assert {(r["organization_id"], r["underwriting_id"]) for r in rows} == {
        (spec.organization_id, spec.underwriting_id)}

    # The run itself sent the completion notice (processing_completed) to AURA_NOTIFY_TO.
    mail = engine_smtp.wait_for(f"Processing completed: {spec.underwriting_id}")
    assert mail.rcpt_to == (NOTIFY_TO,) and mail.message["To"] == NOTIFY_TO
    assert '"completed_count": 1' in mail.body
    assert not engine_smtp.with_subject(f"Review needed: {spec.underwriting_id}")


def test_failed_run_marks_the_underwriting_failed_audits_and_emails(
        engine: Engine, engine_smtp: SmtpServer) -> None:
    org = engine.tenant({"p_tax_return": None, "p_test_crash": None})
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA",
                               [(engine.samples["tax_return.pdf"], "tax_return")])
    engine.crash_flag.touch()
    try:
        outcome = engine.materialize(spec.underwriting_id)
    finally:
        engine.crash_flag.unlink()
    assert not outcome.success
    oncall = NotifierResource(smtp_host=engine_smtp.host, smtp_port=engine_smtp.port,
                              sender="aura@lender.test", recipients="oncall@lender.test")

    audit_run_failed(_sensor_context(engine, audit_run_failed, outcome.run_id,
                                     notifier=oncall))

    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "failed"
    # The crashed op closed its own execution; the finished one is left alone.
    statuses = {r["processor"]: (r["status"], r["failed_code"])
                for r in engine.executions(spec.underwriting_id)}
    assert statuses == {"p_tax_return": ("completed", None),
                        "p_test_crash": ("failed", "CRASHED")}
    steps, run_rows = _audit_rows(engine, outcome.run_id)
    assert steps == _expected_step_rows(engine, outcome.run_id)
    assert steps[("step_failed", "underwriting_processing.run_local_processor[p_test_crash]")] \
        == 1
    assert [r["event"] for r in run_rows] == ["run_failed"]
    mail = engine_smtp.wait_for(f"Processing failed: {spec.underwriting_id}")
    assert mail.rcpt_to == ("oncall@lender.test",) and mail.mail_from == "aura@lender.test"
    assert outcome.run_id in mail.body and "0 unfinished execution(s) closed" in mail.body
    assert "p_test_crash" in mail.body  # the run's failure message names the failed step


def test_failed_run_of_an_unknown_underwriting_is_audited_and_a_dead_smtp_is_harmless(
        engine: Engine) -> None:
    org = engine.tenant({"p_tax_return": None})
    missing = engine.new_id("uw_missing")
    engine.instance.add_dynamic_partitions("underwriting", [missing])
    outcome = engine.execute({"dagster/partition": missing, "aura/organization_id": org})
    assert not outcome.success
    with SmtpServer() as smtp:  # a server that was there, and is gone when the run fails
        port = smtp.port
    dead = NotifierResource(smtp_host="127.0.0.1", smtp_port=port, recipients="ops@x.test",
                            timeout_seconds=1.0)

    audit_run_failed(_sensor_context(engine, audit_run_failed, outcome.run_id, notifier=dead))

    assert engine.stores.underwritings.get_underwriting(missing) is None  # not created
    steps, run_rows = _audit_rows(engine, outcome.run_id)
    assert steps == Counter({("step_started", "underwriting_processing.load_underwriting"): 1,
                             ("intake_rejected", "underwriting_processing.load_underwriting"): 1,
                             ("step_failed", "underwriting_processing.load_underwriting"): 1})
    assert [(r["event"], r["organization_id"]) for r in run_rows] == [("run_failed", org)]


def test_review_gate_emails_review_needed_and_holds_the_completion_notice(
        engine: Engine, engine_smtp: SmtpServer) -> None:
    org = engine.tenant({"p_bank_statement": None})
    spec = engine.underwriting(org, "Golden Gate Dry Cleaners Inc", "CA", [
        (engine.samples[f"harbor_cu_2024-0{m}.pdf"], "bank_statement") for m in (1, 2, 3)])

    outcome = engine.materialize(spec.underwriting_id)

    assert outcome.success
    mail = engine_smtp.wait_for(f"Review needed: {spec.underwriting_id}")
    assert mail.rcpt_to == (NOTIFY_TO,)
    assert "statements_reconcile" in mail.body
    assert not engine_smtp.with_subject(f"Processing completed: {spec.underwriting_id}")


@contextmanager
def _run_worker(engine: Engine, partition: str, sandbox_url: str) -> Iterator[subprocess.Popen]:
    """The run in a process of its own, as a run launcher starts it."""
    root = Path(__file__).resolve().parents[2]
    worker = subprocess.Popen(
        [sys.executable, "-m", "aura_dagster_tests.engine.run_worker",
         serialize_value(engine.instance.get_ref()), partition],
        env={**os.environ, "AURA_SANDBOX_URL": sandbox_url}, cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)


def _wait_for_executions(engine: Engine, underwriting_id: str, wanted: dict[str, str],
                         worker: subprocess.Popen, timeout: float = 30.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = {r["processor"]: r for r in engine.executions(underwriting_id)}
        if all(p in rows and rows[p]["status"] == s for p, s in wanted.items()):
            return rows
        if worker.poll() is not None or time.monotonic() > deadline:
            _, err = worker.communicate()
            raise AssertionError(f"executions never reached {wanted}: "
                                 f"{ {p: r['status'] for p, r in rows.items()} }\n{err[-3000:]}")
        time.sleep(0.05)


def test_cancelled_run_has_its_running_execution_cancelled_and_reexecution_resumes(
        engine: Engine) -> None:
    """A real run is cancelled while a processor waits on a vendor, the way the UI does it.

    The run executes in its own process (`run_worker`, what the run launcher starts) against
    a sandbox whose slow business answers only after a minute. Once the secretary-of-state
    execution is `running` (and the tax return `completed`), the test terminates the run as
    the UI does: the run is marked CANCELING and the worker gets SIGINT. The async executor
    only acts on that interrupt when its in-flight step returns, so the run stays CANCELING
    while the vendor hangs; the operator then force-terminates it, which marks the run
    CANCELED; the worker process is killed (a hung worker would otherwise wait out the
    vendor). The execution is left `running` in PostgreSQL -- exactly what
    `close_cancelled_runs` is for. Then *Re-execute from failure* resumes the run: only the
    cancelled processor (and what follows it) runs again, against the normal sandbox.
    """
    org = engine.tenant({"p_tax_return": None,
                         "p_secretary_of_state": {"timeout_seconds": 60, "max_attempts": 1,
                                                  "request_timeout_seconds": 60}})
    spec = engine.underwriting(org, "Slowpoke Trading Co", "CA",
                               [(engine.samples["tax_return.pdf"], "tax_return")])
    engine.instance.add_dynamic_partitions("underwriting", [spec.underwriting_id])

    with SandboxServer(slow_seconds=60) as hanging_vendor, \
            _run_worker(engine, spec.underwriting_id, hanging_vendor.base_url) as worker:
        rows = _wait_for_executions(engine, spec.underwriting_id,
                                    {"p_secretary_of_state": "running",
                                     "p_tax_return": "completed"}, worker)
        run_id = rows["p_secretary_of_state"]["run_id"]
        run = engine.instance.get_run_by_id(run_id)
        engine.instance.report_run_canceling(run)  # UI "Terminate"
        worker.send_signal(signal.SIGINT)
        time.sleep(0.5)
        engine.instance.report_run_canceled(engine.instance.get_run_by_id(run_id))  # forced
        worker.kill()
        worker.wait(timeout=10)

    assert engine.instance.get_run_by_id(run_id).status is DagsterRunStatus.CANCELED
    stuck = engine.executions(spec.underwriting_id, "p_secretary_of_state")
    assert [r["status"] for r in stuck] == ["running"]

    result = close_cancelled_runs(_sensor_context(engine, close_cancelled_runs, run_id))

    assert result is None  # not a SkipReason: there was something to close
    (cancelled,) = engine.executions(spec.underwriting_id, "p_secretary_of_state")
    assert (cancelled["status"], cancelled["failed_code"], cancelled["failed_reason"]) == (
        "cancelled", "CANCELLED", "run cancelled")
    assert cancelled["completed_at"] is not None
    (tax,) = engine.executions(spec.underwriting_id, "p_tax_return")
    assert tax["status"] == "completed"
    steps, run_rows = _audit_rows(engine, run_id)
    assert [(r["event"], r["organization_id"]) for r in run_rows] == [("run_cancelled", org)]
    assert steps[("step_started", SLOW_STEP)] == 1 and ("step_succeeded", SLOW_STEP) not in steps
    assert steps[("step_succeeded", TAX_STEP)] == 1
    # The daemon evaluates it once per run; a second look finds nothing left to close.
    again = close_cancelled_runs(_sensor_context(engine, close_cancelled_runs, run_id))
    assert "no unfinished executions" in again.skip_message

    resumed = execute_job(
        reconstructable(engine.defs_module.process_job), instance=engine.instance,
        reexecution_options=ReexecutionOptions.from_failure(run_id, engine.instance),
        tags={"dagster/partition": spec.underwriting_id}, raise_on_error=False,
        run_config=QUIET)

    assert resumed.success
    started = {e.step_key for e in engine.instance.all_logs(
        resumed.run_id, of_type=DagsterEventType.STEP_START)}
    assert SLOW_STEP in started
    assert TAX_STEP not in started and "underwriting_processing.load_underwriting" not in started
    assert len(engine.executions(spec.underwriting_id, "p_tax_return")) == 1
    secretary = sorted(engine.executions(spec.underwriting_id, "p_secretary_of_state"),
                       key=lambda r: r["created_at"])
    assert [(r["status"], r["run_id"]) for r in secretary] == [
        ("cancelled", run_id), ("completed", resumed.run_id)]
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "completed"


def test_run_whose_worker_died_has_its_running_execution_closed_as_failed(
        engine: Engine, engine_smtp: SmtpServer) -> None:
    """The run worker is killed (SIGKILL: out of memory, a lost node) while a processor waits
    on a vendor; run monitoring then marks the run FAILURE, as it does for a dead worker.
    `audit_run_failed` must close the execution left `running` and say so in the email."""
    org = engine.tenant({"p_secretary_of_state": {"timeout_seconds": 60, "max_attempts": 1,
                                                  "request_timeout_seconds": 60}})
    spec = engine.underwriting(org, "Slowpoke Trading Co", "CA", [])
    engine.instance.add_dynamic_partitions("underwriting", [spec.underwriting_id])

    with SandboxServer(slow_seconds=60) as hanging_vendor, \
            _run_worker(engine, spec.underwriting_id, hanging_vendor.base_url) as worker:
        rows = _wait_for_executions(engine, spec.underwriting_id,
                                    {"p_secretary_of_state": "running"}, worker)
        worker.kill()
        worker.wait(timeout=10)
    run_id = rows["p_secretary_of_state"]["run_id"]
    engine.instance.report_run_failed(engine.instance.get_run_by_id(run_id),
                                      message="Run worker exited unexpectedly")

    audit_run_failed(_sensor_context(engine, audit_run_failed, run_id))

    (closed,) = engine.executions(spec.underwriting_id, "p_secretary_of_state")
    assert (closed["status"], closed["failed_code"], closed["failed_reason"]) == (
        "cancelled", "CANCELLED", "run failed")
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "failed"
    steps, run_rows = _audit_rows(engine, run_id)
    assert steps[("step_started", SLOW_STEP)] == 1
    assert [r["event"] for r in run_rows] == ["run_failed"]
    mail = engine_smtp.wait_for(f"Processing failed: {spec.underwriting_id}")
    assert mail.rcpt_to == (NOTIFY_TO,)
    assert "1 unfinished execution(s) closed" in mail.body
    assert "Run worker exited unexpectedly" in mail.body
