"""`aura-dagster status UNDERWRITING_ID | --org ORG | --backfill ID [--watch] [--json]`.

Reads the Dagster event log (the underwriting's latest run, step by step) and the store
(processors purchased and done, the case's status); the arithmetic lives in
services/progress.py. Earlier successful runs of the same job give the typical phase
durations the ETA is made of.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from aura_dagster.commands.preflight import CommandError, load_instance, open_store
from aura_dagster.services.progress import (
    PHASE_NAMES,
    BatchProgress,
    Progress,
    StepRecord,
    compute_batch,
    compute_progress,
    typical_phase_seconds,
)
from aura_dagster.settings import Settings, load_settings
from aura_dagster.storage import Stores

PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"
HISTORY_RUNS = 10
FINAL_EXECUTIONS = {"completed", "failed", "timeout", "cancelled"}
RESUME_PHASES = ("review",)  # review and publish: one step
_STEP_STATUS = {"SUCCESS": "succeeded", "FAILURE": "failed", "SKIPPED": "skipped",
                "IN_PROGRESS": "running"}


def _steps(instance: Any, run_id: str) -> list[StepRecord]:
    return [StepRecord(key=s.step_key,
                       status=_STEP_STATUS.get(s.status.value if s.status else "", "running"),
                       start=s.start_time, end=s.end_time)
            for s in instance.get_run_step_stats(run_id)]


class History:
    """Typical phase seconds per job, from its latest successful runs (cached per call)."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance
        self._phases: dict[str, dict[str, float]] = {}
        self._run_seconds: dict[str, float | None] = {}

    def phases(self, job_name: str) -> dict[str, float]:
        if job_name not in self._phases:
            from dagster import DagsterRunStatus, RunsFilter

            runs = self.instance.get_runs(
                filters=RunsFilter(job_name=job_name, statuses=[DagsterRunStatus.SUCCESS]),
                limit=HISTORY_RUNS)
            self._phases[job_name] = typical_phase_seconds(_steps(self.instance, r.run_id)
                                                           for r in runs)
        return self._phases[job_name]

    def run_seconds(self, job_name: str) -> float | None:
        phases = self.phases(job_name)
        return sum(phases.values()) if phases else None


def underwriting_progress(instance: Any, stores: Stores, underwriting_id: str,
                          history: History, now: float | None = None) -> Progress:
    from dagster import RunsFilter

    from aura_dagster.tags import JOB_NAME

    case = stores.underwritings.get_underwriting(underwriting_id)
    if case is None:
        raise CommandError(f"underwriting {underwriting_id!r} does not exist")
    runs = instance.get_runs(filters=RunsFilter(tags={PARTITION_TAG: underwriting_id}), limit=1)
    run = runs[0] if runs else None
    purchased = len(stores.processors.get_underwriting_processors(underwriting_id,
                                                                  enabled_only=True)
                    or stores.processors.get_purchased_processors_by_organization(
                        case["organization_id"], enabled_only=True))
    steps = _steps(instance, run.run_id) if run else []
    job = run.job_name if run else JOB_NAME
    phases: Sequence[str] = RESUME_PHASES if run and job != JOB_NAME else PHASE_NAMES
    if run is None or job != JOB_NAME:
        done = purchased if run is not None else 0
    else:
        executions = [e for e in stores.executions.get_executions_by_underwriting(
            underwriting_id) if e["run_id"] == run.run_id and e["status"] in FINAL_EXECUTIONS]
        finished_steps = [s for s in steps if s.phase == "processors" and s.end is not None]
        done = min(purchased, max(len({e["processor"] for e in executions}),
                                  len(finished_steps)))
    return compute_progress(underwriting_id, steps, processors_done=done,
                            processors_purchased=purchased, history=history.phases(job),
                            now=time.time() if now is None else now,
                            run_id=run.run_id if run else None,
                            run_status=run.status.value if run else None, phases=phases,
                            case_status=case["status"])


def batch_progress(instance: Any, stores: Stores, *, organization_id: str | None = None,
                   backfill_id: str | None = None, now: float | None = None) -> BatchProgress:
    from dagster import DagsterRunStatus, RunsFilter

    from aura_dagster.tags import JOB_NAME

    history = History(instance)
    if backfill_id is not None:
        backfill = instance.get_backfill(backfill_id)
        if backfill is None:
            raise CommandError(f"no backfill {backfill_id!r} in this Dagster instance")
        ids = list(backfill.partition_names or [])
        if not ids and backfill.asset_backfill_data is not None:
            subset = backfill.asset_backfill_data.target_subset
            ids = sorted({key for _, key in subset.iterate_asset_partitions()
                          if key is not None})
        scope = f"backfill {backfill_id}"
    else:
        assert organization_id is not None
        ids = [r["id"] for r in stores.underwritings.list_underwritings(organization_id,
                                                                         limit=10_000)]
        if not ids:
            raise CommandError(f"organization {organization_id!r} has no underwritings")
        scope = f"organization {organization_id}"
    progresses: list[Progress | None] = []
    states: list[str] = []
    for underwriting_id in ids:
        case = stores.underwritings.get_underwriting(underwriting_id)
        if case is None:
            progresses.append(None)
            states.append("unknown")
            continue
        progress = underwriting_progress(instance, stores, underwriting_id, history, now)
        progresses.append(progress)
        states.append(case["status"])
    in_progress = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED]))
    parallel = max(1, len(in_progress))
    return compute_batch(scope, progresses, states,
                         typical_run_seconds=history.run_seconds(JOB_NAME), parallel=parallel)


# --- rendering ---------------------------------------------------------------------------

def _clock(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "-"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def render(progress: Progress | BatchProgress) -> str:
    if isinstance(progress, BatchProgress):
        states = ", ".join(f"{n} {s}" for s, n in sorted(progress.by_state.items()))
        lines = [f"{progress.scope}: {progress.total} underwritings ({states})",
                 f"progress {progress.percent:.1f}%   ETA {_secs(progress.eta_seconds)}"]
        lines += [f"  {c['underwriting_id']:<24} {c['phase']:<16} {c['percent']:5.1f}%  "
                  f"ETA {_secs(c['eta_seconds'])}" for c in progress.cases
                  if c["percent"] < 100]
        return "\n".join(lines)
    p = progress
    lines = [f"{p.underwriting_id}  phase {p.phase}  run {p.run_id or '-'} "
             f"({p.run_status or 'no run'})",
             f"processors {p.processors_done}/{p.processors_purchased}   "
             f"progress {p.percent:.1f}%   ETA {_secs(p.eta_seconds)}   "
             f"elapsed {_secs(p.elapsed_seconds)}"]
    width = max((len(s.key) for s in p.steps), default=10)
    lines += [f"  {s.key:<{width}}  {s.status:<9}  {_clock(s.start)} -> {_clock(s.end)}  "
              f"{_secs(s.duration_seconds)}" for s in p.steps]
    return "\n".join(lines)


def _is_done(progress: Progress | BatchProgress) -> bool:
    return progress.percent >= 100.0


def run(underwriting_id: str | None = None, *, organization_id: str | None = None,
        backfill_id: str | None = None, watch: bool = False, as_json: bool = False,
        interval: float = 1.0, settings: Settings | None = None,
        out: TextIO | None = None, max_frames: int | None = None,
        sleep: Callable[[float], None] = time.sleep) -> int:
    if sum(x is not None for x in (underwriting_id, organization_id, backfill_id)) != 1:
        raise CommandError("give one of UNDERWRITING_ID, --org ORG or --backfill ID")
    out = out or sys.stdout
    settings = settings or load_settings()
    stores = open_store(settings)
    instance = load_instance(settings)
    try:
        frames = 0
        while True:
            if underwriting_id is not None:
                progress: Progress | BatchProgress = underwriting_progress(
                    instance, stores, underwriting_id, History(instance))
            else:
                progress = batch_progress(instance, stores, organization_id=organization_id,
                                          backfill_id=backfill_id)
            text = (json.dumps(progress.as_dict(), default=str) if as_json
                    else render(progress))
            if watch and not as_json and out.isatty():
                out.write("\x1b[H\x1b[2J")  # redraw in place: cursor home, clear screen
            out.write(text + "\n")
            out.flush()
            frames += 1
            if not watch or _is_done(progress) or (max_frames and frames >= max_frames):
                return 0
            sleep(interval)
    finally:
        instance.dispose()
