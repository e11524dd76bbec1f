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
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import random
import shutil
import signal
import statistics
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


def bench_engine_burst(local: LocalStack, workload: Workload, reader: InstanceReader, n: int,
                       timeout: float) -> tuple[float, int, list[str]]:
    specs = workload.fresh("burst", n)
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

    done = wait_for_completions(local, [s.underwriting_id for s in specs], timeout=timeout,
                                on_completion=count, on_poll=progress)
    elapsed = time.perf_counter() - started
    if local.daemon_exited:
        _say(f"the Dagster daemon exited: see {local.log_dir}")
    return elapsed, len(done), [s.underwriting_id for s in specs]


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


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
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


def _run(args: argparse.Namespace, data: Path, rng: random.Random, started: float) -> int:
    print(f"Engine benchmark ({dt.datetime.now():%Y-%m-%d %H:%M}, "
          f"{multiprocessing.cpu_count()} CPUs): one underwriting = 5 documents "
          f"(3 PDF statements, tax return, driver's license), 5 processors, Sunrise Bakery LLC")
    from aura_dagster.commands.local_stack import LocalStack

    with LocalStack(data, sandbox_slow_seconds=30.0, listener="bench-listener") as local:
        workload = seed_workload(local, args.tenants)
        _say(f"stack up in {data} (emulator, sandbox, SQLite store)")

        _say(f"plain pool, one underwriting x {args.repeats} (process pool, then thread pool)")
        plain_process = bench_plain_single(local, workload, args.repeats, "process")
        plain_thread = bench_plain_single(local, workload, args.repeats, "thread")
        _say(f"  process pool median {_median(plain_process):.2f}s, thread pool median "
             f"{_median(plain_thread):.2f}s")
        plain_burst = None
        if args.burst:
            _say(f"plain pool, burst of {args.burst} ({args.workers} underwritings at a time)")
            plain_burst = bench_plain_burst(local, workload, args.burst, args.workers)
            _say(f"  drained in {plain_burst:.1f}s")

        local.start_dagster()
        _say(f"dagster-daemon started (logs in {local.log_dir})")
        reader = InstanceReader()
        try:
            _say(f"engine, one underwriting x {args.repeats} (+1 warm-up)")
            warm_up, latencies, published, completions = bench_engine_single(
                local, workload, args.repeats, rng)
            reader.wait_finished(list(published))
            timelines = reader.timelines(published, completions)
            steps = reader.step_durations(list(published))
            burst: tuple[float, int, list[str]] | None = None
            if args.burst:
                _say(f"engine, burst of {args.burst} events across {args.tenants} tenants")
                burst = bench_engine_burst(local, workload, reader, args.burst,
                                           args.burst_timeout)
                _say(f"  {burst[1]}/{args.burst} processing.completed in {burst[0]:.1f}s")
        finally:
            reader.close()

    _report(args, plain_process, plain_thread, plain_burst, warm_up, latencies, timelines,
            steps, burst)
    _say(f"benchmark done in {time.monotonic() - started:.0f}s")
    return 0


def _report(args: argparse.Namespace, plain_process: list[float], plain_thread: list[float],
            plain_burst: float | None, warm_up: float | None, latencies: list[float],
            timelines: list[dict[str, float]], steps: dict[str, list[float]],
            burst: tuple[float, int, list[str]] | None) -> None:
    engine_median, pool_median = _median(latencies), _median(plain_process)
    rows = [("measurement", "engine", "plain pool", "ratio"),
            (f"one underwriting, median of {len(latencies)}", _fmt(engine_median),
             _fmt(pool_median), f"{engine_median / pool_median:.1f}x"),
            (f"one underwriting, p90 of {len(latencies)}", _fmt(_p90(latencies)),
             _fmt(_p90(plain_process)), f"{_p90(latencies) / _p90(plain_process):.1f}x"),
            ("one underwriting, thread pool instead (median)", _fmt(engine_median),
             _fmt(_median(plain_thread)), f"{engine_median / _median(plain_thread):.1f}x")]
    if warm_up is not None:
        rows.append(("first run after daemon start (not in median)", _fmt(warm_up), "", ""))
    if burst is not None and plain_burst is not None:
        elapsed, received, _ = burst
        complete = "" if received == args.burst else f" ({received}/{args.burst} received)"
        rows += [(f"burst of {args.burst}: time to drain", _fmt(elapsed) + complete,
                  _fmt(plain_burst), f"{elapsed / plain_burst:.1f}x"),
                 (f"burst of {args.burst}: throughput", f"{received / elapsed:.2f} uw/s",
                  f"{args.burst / plain_burst:.2f} uw/s",
                  f"{(args.burst / plain_burst) / (received / elapsed):.1f}x")]
    print("\nEngine (publish -> processing.completed, Dagster daemon + async executor) beside "
          "the plain pool\n(seed 000: load_case + ProcessPoolExecutor over processor.execute, "
          "no persistence or event):")
    print_table(rows)
    print_breakdown(timelines, steps)
    ratio = engine_median / pool_median
    print("\nTargets (from the issue):")
    print(f"  one underwriting within {TARGET_RATIO}x the plain pool: {ratio:.1f}x -> "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    print(f"  publish -> processing.completed median under {TARGET_MEDIAN_SECONDS:.0f} s: "
          f"{engine_median:.2f} s -> "
          f"{'met' if engine_median < TARGET_MEDIAN_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
