"""Progress with an ETA (seed 003 ProgressTracker, seed 004 Progress Tracking), plain Python.

Input: the steps of an underwriting's latest run (key, start, end, status, as the Dagster
event log records them), how many purchased processors have finished (the store), and the
step durations of earlier runs. Output: the current phase, each step with its duration,
overall percent and the estimated seconds remaining.

Steps are grouped into phases in pipeline order. Steps inside a phase run concurrently (the
processor fan-out), so a phase's expected length is its typical wall time, start of its
first step to end of its last, averaged over earlier runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import mean
from typing import Any

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
SETTLED_CASE_STATES = {"completed", "failed", "awaiting_review"}


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
                     case_status: str | None = None) -> Progress:
    """Where one underwriting stands and how long it should still take.

    `history`: typical seconds per phase (typical_phase_seconds); a phase never seen
    counts DEFAULT_PHASE_SECONDS. `phases`: the phases the run covers (a resume run covers
    only review and complete). `run_status`: the Dagster run status (None: no run yet).
    """
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
        current = {"SUCCESS": "awaiting_review" if case_status == "awaiting_review"
                   else "done", "FAILURE": "failed", "CANCELED": "cancelled"}[run_status]
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
                    elapsed_seconds=elapsed_run)


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


FINAL_CASE_STATES = {"completed", "failed", "awaiting_review", "cancelled"}


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
                         cases=[{"underwriting_id": p.underwriting_id, "phase": p.phase,
                                 "percent": p.percent, "eta_seconds": p.eta_seconds}
                                for p in cases if p is not None])
