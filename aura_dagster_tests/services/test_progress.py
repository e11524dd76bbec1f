"""Progress and ETA arithmetic (services/progress.py): plain Python, no Dagster."""

from __future__ import annotations

import pytest

from aura_dagster.services.progress import (
    StepRecord,
    compute_batch,
    compute_progress,
    phase_of,
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
    assert (done.phase, done.percent, done.eta_seconds) == ("done", 100.0, 0.0)
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
