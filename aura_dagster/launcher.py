"""Dagster's default run launcher, plus a health check of the run worker for run monitoring.

`DefaultRunLauncher` (the code server starts one process per run) cannot tell run
monitoring whether a run's worker is alive, so a run whose worker died with its host stays
STARTED forever and keeps its run-queue slot. The worker logs its own pid when it starts
("Started process for run (pid: N)"); this launcher checks that process on this host:
gone, a zombie, or a younger process that reused the pid means the worker is dead, and run
monitoring marks the run failed (then run retries re-execute it from failure).

Configured in dagster.yaml:

    run_launcher: {module: aura_dagster.launcher, class: HostRunLauncher}

It only sees processes of the host it runs on: the daemon, code server and run workers
share one machine in this deployment.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._core.storage.dagster_run import DagsterRun

# A worker logs its pid a moment after it starts; allow for clock granularity.
_START_SLACK_SECONDS = 2.0


def worker_pid(instance: object, run_id: str) -> tuple[int, float] | None:
    """(pid, time logged) of the newest run worker of `run_id`, from its engine events."""
    records = instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)  # type: ignore[attr-defined]
    for record in reversed(records):
        event = record.dagster_event
        if event is None or not (event.message or "").startswith("Started process for run"):
            continue
        pid = event.event_specific_data.metadata.get("pid") if event.event_specific_data \
            else None
        if pid is not None:
            return int(pid.value), record.timestamp
    return None


def process_alive(pid: int, *, started_by: float | None = None) -> bool:
    """True when `pid` is a live (not zombie) process that started by `started_by` (unix
    time): a process started later merely reused the pid of a dead worker."""
    if not Path("/proc/self/stat").exists():  # no procfs: existence is all we can tell
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    state, start_ticks = fields[0], int(fields[19])
    if state in ("Z", "X"):
        return False
    if started_by is not None:
        started_at = _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")
        if started_at > started_by + _START_SLACK_SECONDS:
            return False
    return True


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


class HostRunLauncher(DefaultRunLauncher):
    """The default launcher whose run workers run monitoring can health-check."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        found = worker_pid(self._instance, run.run_id)
        if found is None:
            # No pid logged (e.g. a run executed in-process): nothing to judge by.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no run worker pid recorded")
        pid, logged_at = found
        if process_alive(pid, started_by=logged_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED,
                                    f"run worker process {pid} is no longer running")
