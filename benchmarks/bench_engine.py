"""Engine benchmark: Dagster orchestration against a plain concurrent.futures pool (a script,
not a test).

    .venv/bin/python benchmarks/bench_engine.py [--burst 200] [--repeats 5]

Everything runs on the local stack (Pub/Sub emulator, sandbox vendors, SQLite store,
dagster-daemon with the repo's dagster.yaml) under a temp dir that is removed afterwards.
Every underwriting is fresh (its own id, so payload-hash reuse never makes it free) and is
a copy of the demo's clean case: Sunrise Bakery LLC (CA, fast sandbox answers), three PDF
bank statements, a tax return and a driver's license, five purchased processors.

Plain pool (seed 000's design, no Dagster): load the underwriting and fetch + extract +
classify its documents (the engine's own `load_case`), resolve its processors, then run
the five `processor.execute` calls in a `ProcessPoolExecutor` created for the underwriting
(forkserver start method with the processor modules preloaded: forking this process, which
holds gRPC threads, is unsafe). A ThreadPoolExecutor variant is measured too. The pool does
not persist executions, factors, traces or checks nor publish an event: that and the
scheduling are what the ratio charges to the engine.

Engine: publish `underwriting.created` and time until `processing.completed` arrives on a
listener subscription; the run's milestones are read back from the Dagster instance.
Burst: N events published at once (spread over --tenants lenders: the instance limits
each lender to 3 concurrent runs) against the plain pool run --workers underwritings at a
time (the instance's max_concurrent_runs).

Two engine profiles, side by side in one run (--profiles):
- embedded: the repo's dagster.yaml (SQLite instance and store, default run launcher: a new
  interpreter per run, code server started and replaced by the daemon);
- production: deploy/production/dagster.yaml through `ProductionStack` (PostgreSQL instance
  and store, code server on its own, CeleryRunLauncher on Redis, --celery-workers warm
  workers of --celery-concurrency runs each).
Orchestration CPU per underwriting = CPU-s of the profile's Dagster processes (daemon, code
server, run workers and every child, read from /proc) over the burst, divided by N, minus
the plain pool's CPU-s per underwriting (the processors' own work). Lost = burst events
without `processing.completed`; duplicated = extra `processing.completed` events or extra
(non-retry) runs for one underwriting. `import aura_dagster.definitions` is timed in fresh
interpreters on this tree and on --import-baseline (a `git worktree` of that commit).
Breakdowns printed per profile: the milestones of one underwriting (sensor tick, queue,
launch, steps) read from the instance; CPU-s per underwriting per process role over the
burst, plus the PostgreSQL server's (all its databases: run on a quiet machine); and, for
the production profile, the `pg_stat_database` counters of its two databases (connections
opened, commits, rows) per underwriting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import (
    Executor,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aura_dagster.commands.local_stack import Completion, LocalStack
    from aura_dagster.services.seeding import UnderwritingSpec

# Only the standard library at module level: pool workers started by the fork server
# re-import the main script (CPython 3.11 does not preload it), so it must import fast.
JOB_NAME = "process_underwriting"  # aura_dagster.tags.JOB_NAME
UNDERWRITING_ID_TAG = "aura/underwriting_id"  # aura_dagster.tags.UNDERWRITING_ID_TAG
TEMPLATE_UNDERWRITING = "uw_demo_1001"  # Sunrise Bakery LLC, 5 documents, auto-approved
PROCESSOR_COUNT = 5  # the demo's first tenant (Acme) buys all five, default config
SENSOR_NAME = "underwriting_created_sensor"
TARGET_RATIO = 1.3
TARGET_MEDIAN_SECONDS = 5.0
# Issue 11's targets for the production profile.
TARGET_PRODUCTION_MEDIAN_SECONDS = 2.0
TARGET_BURST_RATIO = 3.0
TARGET_ORCHESTRATION_CPU = 0.5
DUPLICATE_GRACE_SECONDS = 5.0
PROGRESS_EVERY_SECONDS = 10.0
# Imported once by the fork server, not by every pool worker.
PRELOAD = ["aura_dagster.domain.processors.registry", "aura_dagster.services.case"]


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p90(values: Sequence[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


# --- workload ---------------------------------------------------------------------------


@dataclass
class Workload:
    """Makes fresh copies of the template underwriting, registered in the store."""

    stores: Any
    documents_root: Path
    template: UnderwritingSpec
    tenants: tuple[str, ...]
    _count: int = 0

    def fresh(self, prefix: str, n: int = 1) -> list[UnderwritingSpec]:
        from aura_dagster.services.seeding import (
            DocumentSpec,
            UnderwritingSpec,
            register_underwriting,
        )

        specs = []
        for _ in range(n):
            self._count += 1
            uid = f"uw_{prefix}_{self._count:05d}"
            org = self.tenants[self._count % len(self.tenants)]
            docs = tuple(DocumentSpec(f"{uid}_doc_{i}", d.path, d.document_type)
                         for i, d in enumerate(self.template.documents, start=1))
            spec = UnderwritingSpec(uid, org, self.template.business_name,
                                    self.template.business_state, docs)
            register_underwriting(self.stores, spec, self.documents_root)
            specs.append(spec)
        return specs


def seed_workload(local: LocalStack, tenants: int) -> Workload:
    from aura_dagster.demo_cases import ACME, TENANT_PURCHASES, build_demo_cases
    from aura_dagster.services.seeding import register_tenant

    stores = local.open_stores()
    root = local.data_dir / "documents"
    template = next(c.spec for c in build_demo_cases(stores, root)
                    if c.spec.underwriting_id == TEMPLATE_UNDERWRITING)
    orgs = tuple(f"org_bench_{i + 1}" for i in range(tenants))
    for org in orgs:
        register_tenant(stores, org, TENANT_PURCHASES[ACME])
    return Workload(stores, root, template, orgs)


# --- the plain pool (seed 000) ----------------------------------------------------------


def make_pool(kind: str, workers: int) -> Executor:
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=workers)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def plain_pool_underwriting(local: LocalStack, workload: Workload, underwriting_id: str,
                            kind: str) -> list[Any]:
    """Seed 000 steps 2-6 for one underwriting; returns the ProcessorResults."""
    from aura_dagster.services.case import load_case
    from aura_dagster.services.executions import plan_processors

    case = load_case(workload.stores, local.resources["document_source"].fetch, underwriting_id)
    plans = plan_processors(workload.stores, case)
    processors = local.resources["processors"]
    with make_pool(kind, len(plans)) as pool:
        futures = [pool.submit(processors.build(p.processor_id).execute, case.underwriting,
                               case.documents, p.effective_config) for p in plans]
        return [f.result() for f in futures]


def _check_results(results: list[Any], underwriting_id: str) -> None:
    bad = [f"{r.processor_id}={r.status.value}" for r in results
           if r.status.value != "completed" or r.skipped]
    if len(results) != PROCESSOR_COUNT or bad:
        _say(f"warning: plain pool {underwriting_id}: {len(results)} results, not completed: "
             f"{', '.join(bad) or '-'}")


def bench_plain_single(local: LocalStack, workload: Workload, repeats: int,
                       kind: str) -> list[float]:
    plain_pool_underwriting(local, workload, workload.fresh("warm")[0].underwriting_id, kind)
    times = []
    for spec in workload.fresh(f"plain_{kind}", repeats):
        started = time.perf_counter()
        results = plain_pool_underwriting(local, workload, spec.underwriting_id, kind)
        times.append(time.perf_counter() - started)
        _check_results(results, spec.underwriting_id)
    return times


def bench_plain_burst(local: LocalStack, workload: Workload, n: int, workers: int) -> float:
    specs = workload.fresh("plain_burst", n)
    started = time.perf_counter()
    last = started
    outer = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {outer.submit(plain_pool_underwriting, local, workload, s.underwriting_id,
                                "process"): s for s in specs}
        for done, future in enumerate(as_completed(futures), start=1):
            _check_results(future.result(), futures[future].underwriting_id)
            if time.perf_counter() - last >= PROGRESS_EVERY_SECONDS:
                last = time.perf_counter()
                _say(f"  plain pool burst: {done}/{n} done after {last - started:.0f}s")
    finally:
        outer.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: do not wait for the rest
    return time.perf_counter() - started


# --- the engine -------------------------------------------------------------------------


MILESTONES = (
    ("sensor tick started", "tick_start"),
    ("run created (tick done)", "created"),
    ("run enqueued", "enqueued"),
    ("run dequeued + launched (STARTING)", "starting"),
    ("run process up (RUN_START)", "run_start"),
    ("first step started", "first_step"),
    ("processing.completed published", "completed_published"),
    ("processing.completed received", "received"),
    ("run finished", "run_end"),
)


class InstanceReader:
    """Run records, event log and sensor ticks from the stack's DAGSTER_HOME instance."""

    def __init__(self) -> None:
        from dagster import DagsterInstance

        self.instance = DagsterInstance.get()

    def close(self) -> None:
        self.instance.dispose()

    def run_counts(self) -> dict[str, int]:
        from dagster import DagsterRunStatus, RunsFilter

        return {status.value.lower(): self.instance.get_runs_count(
                    RunsFilter(job_name=JOB_NAME, statuses=[status]))
                for status in (DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING,
                               DagsterRunStatus.STARTED, DagsterRunStatus.SUCCESS,
                               DagsterRunStatus.FAILURE)}

    def wait_finished(self, underwriting_ids: Sequence[str], timeout: float = 60.0) -> None:
        """processing.completed goes out before the run ends: let the runs finish."""
        from dagster import RunsFilter

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = [r for uid in underwriting_ids for r in self.instance.get_run_records(
                RunsFilter(job_name=JOB_NAME, tags={UNDERWRITING_ID_TAG: uid}))]
            if all(r.dagster_run.is_finished for r in records):
                return
            time.sleep(0.5)

    def failed_runs(self, underwriting_ids: Sequence[str]) -> int:
        """Runs of these underwritings that ended FAILURE (run_retries re-ran them)."""
        from dagster import DagsterRunStatus, RunsFilter

        return sum(self.instance.get_runs_count(RunsFilter(
            job_name=JOB_NAME, tags={UNDERWRITING_ID_TAG: uid},
            statuses=[DagsterRunStatus.FAILURE])) for uid in underwriting_ids)

    def duplicate_runs(self, underwriting_ids: Sequence[str]) -> int:
        """Runs beyond one per underwriting, not counting run_retries' re-executions."""
        from dagster import RunsFilter

        extra = 0
        for uid in underwriting_ids:
            runs = self.instance.get_runs(RunsFilter(job_name=JOB_NAME,
                                                     tags={UNDERWRITING_ID_TAG: uid}))
            roots = [r for r in runs if "dagster/parent_run_id" not in r.tags]
            extra += max(0, len(roots) - 1)
        return extra

    def _ticks(self) -> list[Any]:
        from dagster._core.scheduler.instigation import InstigatorType

        ticks: list[Any] = []
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.instigator_name == SENSOR_NAME:
                ticks += self.instance.get_ticks(state.instigator_origin_id, state.selector_id,
                                                 limit=1000)
        return ticks

    def timelines(self, published: dict[str, float],
                  completions: dict[str, Completion]) -> list[dict[str, float]]:
        """Per underwriting: milestone -> seconds after its underwriting.created publish."""
        from dagster import DagsterEventType, RunsFilter

        tick_of = {run_id: tick for tick in self._ticks() for run_id in tick.run_ids}
        kinds = {DagsterEventType.RUN_ENQUEUED: "enqueued",
                 DagsterEventType.RUN_STARTING: "starting",
                 DagsterEventType.RUN_START: "run_start",
                 DagsterEventType.STEP_START: "first_step"}
        out = []
        for uid, t0 in published.items():
            records = self.instance.get_run_records(RunsFilter(
                job_name=JOB_NAME, tags={UNDERWRITING_ID_TAG: uid}))
            if not records:
                continue
            record = records[-1]
            run = record.dagster_run
            at: dict[str, float] = {"created": record.create_timestamp.timestamp()}
            if run.run_id in tick_of:
                at["tick_start"] = tick_of[run.run_id].timestamp
            for entry in self.instance.all_logs(run.run_id, of_type=set(kinds)):
                assert entry.dagster_event is not None
                at.setdefault(kinds[entry.dagster_event.event_type], entry.timestamp)
            if record.end_time:
                at["run_end"] = record.end_time
            completion = completions.get(uid)
            if completion is not None:
                at["received"] = completion.received_at
                if completion.published_at:
                    at["completed_published"] = completion.published_at
            out.append({key: value - t0 for key, value in at.items()})
        return out

    def step_durations(self, underwriting_ids: Sequence[str]) -> dict[str, list[float]]:
        """Step kind -> durations (STEP_START to STEP_SUCCESS) over the runs."""
        from dagster import DagsterEventType, RunsFilter

        durations: dict[str, list[float]] = {}
        wanted = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
        for uid in underwriting_ids:
            for record in self.instance.get_run_records(RunsFilter(
                    job_name=JOB_NAME, tags={UNDERWRITING_ID_TAG: uid})):
                starts: dict[str, float] = {}
                for entry in self.instance.all_logs(record.dagster_run.run_id, of_type=wanted):
                    key = entry.step_key or "?"
                    if entry.dagster_event and entry.dagster_event.event_type is \
                            DagsterEventType.STEP_START:
                        starts.setdefault(key, entry.timestamp)
                    elif key in starts:
                        kind = key.split("[")[0].rsplit(".", 1)[-1]
                        durations.setdefault(kind, []).append(entry.timestamp - starts[key])
        return durations


def _publish(local: LocalStack, specs: Sequence[UnderwritingSpec]) -> dict[str, float]:
    from aura_dagster.services.seeding import underwriting_created_event

    published = {}
    for spec in specs:
        published[spec.underwriting_id] = time.time()
        local.publish_created(underwriting_created_event(spec, priority="normal"))
    return published


def wait_for_completions(local: LocalStack, wanted: Sequence[str], **kwargs: Any,
                         ) -> dict[str, Completion]:
    from aura_dagster.commands.local_stack import wait_for_completions as wait

    return wait(local, wanted, **kwargs)


def bench_engine_single(local: LocalStack, workload: Workload, repeats: int,
                        rng: random.Random) -> tuple[float | None, list[float], dict[str, float],
                                                     dict[str, Completion]]:
    """One underwriting at a time; the first (after the daemon starts) is a warm-up."""
    warm_up: float | None = None
    latencies: list[float] = []
    published_all: dict[str, float] = {}
    completions: dict[str, Completion] = {}
    for i in range(repeats + 1):
        time.sleep(rng.uniform(0.0, 5.0))  # land anywhere in the sensor daemon's 5 s cycle
        spec = workload.fresh("engine")[0]
        uid = spec.underwriting_id
        published = _publish(local, [spec])
        done = wait_for_completions(local, [uid], timeout=180.0)
        if uid not in done:
            raise RuntimeError(f"no processing.completed for {uid} within 180 s "
                               f"(logs in {local.log_dir})")
        latency = done[uid].received_at - published[uid]
        summary = done[uid].event["summary"]
        _say(f"  {'warm-up' if i == 0 else f'repeat {i}'}: {uid} publish -> "
             f"processing.completed {latency:.2f}s ({summary['completed_count']}/"
             f"{summary['total_processors']} processors completed)")
        if i == 0:
            warm_up = latency
            continue
        latencies.append(latency)
        published_all.update(published)
        completions.update(done)
    return warm_up, latencies, published_all, completions


@dataclass
class BurstResult:
    elapsed: float
    received: int
    duplicate_events: int
    duplicate_runs: int
    underwriting_ids: list[str]
    cpu_seconds: float  # the profile's Dagster processes, over the burst
    cpu_by_role: dict[str, float]  # the same, per process role, plus PostgreSQL's server
    database_activity: dict[str, dict[str, int]]  # database -> pg_stat_database deltas
    failed_runs: int = 0  # runs that ended FAILURE (and were retried by run_retries)


def bench_engine_burst(local: LocalStack, workload: Workload, reader: InstanceReader, n: int,
                       timeout: float, cpu_roots: Callable[[], dict[str, list[int]]],
                       databases: Sequence[str] = ()) -> BurstResult:
    specs = workload.fresh("burst", n)
    wanted = [s.underwriting_id for s in specs]
    roles_before = role_cpu_seconds(cpu_roots())
    activity_before = database_activity(databases)
    started = time.perf_counter()
    _publish(local, specs)
    _say(f"  published {n} underwriting.created in {time.perf_counter() - started:.2f}s")
    last = [started]
    received = [0]

    def count(_: Completion) -> None:
        received[0] += 1

    def progress(pending: set[str]) -> None:
        now = time.perf_counter()
        if now - last[0] >= PROGRESS_EVERY_SECONDS:
            last[0] = now
            runs = ", ".join(f"{k} {v}" for k, v in reader.run_counts().items())
            _say(f"  engine burst: {received[0]}/{n} processing.completed after "
                 f"{now - started:.0f}s (runs: {runs})")

    done = wait_for_completions(local, wanted, timeout=timeout, on_completion=count,
                                on_poll=progress)
    elapsed = time.perf_counter() - started
    if local.daemon_exited:
        _say(f"the Dagster daemon exited: see {local.log_dir}")
    reader.wait_finished(wanted)
    roles = {role: cpu - roles_before.get(role, 0.0)
             for role, cpu in role_cpu_seconds(cpu_roots()).items()}
    cpu = sum(v for k, v in roles.items() if k not in (POSTGRES_ROLE, EMULATOR_ROLE))
    activity = {db: {k: v - activity_before.get(db, {}).get(k, 0) for k, v in row.items()}
                for db, row in database_activity(databases).items()}
    return BurstResult(elapsed, len(done), _late_duplicates(local, set(wanted)),
                       reader.duplicate_runs(wanted), wanted, cpu, roles, activity,
                       reader.failed_runs(wanted))


def _late_duplicates(local: LocalStack, wanted: set[str]) -> int:
    """`processing.completed` events for the burst still arriving after each underwriting
    had its first one (wait_for_completions keeps only the first)."""
    extra = 0
    deadline = time.monotonic() + DUPLICATE_GRACE_SECONDS
    while time.monotonic() < deadline:
        messages = local.pubsub.pull(subscription=local.listener, max_messages=50, timeout=1.0)
        if messages:
            local.pubsub.acknowledge([m.ack_id for m in messages], subscription=local.listener)
        extra += sum(1 for m in messages if json.loads(m.data)["underwriting_id"] in wanted)
    return extra


# --- CPU accounting (/proc, Linux) and import time --------------------------------------


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (ppid, utime+stime+cutime+cstime in seconds, cmdline)."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is state (field 3): ppid is field 4, utime..cstime fields 14-17.
        cpu = sum(int(x) for x in fields[11:15]) / ticks
        table[int(entry.name)] = (int(fields[1]), cpu, cmdline)
    return table


def tree_cpu_seconds(roots: Sequence[int], exclude: Sequence[str] = (),
                     table: dict[int, tuple[int, float, str]] | None = None) -> float:
    """CPU-s of `roots` and all their descendants, reaped children included (cutime), but
    not the subtrees whose command line contains one of `exclude` (`table`: a /proc snapshot
    to read, default a fresh one)."""
    table = _proc_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack, seen = 0.0, list(roots), set()
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        _, cpu, cmdline = table[pid]
        if any(word in cmdline for word in exclude):
            continue
        total += cpu
        stack += children.get(pid, [])
    return total


POSTGRES_ROLE = "postgresql server (all databases)"


def _program_pids(table: dict[int, tuple[int, float, str]], word: str,
                  also: str = "") -> set[int]:
    """Processes whose program (first word of the command line) contains `word` and whose
    command line contains `also`."""
    return {pid for pid, (_, _, cmdline) in table.items()
            if word in cmdline.split(" ")[0] and also in cmdline}


def postgres_pids(table: dict[int, tuple[int, float, str]]) -> list[int]:
    """The PostgreSQL postmaster(s) on this machine: their backends serve the instance and
    the store (shared with anything else using the server: run on a quiet machine)."""
    postgres = _program_pids(table, "postgres")
    return [pid for pid in postgres if table[pid][0] not in postgres]


ACTIVITY_COLUMNS = ("sessions", "xact_commit", "tup_returned", "tup_inserted", "tup_updated",
                    "tup_deleted")


def database_activity(databases: Sequence[str]) -> dict[str, dict[str, int]]:
    """pg_stat_database counters of `databases` (PostgreSQL 14+: `sessions` = connections
    opened)."""
    if not databases:
        return {}
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(f"SELECT datname, {', '.join(ACTIVITY_COLUMNS)} FROM "
                            "pg_stat_database WHERE datname = ANY(%s)",
                            [list(databases)]).fetchall()
    return {row[0]: dict(zip(ACTIVITY_COLUMNS, row[1:], strict=True)) for row in rows}


EMULATOR_ROLE = "pubsub emulator (java)"


def role_cpu_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU-s per role (each role's process trees), plus the PostgreSQL server's and the
    Pub/Sub emulator's (outside world, not counted as orchestration)."""
    table = _proc_table()  # one snapshot of /proc for every role
    out = {role: tree_cpu_seconds(pids, table=table) for role, pids in roots.items()}
    out[POSTGRES_ROLE] = tree_cpu_seconds(postgres_pids(table), table=table)
    out[EMULATOR_ROLE] = tree_cpu_seconds(
        list(_program_pids(table, "java", "pubsub-emulator")), table=table)
    return out


def time_definitions_import(root: Path, repeats: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds of `import aura_dagster.definitions` in a fresh
    interpreter whose project sources are `root` (this venv's packages)."""
    probe = ("import resource, time, warnings; warnings.filterwarnings('ignore'); "
             "t = time.perf_counter(); import aura_dagster.definitions as d; "
             "w = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_SELF); "
             "print(d.__file__, w, u.ru_utime + u.ru_stime)")
    env = {**os.environ, "PYTHONPATH": str(root), "AURA_DATA_DIR": tempfile.mkdtemp()}
    env.pop("DAGSTER_HOME", None)
    walls, cpus = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=root, check=True,
                             capture_output=True, text=True).stdout.split()
        if not out[0].startswith(str(root)):
            raise RuntimeError(f"imported {out[0]}, not from {root}")
        walls.append(float(out[1]))
        cpus.append(float(out[2]))
    return statistics.median(walls), statistics.median(cpus)


def import_times(baseline_ref: str) -> dict[str, tuple[float, float]] | None:
    """{"before": (wall, cpu), "after": (wall, cpu)}; None when the ref is this tree."""
    here = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(here)]
    base = subprocess.run(git + ["rev-parse", baseline_ref], capture_output=True, text=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True)
    if base.returncode != 0:
        _say(f"import time: no such ref {baseline_ref!r}; skipped")
        return None
    if base.stdout == head.stdout:
        _say("import time: the baseline is this commit; pass --import-baseline REF")
        return None
    checkout = Path(tempfile.mkdtemp(prefix="aura-import-baseline-")) / "tree"
    subprocess.run(git + ["worktree", "add", "--detach", "-q", str(checkout),
                          base.stdout.strip()], check=True)
    try:
        return {"before": time_definitions_import(checkout),
                "after": time_definitions_import(here)}
    finally:
        subprocess.run(git + ["worktree", "remove", "--force", str(checkout)], check=False)
        shutil.rmtree(checkout.parent, ignore_errors=True)


# --- report -----------------------------------------------------------------------------


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


def print_breakdown(timelines: list[dict[str, float]], steps: dict[str, list[float]]) -> None:
    print("\nWhere the time goes, one underwriting (seconds after publish; median over "
          f"{len(timelines)} runs, from the Dagster instance):")
    previous: float | None = None
    for label, key in MILESTONES:
        values = [t[key] for t in timelines if key in t]
        if not values:
            print(f"  {label:34} {'n/a':>8}")
            continue
        median = _median(values)
        delta = "" if previous is None else f"   (+{median - previous:.2f})"
        print(f"  {label:34} {median:8.2f}{delta}   [min {min(values):.2f}, max "
              f"{max(values):.2f}]")
        previous = median
    print("  step durations inside the run (median, STEP_START -> STEP_SUCCESS):")
    for kind, values in sorted(steps.items(), key=lambda kv: -_median(kv[1])):
        print(f"    {kind:44} {_median(values):6.2f} s  (x{len(values)})")


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  " + " | ".join(c.ljust(w) if j == 0 else c.rjust(w)
                                for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  " + "-+-".join("-" * w for w in widths))


# --- main -------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=200, help="events in the burst (0: skip)")
    parser.add_argument("--repeats", type=int, default=5, help="single-underwriting repeats")
    parser.add_argument("--tenants", type=int, default=4, help="lenders the burst is spread over")
    parser.add_argument("--workers", type=int, default=8,
                        help="plain pool: underwritings at a time in the burst")
    parser.add_argument("--burst-timeout", type=float, default=3600.0)
    parser.add_argument("--profiles", default="embedded,production",
                        help="engine profiles to measure, comma-separated")
    parser.add_argument("--celery-workers", type=int, default=1,
                        help="production: Celery worker processes")
    parser.add_argument("--celery-concurrency", type=int, default=8,
                        help="production: runs per worker (prefork children)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1",
                        help="production: broker and result backend")
    parser.add_argument("--import-baseline", default="7c7a037",
                        help="commit to time `import aura_dagster.definitions` against "
                             "(default: this branch's base on main)")
    parser.add_argument("--keep-data", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="dagster")
    previous_handler: Callable[..., Any] | int | None = signal.signal(signal.SIGTERM,
                                                                      _raise_interrupt)
    root = Path(tempfile.mkdtemp(prefix="aura-bench-engine-"))
    rng = random.Random(20240601)
    started = time.monotonic()
    try:
        return _run(args, root / "data", rng, started)
    except KeyboardInterrupt:
        _say("interrupted; everything started was stopped")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if args.keep_data:
            _say(f"data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class PlainResult:
    process: list[float]
    thread: list[float]
    burst: float | None
    cpu_per_underwriting: float


@dataclass
class ProfileResult:
    name: str
    start_seconds: float
    warm_up: float | None
    latencies: list[float]
    timelines: list[dict[str, float]]
    steps: dict[str, list[float]]
    burst: BurstResult | None
    # The plain pool's burst again, right after this profile's (same machine state).
    plain_burst_after: float | None = None


# The Pub/Sub emulator is the outside world, not the work: keep it out of the CPU counts.
NOT_WORK = ("pubsub-emulator", "cloud-pubsub", "java")


def bench_plain(local: LocalStack, workload: Workload, args: argparse.Namespace) -> PlainResult:
    _say(f"plain pool, one underwriting x {args.repeats} (process pool, then thread pool)")
    cpu_before = tree_cpu_seconds([os.getpid()], NOT_WORK)
    process = bench_plain_single(local, workload, args.repeats, "process")
    cpu = (tree_cpu_seconds([os.getpid()], NOT_WORK) - cpu_before) / (args.repeats + 1)
    thread = bench_plain_single(local, workload, args.repeats, "thread")
    _say(f"  process pool median {_median(process):.2f}s, thread pool median "
         f"{_median(thread):.2f}s")
    burst = None
    if args.burst:
        _say(f"plain pool, burst of {args.burst} ({args.workers} underwritings at a time)")
        cpu_before = tree_cpu_seconds([os.getpid()], NOT_WORK)
        burst = bench_plain_burst(local, workload, args.burst, args.workers)
        cpu = (tree_cpu_seconds([os.getpid()], NOT_WORK) - cpu_before) / args.burst
        _say(f"  drained in {burst:.1f}s")
    return PlainResult(process, thread, burst, cpu)


def bench_profile(name: str, local: LocalStack, workload: Workload, args: argparse.Namespace,
                  rng: random.Random, start_seconds: float,
                  cpu_roots: Callable[[], dict[str, list[int]]],
                  databases: Sequence[str] = ()) -> ProfileResult:
    reader = InstanceReader()
    try:
        _say(f"{name}: engine, one underwriting x {args.repeats} (+1 warm-up)")
        warm_up, latencies, published, completions = bench_engine_single(
            local, workload, args.repeats, rng)
        reader.wait_finished(list(published))
        timelines = reader.timelines(published, completions)
        steps = reader.step_durations(list(published))
        burst = None
        if args.burst:
            _say(f"{name}: engine, burst of {args.burst} events across {args.tenants} tenants")
            burst = bench_engine_burst(local, workload, reader, args.burst, args.burst_timeout,
                                       cpu_roots, databases)
            _say(f"  {burst.received}/{args.burst} processing.completed in "
                 f"{burst.elapsed:.1f}s")
            _say(f"plain pool, burst of {args.burst} again (after {name}; the ratio uses the "
                 "faster of the two)")
            plain_after = bench_plain_burst(local, workload, args.burst, args.workers)
            _say(f"  drained in {plain_after:.1f}s")
    finally:
        reader.close()
    return ProfileResult(name, start_seconds, warm_up, latencies, timelines, steps, burst,
                         plain_after if args.burst else None)


def _run(args: argparse.Namespace, data: Path, rng: random.Random, started: float) -> int:
    print(f"Engine benchmark ({dt.datetime.now():%Y-%m-%d %H:%M}, "
          f"{multiprocessing.cpu_count()} CPUs): one underwriting = 5 documents "
          f"(3 PDF statements, tax return, driver's license), 5 processors, Sunrise Bakery LLC")
    from aura_dagster.commands.local_stack import LocalStack

    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    imports = import_times(args.import_baseline) if args.import_baseline else None
    results: list[ProfileResult] = []
    with LocalStack(data / "embedded", sandbox_slow_seconds=30.0,
                    listener="bench-listener") as local:
        workload = seed_workload(local, args.tenants)
        _say(f"stack up in {data} (emulator, sandbox, SQLite store)")
        plain = bench_plain(local, workload, args)
        if "embedded" in profiles:
            t0 = time.perf_counter()
            local.start_dagster()
            _say(f"embedded: dagster-daemon started (logs in {local.log_dir})")
            daemon = local.daemon
            assert daemon is not None
            roles = {"daemon (+ code server, run workers)": [daemon.pid]}
            results.append(bench_profile("embedded", local, workload, args, rng,
                                         time.perf_counter() - t0, lambda: roles))
    if "production" in profiles:
        results.append(_run_production(args, data / "production", rng))
    if imports:
        _report_imports(imports, args.import_baseline)
    _report(args, plain, results)
    _say(f"benchmark done in {time.monotonic() - started:.0f}s")
    return 0


def _run_production(args: argparse.Namespace, data: Path, rng: random.Random) -> ProfileResult:
    from aura_dagster.commands.production_stack import (
        ProductionSettings,
        ProductionStack,
        drop_databases,
    )

    settings = ProductionSettings(database="aura_bench_production", redis_url=args.redis_url,
                                  workers=args.celery_workers,
                                  concurrency=args.celery_concurrency)
    try:
        with ProductionStack(data, settings, sandbox_slow_seconds=30.0,
                             listener="bench-listener") as stack:
            workload = seed_workload(stack, args.tenants)
            t0 = time.perf_counter()
            stack.start_dagster()
            start_seconds = time.perf_counter() - t0
            _say(f"production: code server, daemon and {settings.workers} Celery worker(s) x "
                 f"{settings.concurrency} up in {start_seconds:.1f}s (logs in {stack.log_dir})")
            procs = stack.processes
            roots = {"code server": [procs["code_server"].pid],
                     "daemon": [procs["daemon"].pid],
                     "celery run workers": [w.pid for w in procs["workers"]]}
            return bench_profile("production", stack, workload, args, rng, start_seconds,
                                 lambda: roots, databases=[settings.database,
                                                           settings.instance_database])
    finally:
        drop_databases(settings)


def _report_imports(imports: dict[str, tuple[float, float]], ref: str) -> None:
    (bw, bc), (aw, ac) = imports["before"], imports["after"]
    print("\n`import aura_dagster.definitions`, fresh interpreter, median of 5:")
    print_table([("tree", "wall", "CPU"),
                 (f"before ({ref})", _fmt(bw), _fmt(bc)),
                 ("after (this tree)", _fmt(aw), _fmt(ac)),
                 ("saved", _fmt(bw - aw), _fmt(bc - ac))])


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or not base:
        return ""
    return f"{value / base:.1f}x"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _report(args: argparse.Namespace, plain: PlainResult, results: list[ProfileResult]) -> None:
    names = [r.name for r in results]
    header = ("measurement", *names, "plain pool", "target (production)")
    pool_median = _median(plain.process)
    rows: list[tuple[str, ...]] = [header]

    def row(label: str, values: list[str], pool: str, target: str = "") -> None:
        rows.append((label, *values, pool, target))

    by = {r.name: r for r in results}
    prod = by.get("production")
    row(f"one underwriting, median of {args.repeats}",
        [_fmt(_median(r.latencies)) for r in results], _fmt(pool_median),
        f"<= {TARGET_PRODUCTION_MEDIAN_SECONDS:.1f} s: " + _verdict(
            prod is not None and _median(prod.latencies) <= TARGET_PRODUCTION_MEDIAN_SECONDS)
        if prod else "")
    row(f"one underwriting, p90 of {args.repeats}",
        [_fmt(_p90(r.latencies)) for r in results], _fmt(_p90(plain.process)))
    row("  ratio to the plain pool (median)",
        [_ratio(_median(r.latencies), pool_median) for r in results], "1.0x")
    row("first run after start (not in median)",
        [_fmt(r.warm_up) if r.warm_up is not None else "" for r in results], "")
    row("profile start (embedded: spawn only, workers start per run)",
        [_fmt(r.start_seconds) for r in results], "")
    if args.burst and plain.burst is not None:
        n = args.burst

        def pool_time(r: ProfileResult) -> float:
            # Conservative: the faster of the plain pool's bursts before and after it.
            assert plain.burst is not None
            return min(plain.burst, r.plain_burst_after or plain.burst)

        row(f"burst of {n}: time to drain",
            [_fmt(r.burst.elapsed) if r.burst else "" for r in results], _fmt(plain.burst))
        row("  plain pool's burst again, after the profile", [
            _fmt(r.plain_burst_after) if r.plain_burst_after else "" for r in results], "")
        prod_ratio = (prod.burst.elapsed / pool_time(prod)) if prod and prod.burst else None
        row(f"burst of {n}: ratio to the plain pool (faster of its two)",
            [_ratio(r.burst.elapsed, pool_time(r)) if r.burst else "" for r in results], "1.0x",
            f"<= {TARGET_BURST_RATIO:.0f}x: " + _verdict(
                prod_ratio is not None and prod_ratio <= TARGET_BURST_RATIO
                and prod.burst is not None and prod.burst.received == n
                and not prod.burst.duplicate_events and not prod.burst.duplicate_runs)
            if prod else "")
        row(f"burst of {n}: lost / duplicated (events, runs)",
            [f"{n - r.burst.received} / {r.burst.duplicate_events}, {r.burst.duplicate_runs}"
             if r.burst else "" for r in results], "", "0 / 0")
        row(f"burst of {n}: runs failed (re-run by run_retries)",
            [str(r.burst.failed_runs) if r.burst else "" for r in results], "")
        row(f"burst of {n}: throughput",
            [f"{r.burst.received / r.burst.elapsed:.2f} uw/s" if r.burst else ""
             for r in results], f"{n / plain.burst:.2f} uw/s")
        row("CPU-s per underwriting (Dagster processes, burst)",
            [f"{r.burst.cpu_seconds / n:.2f}" if r.burst else "" for r in results],
            f"{plain.cpu_per_underwriting:.2f}")
        orch = {r.name: r.burst.cpu_seconds / n - plain.cpu_per_underwriting
                for r in results if r.burst}
        row("orchestration CPU-s per underwriting (minus the pool's)",
            [f"{orch[r.name]:.2f}" if r.name in orch else "" for r in results], "0",
            f"<= {TARGET_ORCHESTRATION_CPU}: " + _verdict(
                orch.get("production", float("inf")) <= TARGET_ORCHESTRATION_CPU)
            if prod else "")
    print("\nEngine profiles (publish -> processing.completed) beside the plain pool (seed "
          "000: load_case +\nProcessPoolExecutor over processor.execute, no persistence or "
          "event), same documents, one run:")
    print_table(rows)
    for result in results:
        print(f"\n[{result.name}]", end="")
        print_breakdown(result.timelines, result.steps)
        if result.burst:
            print(f"  CPU-s per underwriting by process, burst of {args.burst}:")
            for role, cpu in result.burst.cpu_by_role.items():
                print(f"    {role:44} {cpu / args.burst:6.3f}")
            for db, row in result.burst.database_activity.items():
                print(f"  database {db}, per underwriting: " + ", ".join(
                    f"{k} {v / args.burst:.1f}" for k, v in row.items()))
    embedded = by.get("embedded")
    if embedded is not None:
        ratio = _median(embedded.latencies) / pool_median
        print("\nEarlier targets (embedded default):")
        print(f"  one underwriting within {TARGET_RATIO}x the plain pool: {ratio:.1f}x -> "
              f"{_verdict(ratio <= TARGET_RATIO)}")
        print(f"  publish -> processing.completed median under {TARGET_MEDIAN_SECONDS:.0f} s: "
              f"{_median(embedded.latencies):.2f} s -> "
              f"{_verdict(_median(embedded.latencies) < TARGET_MEDIAN_SECONDS)}")


if __name__ == "__main__":
    sys.exit(main())
