"""Progress and ETA arithmetic (services/progress.py): plain Python, no Dagster."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from aura_dagster.services.progress import (
    CaseOutcome,
    StepRecord,
    compute_batch,
    compute_progress,
    phase_of,
    processor_outcomes,
    typical_phase_seconds,
)

P = "underwriting_processing."


def _finished_run(t0: float, load: float, processors: list[float], tail: float) -> list[StepRecord]:
    """A finished run: load (and plan), processors side by side, consolidate, review."""
    steps = [StepRecord(P + "load_underwriting", "succeeded", t0, t0 + load)]
    start = t0 + load
    steps += [StepRecord(f"{P}run_local_processor[p_{n}]", "succeeded", start, start + d)
              for n, d in enumerate(processors)]
    end = start + max(processors)
    for name in ("consolidate_underwriting", "underwriting_review"):
        key = P + name if name == "consolidate_underwriting" else name
        steps.append(StepRecord(key, "succeeded", end, end + tail))
        end += tail
    return steps


def test_steps_map_to_phases_in_pipeline_order() -> None:
    assert phase_of(P + "run_opencorporates_processor[p_secretary_of_state]") == "processors"
    assert phase_of(P + "load_underwriting") == "load"
    assert phase_of("underwriting_review") == "review"
    # Steps of runs made before load/plan, checks and review/publish were merged.
    assert phase_of(P + "plan_underwriting_processors") == "load"
    assert phase_of("underwriting_factors_statements_reconcile") == "consolidate"
    assert phase_of("processing_completed") == "review"
    assert phase_of("something_else") is None


def test_typical_phase_seconds_take_wall_time_of_concurrent_steps() -> None:
    history = [_finished_run(100.0, 2.0, [3.0, 5.0, 4.0], 0.5),
               _finished_run(500.0, 4.0, [7.0, 1.0], 1.5)]
    typical = typical_phase_seconds(history)
    assert typical["load"] == pytest.approx(3.0)
    assert typical["processors"] == pytest.approx(6.0)  # max of each run's parallel steps
    assert typical["review"] == pytest.approx(1.0)


def test_eta_comes_from_earlier_runs_while_processors_run() -> None:
    history = typical_phase_seconds([_finished_run(0.0, 2.0, [10.0, 4.0], 1.0)])
    # Load done; 2 of 4 processors finished; started 4 s ago.
    t0 = 1000.0
    steps = [StepRecord(P + "load_underwriting", "succeeded", t0, t0 + 2),
             StepRecord(P + "run_local_processor[p_a]", "succeeded", t0 + 2, t0 + 4),
             StepRecord(P + "run_local_processor[p_b]", "succeeded", t0 + 2, t0 + 5),
             StepRecord(P + "run_clear_processor[p_c]", "running", t0 + 2, None)]
    now = t0 + 6
    progress = compute_progress("uw_1", steps, processors_done=2, processors_purchased=4,
                                history=history, now=now, run_id="r1", run_status="STARTED")
    assert progress.phase == "processors"
    # processors: 10 s typical, 4 s elapsed -> 6 s left; then consolidate and review, 1 s each.
    assert progress.eta_seconds == pytest.approx(6.0 + 2 * 1.0)
    assert 0 < progress.percent < 100
    running = [s for s in progress.steps if s.status == "running"][0]
    assert running.duration_seconds == pytest.approx(4.0) and running.end is None
    assert progress.steps[0].duration_seconds == pytest.approx(2.0)
    assert (progress.processors_done, progress.processors_purchased) == (2, 4)
    # Later, further along: the estimate only goes down and the percent only up.
    later = compute_progress("uw_1", steps, processors_done=3, processors_purchased=4,
                             history=history, now=now + 3, run_status="STARTED")
    assert later.eta_seconds < progress.eta_seconds and later.percent > progress.percent


def test_finished_parked_and_queued_cases() -> None:
    steps = _finished_run(0.0, 1.0, [2.0], 0.5)
    done = compute_progress("uw_1", steps, processors_done=1, processors_purchased=1,
                            history={}, now=50.0, run_status="SUCCESS", case_status="completed")
    assert (done.phase, done.percent, done.eta_seconds) == ("completed", 100.0, 0.0)
    assert done.elapsed_seconds == pytest.approx(1 + 2 + 2 * 0.5)
    parked = compute_progress("uw_1", steps, processors_done=1, processors_purchased=1,
                              history={}, now=50.0, run_status="SUCCESS",
                              case_status="awaiting_review")
    assert parked.phase == "awaiting_review" and parked.percent == 100.0
    queued = compute_progress("uw_2", [], processors_done=0, processors_purchased=3,
                              history={"load": 2.0, "processors": 5.0}, now=0.0,
                              run_status="QUEUED")
    assert queued.phase == "queued" and queued.percent == 0.0
    # load and processors from history; consolidate and review: 1 s each (no history).
    assert queued.eta_seconds == pytest.approx(2.0 + 5.0 + 2 * 1.0)
    resume = compute_progress("uw_3", [StepRecord("underwriting_review", "running", 10.0)],
                              processors_done=3, processors_purchased=3,
                              history={"review": 4.0}, now=11.0,
                              run_status="STARTED", phases=("review",))
    assert resume.phase == "review" and resume.eta_seconds == pytest.approx(3.0)


def test_batch_eta_counts_waiting_cases_in_rounds_of_parallel_runs() -> None:
    history = {"load": 1.0, "processors": 4.0}
    running = compute_progress("uw_a", [StepRecord(P + "load_underwriting", "running", 0.0)],
                               processors_done=0, processors_purchased=2, history=history,
                               now=0.5, run_status="STARTED", phases=("load", "processors"))
    waiting = [compute_progress(u, [], processors_done=0, processors_purchased=2,
                                history=history, now=0.5, run_status=None,
                                phases=("load", "processors"), case_status="created")
               for u in ("uw_b", "uw_c", "uw_d")]
    batch = compute_batch("organization org_1", [running, *waiting, None],
                          ["processing", "created", "created", "created", "completed"],
                          typical_run_seconds=5.0, parallel=2)
    assert batch.total == 5 and batch.by_state == {"processing": 1, "created": 3,
                                                   "completed": 1}
    # The running case has 4.5 s left; 3 waiting cases at 2 at a time: 2 rounds of 5 s.
    assert batch.eta_seconds == pytest.approx(4.5 + 10.0)
    assert 20.0 <= batch.percent < 30.0  # one of five done, one just started
    assert compute_batch("x", [None], ["completed"], typical_run_seconds=None,
                         parallel=1).eta_seconds == 0.0
    assert compute_batch("x", waiting[:1], ["created"], typical_run_seconds=None,
                         parallel=1).eta_seconds is None  # nothing to learn from yet


def test_a_finished_run_stands_for_the_run_the_store_status_for_the_case() -> None:
    steps = _finished_run(0.0, 1.0, [2.0], 0.5)
    failed_case = CaseOutcome.from_row({
        "status": "failed", "review_reason": "document 'd_9' does not exist",
        "completed_at": dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)})
    failed = compute_progress("uw_1", steps, processors_done=1, processors_purchased=1,
                              history={}, now=50.0, run_status="SUCCESS", case=failed_case)
    assert failed.phase == "failed" and failed.run_status == "SUCCESS"
    shown = failed.as_dict()["case"]
    assert shown["status"] == "failed" and shown["reasons"] == ["document 'd_9' does not exist"]
    assert shown["completed_at"] == "2024-05-01T12:00:00+00:00"
    rejected = compute_progress("uw_1", steps, processors_done=1, processors_purchased=1,
                                history={}, now=50.0, run_status="SUCCESS",
                                case_status="rejected")
    assert rejected.phase == "rejected"
    unknown = compute_progress("uw_1", steps, processors_done=1, processors_purchased=1,
                               history={}, now=50.0, run_status="SUCCESS")
    assert unknown.phase == "done"  # no store status given: the run's word is all there is
    assert compute_batch("x", [rejected], ["rejected"], typical_run_seconds=None,
                         parallel=1).percent == 100.0  # a rejected case is settled


def _execution(processor: str, status: str, run_id: str, created: int, **extra: Any) -> dict:
    return {"id": f"e_{processor}_{created}", "processor": processor, "status": status,
            "run_id": run_id, "created_at": created, "attempt": extra.pop("attempt", 1),
            "enabled": extra.pop("enabled", True), "output": extra.pop("output", None),
            "failed_code": extra.pop("failed_code", None),
            "failed_reason": extra.pop("failed_reason", None)}


def test_processor_outcomes_of_a_run() -> None:
    executions = [
        _execution("p_bank", "completed", "r1", 1),  # reused by r2
        _execution("p_tax", "completed", "r1", 2, output={"skipped": True,
                                                          "reason": "no document of type tax"}),
        _execution("p_sos", "timeout", "r2", 3, failed_code="TIMEOUT",
                   failed_reason="p_sos exceeded its 1s limit"),
        _execution("p_clear", "timeout", "r2", 4, failed_code="TIMEOUT", failed_reason="x"),
        _execution("p_clear", "failed", "r2", 5, attempt=2, failed_code="VENDOR_ERROR",
                   failed_reason="HTTP 500"),
        _execution("p_dl", "cancelled", "r2", 6, failed_code="CANCELLED",
                   failed_reason="run cancelled"),
        _execution("p_late", "running", "r2", 7),
    ]
    steps = {"p_bank": "succeeded", "p_tax": "succeeded", "p_sos": "succeeded",
             "p_clear": "succeeded", "p_dl": "failed", "p_late": "running",
             "p_crash": "failed"}
    names = ["p_bank", "p_tax", "p_sos", "p_clear", "p_dl", "p_late", "p_crash", "p_next"]
    shown = {o.processor: o for o in processor_outcomes(
        names, executions, run_id="r2", step_states=steps, run_finished=False)}
    assert shown["p_bank"].outcome == "skipped" and shown["p_bank"].run_id == "r1"
    assert shown["p_bank"].reason == "reused execution e_p_bank_1 of run r1"
    assert shown["p_tax"].outcome == "skipped"
    assert shown["p_tax"].reason == ("reused execution e_p_tax_2 of run r1 "
                                     "(no document of type tax)")
    assert (shown["p_sos"].outcome, shown["p_sos"].error_code) == ("timeout", "TIMEOUT")
    # The last attempt is the outcome.
    assert (shown["p_clear"].outcome, shown["p_clear"].error_message,
            shown["p_clear"].attempt) == ("failed", "HTTP 500", 2)
    assert shown["p_dl"].outcome == "cancelled"
    assert shown["p_late"].outcome == "running"
    assert shown["p_crash"].outcome == "failed" and "step failed" in shown["p_crash"].reason
    assert shown["p_next"].outcome == "pending"
    finished = processor_outcomes(["p_next"], executions, run_id="r2", step_states={},
                                  run_finished=True)
    assert finished[0].outcome == "not run"
    # A skip in the run itself (nothing of its type to read) carries the processor's reason.
    (own,) = processor_outcomes(["p_tax"], executions, run_id="r1", step_states={},
                                run_finished=True)
    assert (own.outcome, own.reason) == ("skipped", "no document of type tax")
