"""Fault injection on a `LocalStack`, and the tally of what survived it.

Used by the fault-injection tests (`pytest -m faults`) and `benchmarks/chaos.py`:

- `kill_host(local)`: SIGKILL the daemon, webserver, code server and run workers at once
  (every process in the trees this stack started), as a host crash would.
- `BackendKiller(url)`: `pg_terminate_backend` on every connection of one PostgreSQL
  database every `interval` seconds, as a flapping database server would.
- `collect_completions` / `tally`: per underwriting, how many `processing.completed`
  arrived (lost: none, duplicated: more than one), runs left unfinished, underwritings
  left `processing`, and op-concurrency slots still claimed by finished runs.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from aura_dagster.commands.local_stack import LocalStack
from aura_dagster.tags import JOB_NAME

UNFINISHED_RUN_STATUSES = ("NOT_STARTED", "QUEUED", "STARTING", "STARTED", "CANCELING")


# --- host crash -------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.iterdir() if task_dir.exists() else ():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (Linux /proc)."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue += _children(current)
    return tree


def kill_host(local: LocalStack) -> list[int]:
    """SIGKILL every Dagster process this stack started and everything they started (code
    server, run workers), all at once; returns the pids killed. Start again with
    `local.start_dagster()`."""
    pids = [pid for proc in local.dagster_processes for pid in process_tree(proc.pid)]
    for pid in pids:  # leaders first: the daemon cannot react to its children dying
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for proc in local.dagster_processes:  # a process forked meanwhile is in the same group
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    for proc in local.dagster_processes:
        proc.wait()
    local.stop_dagster()  # nothing is left to stop: forget the handles
    return pids


# --- database outage --------------------------------------------------------------------


class BackendKiller:
    """Terminates every backend connected to the database of `database_url` every
    `interval` seconds, from a thread, until `stop()` (or leaving the `with` block)."""

    def __init__(self, database_url: str, interval: float = 2.0) -> None:
        url = sa.make_url(database_url)
        self.database = url.database
        self._conninfo = {"host": url.host or "127.0.0.1", "port": url.port or 5432,
                          "user": url.username or "postgres", "dbname": "postgres"}
        self.interval = interval
        self.rounds = 0
        self.terminated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backend-killer", daemon=True)

    def __enter__(self) -> BackendKiller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(**self._conninfo, autocommit=True) as admin:
            while not self._stop.wait(self.interval):
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.database,)).fetchall()
                self.rounds += 1
                self.terminated += sum(1 for (ok,) in killed if ok)


# --- outcome ----------------------------------------------------------------------------


def collect_completions(local: LocalStack, wanted: Collection[str], *, timeout: float,
                        grace: float = 5.0,
                        on_poll: Callable[[set[str]], None] | None = None,
                        ) -> dict[str, list[dict[str, Any]]]:
    """Every `processing.completed` for `wanted`, until each has one and `grace` seconds
    pass without another (so duplicates are seen), or `timeout`."""
    events: dict[str, list[dict[str, Any]]] = {uid: [] for uid in wanted}
    deadline = time.monotonic() + timeout
    quiet_until: float | None = None
    while time.monotonic() < deadline:
        messages = local.pubsub.pull(subscription=local.listener, max_messages=100, timeout=1.0)
        if messages:
            local.pubsub.acknowledge([m.ack_id for m in messages], subscription=local.listener)
        for message in messages:
            event = json.loads(message.data)
            if event.get("underwriting_id") in events:
                events[event["underwriting_id"]].append(event)
                quiet_until = None
        pending = {uid for uid, got in events.items() if not got}
        if pending:
            if on_poll is not None:
                on_poll(pending)
            continue
        if quiet_until is None:
            quiet_until = time.monotonic() + grace
        elif time.monotonic() >= quiet_until:
            break
    return events


@dataclass
class Tally:
    """What a fault left behind, over the underwritings it was applied to."""

    wanted: int
    lost: list[str] = field(default_factory=list)  # no processing.completed
    duplicated: dict[str, int] = field(default_factory=dict)  # more than one
    stuck_runs: list[str] = field(default_factory=list)  # "run_id STATUS", never finished
    left_processing: list[str] = field(default_factory=list)  # underwriting status
    held_slots: list[str] = field(default_factory=list)  # "pool: run_id step" of ended runs
    outcomes: Counter[str] = field(default_factory=Counter)  # event status -> count
    runs: Counter[str] = field(default_factory=Counter)  # run status -> count
    retried_runs: int = 0  # runs launched by run retries

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck_runs or self.left_processing
                    or self.held_slots)

    def line(self) -> str:
        return (f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, stuck "
                f"{len(self.stuck_runs) + len(self.left_processing)} (runs "
                f"{len(self.stuck_runs)}, underwritings processing "
                f"{len(self.left_processing)}), held slots {len(self.held_slots)}; outcomes "
                f"{dict(self.outcomes)}; runs {dict(self.runs)}, {self.retried_runs} retries")


def _runs_for(instance: Any, underwriting_ids: Iterable[str]) -> list[Any]:
    from dagster import RunsFilter

    wanted = set(underwriting_ids)
    return [r for r in instance.get_runs(filters=RunsFilter(job_name=JOB_NAME))
            if r.tags.get("dagster/partition") in wanted]


def wait_runs_finished(instance: Any, underwriting_ids: Iterable[str], timeout: float) -> None:
    """Until no run of these underwritings is unfinished (or `timeout`)."""
    ids = list(underwriting_ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(r.status.value in UNFINISHED_RUN_STATUSES for r in _runs_for(instance, ids)):
            return
        time.sleep(1.0)


def tally(instance: Any, stores: Any, completions: dict[str, list[dict[str, Any]]]) -> Tally:
    result = Tally(wanted=len(completions))
    for uid, events in completions.items():
        if not events:
            result.lost.append(uid)
        elif len(events) > 1:
            result.duplicated[uid] = len(events)
        result.outcomes.update(e.get("status", "completed") for e in events)
        row = stores.underwritings.get_underwriting(uid)
        if row is not None and row["status"] == "processing":
            result.left_processing.append(uid)
    runs = _runs_for(instance, completions)
    finished = set()
    for run in runs:
        result.runs[run.status.value] += 1
        if run.status.value in UNFINISHED_RUN_STATUSES:
            result.stuck_runs.append(f"{run.run_id} {run.status.value}")
        else:
            finished.add(run.run_id)
        if "dagster/retry_number" in run.tags:
            result.retried_runs += 1
    storage = instance.event_log_storage
    for key in sorted(storage.get_concurrency_keys()):
        for slot in storage.get_concurrency_info(key).claimed_slots:
            if slot.run_id in finished:
                result.held_slots.append(f"{key}: {slot.run_id} {slot.step_key}")
    return result


def run_statuses(instance: Any, underwriting_ids: Iterable[str]) -> Counter[str]:
    return Counter(r.status.value for r in _runs_for(instance, underwriting_ids))
