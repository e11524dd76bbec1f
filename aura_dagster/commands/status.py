"""`aura-dagster status UNDERWRITING_ID | --org ORG | --backfill ID [--watch] [--json]`.

Reads the Dagster event log (the underwriting's latest run, step by step) and the store
(processors purchased and done, each processor's execution in the latest processing run,
the case's status and reason); the arithmetic lives in services/progress.py. Earlier
successful runs of the same job give the typical phase durations the ETA is made of.

The case's outcome is the store's status, never the run's: a run succeeds when its
processors time out, and a case can be failed after a successful run.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from aura_dagster.commands.preflight import (
    CommandError,
    load_instance,
    open_store,
    require_known_organization,
)
from aura_dagster.services.progress import (
    PHASE_NAMES,
    BatchProgress,
    CaseOutcome,
    ProcessorOutcome,
    Progress,
    StepRecord,
    compute_batch,
    compute_progress,
    processor_outcomes,
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
_MAPPING_KEY = re.compile(r"\[([^\]]+)\]$")  # run_local_processor[p_tax_return]


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
    names = _processor_names(stores, underwriting_id, case["organization_id"])
    purchased = len(names)
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
                            case=CaseOutcome.from_row(case),
                            processors=_outcomes(instance, stores, underwriting_id, names,
                                                 run, steps))


def _processor_names(stores: Stores, underwriting_id: str, organization_id: str) -> list[str]:
    """The case's enabled processors; before its first run, the organization's purchases."""
    rows = (stores.processors.get_underwriting_processors(underwriting_id, enabled_only=True)
            or stores.processors.get_purchased_processors_by_organization(organization_id,
                                                                          enabled_only=True))
    return sorted({r["processor"] for r in rows})


def _outcomes(instance: Any, stores: Stores, underwriting_id: str, names: Sequence[str],
              run: Any, steps: Sequence[StepRecord]) -> list[ProcessorOutcome]:
    """Each processor's outcome in the latest processing run (a resume run after review runs
    no processor: the processing run before it is the one that did)."""
    from dagster import RunsFilter

    from aura_dagster.tags import JOB_NAME

    if run is not None and run.job_name != JOB_NAME:
        earlier = instance.get_runs(filters=RunsFilter(
            job_name=JOB_NAME, tags={PARTITION_TAG: underwriting_id}), limit=1)
        run = earlier[0] if earlier else None
        steps = _steps(instance, run.run_id) if run else []
    step_states: dict[str, str] = {}
    for step in steps:
        found = _MAPPING_KEY.search(step.key) if step.phase == "processors" else None
        if found:
            step_states[found.group(1)] = step.status
    return processor_outcomes(
        names, stores.executions.get_executions_by_underwriting(underwriting_id),
        run_id=run.run_id if run else None, step_states=step_states,
        run_finished=run is None or run.is_finished)


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
        require_known_organization(stores, organization_id)
        # A known organization with no underwriting yet: an empty batch, not an error.
        ids = [r["id"] for r in stores.underwritings.list_underwritings(organization_id,
                                                                         limit=10_000)]
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


def _case_lines(p: Progress) -> list[str]:
    """The case's outcome as the store has it, first: what the operator asked."""
    case = p.case
    if case is None:
        return [p.underwriting_id]
    head = f"{p.underwriting_id}  status {case.status}"
    if case.completed_at:
        head += f"  (completed_at {case.completed_at})"
    lines = [head]
    if case.review_decision or case.reviewed_by:
        lines.append(f"  review: {case.review_decision or '-'} by {case.reviewed_by or '-'}")
    label = "awaiting review because" if case.status == "awaiting_review" else "reason"
    lines += [f"  {label}: {reason}" for reason in case.reasons]
    return lines


def _outcome_text(o: ProcessorOutcome) -> str:
    detail = ": ".join(x for x in (o.error_code, o.error_message) if x)
    if o.reason:
        detail = f"{detail} ({o.reason})" if detail else o.reason
    return f"{o.outcome:<9}  {detail}".rstrip()


def render(progress: Progress | BatchProgress) -> str:
    if isinstance(progress, BatchProgress):
        states = ", ".join(f"{n} {s}" for s, n in sorted(progress.by_state.items()))
        lines = [f"{progress.scope}: {progress.total} underwritings ({states})",
                 f"progress {progress.percent:.1f}%   ETA {_secs(progress.eta_seconds)}"]
        # Cases still going, and those that ended other than completed: what needs a look.
        lines += [f"  {c['underwriting_id']:<24} {c['status']:<16} "
                  f"run {c['run_status'] or '-':<11} {c['phase']:<16} {c['percent']:5.1f}%  "
                  f"ETA {_secs(c['eta_seconds'])}" for c in progress.cases
                  if c["percent"] < 100 or c["status"] != "completed"]
        return "\n".join(lines)
    p = progress
    lines = _case_lines(p)
    counts: dict[str, int] = {}
    for o in p.processors:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    tally = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    lines += [f"run {p.run_id or '-'} ({p.run_status or 'no run'})  phase {p.phase}",
              f"processors {p.processors_done}/{p.processors_purchased} finished"
              f"{f' ({tally})' if tally else ''}   "
              f"progress {p.percent:.1f}%   ETA {_secs(p.eta_seconds)}   "
              f"elapsed {_secs(p.elapsed_seconds)}"]
    width = max((len(o.processor) for o in p.processors), default=10)
    lines += [f"  {o.processor:<{width}}  {_outcome_text(o)}" for o in p.processors]
    if p.steps:
        lines.append("run steps (Dagster's state; the outcomes are above):")
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
