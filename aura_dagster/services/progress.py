"""Progress with an ETA (seed 003 ProgressTracker, seed 004 Progress Tracking), plain Python.

Input: the steps of an underwriting's latest run (key, start, end, status, as the Dagster
event log records them), how many purchased processors have finished (the store), and the
step durations of earlier runs. Output: the current phase, each step with its duration,
overall percent and the estimated seconds remaining.

Steps are grouped into phases in pipeline order. Steps inside a phase run concurrently (the
processor fan-out), so a phase's expected length is its typical wall time, start of its
first step to end of its last, averaged over earlier runs.

The run's state is how far the work got, not what came of it: a run succeeds when every
processor timed out, and a case can be failed after a successful run. So a Progress also
carries the case as the store has it (CaseOutcome) and what each processor ended with
(ProcessorOutcome, from the store's executions of the run).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import mean
from typing import Any

from aura_dagster.storage.schema import FINAL_UNDERWRITING_STATUSES

# Pipeline order; a step belongs to the first phase whose pattern matches its key. Load
# plans the processors, consolidation evaluates the checks, review publishes; the step
# names of older runs (plan, check and completion steps) still count in their phase.
PHASES: tuple[tuple[str, str], ...] = (
    ("load", r"load_underwriting|plan_underwriting_processors"),
    ("processors", r"run_\w+_processor"),
    ("consolidate", r"consolidate_underwriting|^underwriting_factors_"),
    ("review", r"underwriting_review|processing_completed"),
)
PHASE_NAMES = tuple(name for name, _ in PHASES)
DEFAULT_PHASE_SECONDS = 1.0  # with no history, each phase counts the same
TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}
WAITING_RUN_STATUSES = {"QUEUED", "NOT_STARTED", "STARTING"}
# A published outcome (completed, failed, rejected, declined, ...) or parked for a person.
SETTLED_CASE_STATES = {*FINAL_UNDERWRITING_STATUSES, "awaiting_review"}
OPEN_EXECUTION_STATUSES = {"pending", "running"}


def phase_of(step_key: str) -> str | None:
    for name, pattern in PHASES:
        if re.search(pattern, step_key):
            return name
    return None


@dataclass(frozen=True)
class StepRecord:
    """One step of a run. Times are epoch seconds; `end` is None while it runs."""

    key: str
    status: str  # running | succeeded | failed | skipped | pending
    start: float | None = None
    end: float | None = None

    @property
    def phase(self) -> str | None:
        return phase_of(self.key)

    def duration(self, now: float) -> float | None:
        if self.start is None:
            return None
        return (self.end if self.end is not None else now) - self.start


@dataclass(frozen=True)
class StepView:
    key: str
    phase: str | None
    status: str
    start: float | None
    end: float | None
    duration_seconds: float | None


@dataclass(frozen=True)
class CaseOutcome:
    """The case as the store has it: the outcome, whatever the run's state says."""

    status: str
    reason: str | None = None  # underwritings.review_reason, whole
    reasons: list[str] = field(default_factory=list)  # the same, one reason an item
    review_decision: str | None = None
    reviewed_by: str | None = None
    completed_at: str | None = None  # ISO 8601

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CaseOutcome:
        reason = row.get("review_reason")
        completed = row.get("completed_at")
        return cls(status=row["status"], reason=reason, reasons=split_reasons(reason),
                   review_decision=row.get("review_decision"),
                   reviewed_by=row.get("reviewed_by"),
                   completed_at=completed.isoformat() if completed is not None else None)


def split_reasons(text: str | None) -> list[str]:
    """The review gate joins its reasons with '; ' (assets/review.py)."""
    return [r for r in (text or "").split("; ") if r]


@dataclass(frozen=True)
class ProcessorOutcome:
    """What one processor ended with in a run.

    outcome: completed | failed | timeout | cancelled | skipped (did no work: nothing of its
    type to read, or an earlier execution with the same inputs was reused; `reason` says
    which) | running | pending (not started yet) | not run (the run ended without it).
    """

    processor: str
    outcome: str
    error_code: str | None = None
    error_message: str | None = None
    reason: str | None = None
    execution_id: str | None = None
    run_id: str | None = None  # the run that did the work (an earlier one when reused)
    attempt: int | None = None


def _execution_outcome(processor: str, execution: Mapping[str, Any],
                       reused: bool = False) -> ProcessorOutcome:
    status = execution["status"]
    output = execution.get("output") or {}
    skipped = status == "completed" and bool(output.get("skipped"))
    reason = output.get("reason") if skipped else None
    if reused:
        # No work this run: say so, and keep why the reused execution itself did nothing.
        reason = (f"reused execution {execution['id']} of run {execution.get('run_id') or '-'}"
                  + (f" ({reason})" if reason else ""))
    outcome = "skipped" if skipped or reused else (
        "running" if status in OPEN_EXECUTION_STATUSES else status)
    return ProcessorOutcome(processor=processor, outcome=outcome,
                            error_code=execution.get("failed_code"),
                            error_message=execution.get("failed_reason"), reason=reason,
                            execution_id=str(execution["id"]), run_id=execution.get("run_id"),
                            attempt=execution.get("attempt"))


def processor_outcomes(processors: Sequence[str], executions: Sequence[Mapping[str, Any]], *,
                       run_id: str | None, step_states: Mapping[str, str],
                       run_finished: bool) -> list[ProcessorOutcome]:
    """Each processor's outcome in run `run_id`.

    `executions`: the underwriting's execution rows (any run). `step_states`: processor ->
    state of its run step (running | succeeded | failed | skipped). A processor whose step
    succeeded without an execution of this run reused an earlier completed one (same
    payload hash): the run reports that execution and did no work.
    """
    outcomes: list[ProcessorOutcome] = []
    for processor in processors:
        mine = [e for e in executions if e["processor"] == processor]
        this_run = [e for e in mine if run_id is not None and e.get("run_id") == run_id]
        step = step_states.get(processor)
        if this_run:  # the last attempt is the outcome
            latest = max(this_run, key=lambda e: (e.get("attempt") or 0, e["created_at"]))
            outcomes.append(_execution_outcome(processor, latest))
            continue
        reusable = [e for e in mine if e["status"] == "completed" and e.get("enabled", True)]
        if step == "succeeded" and reusable:
            outcomes.append(_execution_outcome(
                processor, max(reusable, key=lambda e: e["created_at"]), reused=True))
        elif step == "failed":
            outcomes.append(ProcessorOutcome(processor, "failed",
                                             reason="its step failed before recording an "
                                                    "execution (see the run's logs)"))
        elif step in ("running", "succeeded"):
            outcomes.append(ProcessorOutcome(processor, "running"))
        else:
            outcomes.append(ProcessorOutcome(processor, "not run" if run_finished
                                             else "pending"))
    return outcomes


@dataclass(frozen=True)
class Progress:
    underwriting_id: str
    run_id: str | None
    run_status: str | None
    phase: str
    steps: list[StepView]
    processors_done: int
    processors_purchased: int
    percent: float
    eta_seconds: float | None
    elapsed_seconds: float | None
    case: CaseOutcome | None = None
    processors: list[ProcessorOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def phase_durations(steps: Sequence[StepRecord]) -> dict[str, float]:
    """Wall seconds per phase of one finished run (first start to last end)."""
    spans: dict[str, list[float]] = {}
    for step in steps:
        if step.phase is None or step.start is None or step.end is None:
            continue
        span = spans.setdefault(step.phase, [step.start, step.end])
        span[0], span[1] = min(span[0], step.start), max(span[1], step.end)
    return {phase: end - start for phase, (start, end) in spans.items()}


def typical_phase_seconds(history: Iterable[Sequence[StepRecord]]) -> dict[str, float]:
    """Average phase duration over earlier runs (a phase missing from a run is not counted)."""
    samples: dict[str, list[float]] = {}
    for steps in history:
        for phase, seconds in phase_durations(steps).items():
            samples.setdefault(phase, []).append(seconds)
    return {phase: mean(values) for phase, values in samples.items()}


def _phase_state(phase: str, steps: Sequence[StepRecord], processors_done: int,
                 processors_purchased: int) -> str:
    mine = [s for s in steps if s.phase == phase]
    if not mine:
        return "pending"
    if any(s.status == "running" or (s.start is not None and s.end is None) for s in mine):
        return "running"
    if phase == "processors" and processors_done < processors_purchased:
        return "running"  # mapped steps still to start
    return "done"


def compute_progress(underwriting_id: str, steps: Sequence[StepRecord], *,
                     processors_done: int, processors_purchased: int,
                     history: Mapping[str, float], now: float, run_id: str | None = None,
                     run_status: str | None = None, phases: Sequence[str] = PHASE_NAMES,
                     case_status: str | None = None, case: CaseOutcome | None = None,
                     processors: Sequence[ProcessorOutcome] = ()) -> Progress:
    """Where one underwriting stands and how long it should still take.

    `history`: typical seconds per phase (typical_phase_seconds); a phase never seen
    counts DEFAULT_PHASE_SECONDS. `phases`: the phases the run covers (a resume run covers
    only review and complete). `run_status`: the Dagster run status (None: no run yet).
    `case` (or just `case_status`): the store's view; once the run is over, the phase is
    the case's settled status, not the run's.
    """
    case_status = case.status if case is not None else case_status
    views = [StepView(s.key, s.phase, s.status, s.start, s.end, s.duration(now))
             for s in sorted(steps, key=lambda s: (s.start or math.inf, s.key))]
    terminal = run_status in TERMINAL_RUN_STATUSES
    expected = {p: history.get(p, DEFAULT_PHASE_SECONDS) for p in phases}
    done_weight = remaining = 0.0
    current: str | None = None
    for phase in phases:
        weight = expected[phase]
        state = _phase_state(phase, steps, processors_done, processors_purchased)
        if terminal or state == "done":
            done_weight += weight
            continue
        current = current or phase
        if state == "pending":
            remaining += weight
            continue
        starts = [s.start for s in steps if s.phase == phase and s.start is not None]
        elapsed = now - min(starts) if starts else 0.0
        fraction = elapsed / weight if weight > 0 else 0.0
        if phase == "processors" and processors_purchased:
            fraction = max(fraction, processors_done / processors_purchased)
        done_weight += weight * min(fraction, 0.95)  # never 100 % while it runs
        remaining += max(weight - elapsed, 0.0)
    if run_status is None or run_status in WAITING_RUN_STATUSES:
        current = "queued" if run_status else (case_status or "not started")
    elif terminal:
        # The store decides the outcome: a successful run may have ended in a failed case.
        current = (case_status if case_status in SETTLED_CASE_STATES else
                   {"SUCCESS": "done", "FAILURE": "failed", "CANCELED": "cancelled"}[run_status])
    total = sum(expected.values()) or 1.0
    no_run_but_settled = run_status is None and case_status in SETTLED_CASE_STATES
    percent = 100.0 if terminal or no_run_but_settled else round(100.0 * done_weight / total, 1)
    starts = [s.start for s in steps if s.start is not None]
    ends = [s.end for s in steps if s.end is not None]
    elapsed_run = None
    if starts:
        elapsed_run = round((max(ends) if terminal and ends else now) - min(starts), 3)
    return Progress(underwriting_id=underwriting_id, run_id=run_id, run_status=run_status,
                    phase=current or "done", steps=views, processors_done=processors_done,
                    processors_purchased=processors_purchased, percent=percent,
                    eta_seconds=0.0 if terminal or no_run_but_settled else round(remaining, 1),
                    elapsed_seconds=elapsed_run, case=case, processors=list(processors))


@dataclass(frozen=True)
class BatchProgress:
    """Progress of many underwritings (an organization, a backfill)."""

    scope: str
    total: int
    by_state: dict[str, int]
    percent: float
    eta_seconds: float | None
    cases: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FINAL_CASE_STATES = {*SETTLED_CASE_STATES, "cancelled"}


def compute_batch(scope: str, cases: Sequence[Progress | None], case_states: Sequence[str], *,
                  typical_run_seconds: float | None, parallel: int) -> BatchProgress:
    """Roll up per-case progress. A case not started yet is expected to take a typical run;
    `parallel` runs go at once, so the waiting cases take ceil(waiting / parallel) rounds
    after the longest running one ends."""
    by_state: dict[str, int] = {}
    percents: list[float] = []
    running_eta = 0.0
    waiting = 0
    for progress, state in zip(cases, case_states, strict=True):
        by_state[state] = by_state.get(state, 0) + 1
        if state in FINAL_CASE_STATES:
            percents.append(100.0)
        elif progress is not None and progress.run_status not in (None, "QUEUED"):
            percents.append(progress.percent)
            running_eta = max(running_eta, progress.eta_seconds or 0.0)
        else:
            percents.append(0.0)
            waiting += 1
    total = len(case_states)
    percent = round(mean(percents), 1) if percents else 100.0
    if waiting and typical_run_seconds is None:
        eta = None  # no finished run to learn from yet
    else:
        rounds = math.ceil(waiting / max(parallel, 1))
        eta = round(running_eta + rounds * (typical_run_seconds or 0.0), 1)
    return BatchProgress(scope=scope, total=total, by_state=by_state, percent=percent,
                         eta_seconds=eta,
                         cases=[{"underwriting_id": p.underwriting_id, "status": state,
                                 "run_status": p.run_status, "phase": p.phase,
                                 "percent": p.percent, "eta_seconds": p.eta_seconds}
                                for p, state in zip(cases, case_states, strict=True)
                                if p is not None])
