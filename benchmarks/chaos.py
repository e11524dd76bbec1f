"""Chaos run: the fault-injection tests' faults at a larger N (a script, not a test).

    .venv/bin/python benchmarks/chaos.py [--n 30] [--crashes 2] [--kill-interval 2]

One local stack (Pub/Sub emulator, sandbox vendors, the repo's dagster.yaml, a real
dagster-daemon) with the store and warehouse on a throw-away PostgreSQL database
(127.0.0.1:5432, dropped at the end). Each underwriting: a PDF bank statement and a tax
return, three processors (bank statement, tax return, secretary of state over HTTP).
Three phases, N fresh underwritings each:

1. host crash: publish N events; while they run, SIGKILL the daemon, code server and run
   workers together, restart them; `--crashes` times.
2. database outage: publish N events and terminate every connection of the database every
   `--kill-interval` seconds until all have answered.
3. duplicate events: publish every event 3 times at once, and once more after its run.

Printed per phase: lost (no processing.completed), duplicated (more than one), stuck (runs
never finished, underwritings left `processing`, pool slots held by ended runs), time.
The baseline column is what issue 8 measured before run monitoring and run retries.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASELINE = {
    "host crash": "2-10 of 30 lost; runs STARTING/STARTED forever",
    "database outage": "1 of 10 lost (run FAILED, left processing)",
    "duplicate events": "1 run, 1 completion (already held)",
}
PURCHASES = {"p_bank_statement": None, "p_tax_return": None, "p_secretary_of_state": None}
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def _say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Workload:
    def __init__(self, local: Any, stores: Any) -> None:
        from aura_dagster.sample_data import write_bank_statement_samples
        from aura_dagster.sample_data.tax_documents import write_tax_return_pdf
        from aura_dagster.services.seeding import register_tenant

        self.local, self.stores = local, stores
        self.root = local.data_dir / "documents"
        # Three months of statements: fewer parks the case (default lender rule short_history).
        written = {f.path.name: f.path
                   for f in write_bank_statement_samples(self.root / "statements")}
        statements = [written[f"first_demo_bank_2024-0{m}.pdf"] for m in (1, 2, 3)]
        tax = write_tax_return_pdf(self.root / "tax_return.pdf",
                                   business_name="Sunrise Bakery LLC", tax_year=2023,
                                   form="1120-S", gross_receipts=612_400, net_income=88_150)
        self.documents = [*((path, "bank_statement") for path in statements),
                          (tax, "tax_return")]
        self.tenants = [f"org_chaos_{i}" for i in range(4)]
        for org in self.tenants:
            register_tenant(stores, org, PURCHASES)
        self.count = 0

    def fresh(self, prefix: str, n: int) -> list[Any]:
        from aura_dagster.services.seeding import (
            DocumentSpec,
            UnderwritingSpec,
            register_underwriting,
        )

        specs = []
        for _ in range(n):
            self.count += 1
            uid = f"uw_{prefix}_{self.count:04d}"
            spec = UnderwritingSpec(uid, self.tenants[self.count % len(self.tenants)],
                                    "Sunrise Bakery LLC", "CA", tuple(
                                        DocumentSpec(f"{uid}_doc_{i}", path, kind)
                                        for i, (path, kind) in enumerate(self.documents, 1)))
            register_underwriting(self.stores, spec, self.root)
            specs.append(spec)
        return specs

    def publish(self, specs: list[Any], times: int = 1) -> None:
        from aura_dagster.services.seeding import underwriting_created_event

        for _ in range(times):
            for spec in specs:
                self.local.publish_created(underwriting_created_event(spec))


def _phase(name: str, workload: Workload, instance: Any, n: int, timeout: float,
           start: Callable[[list[Any]], Any],
           on_poll: Callable[[set[str]], None] | None = None) -> dict[str, Any]:
    from aura_dagster.commands.faults import collect_completions, tally, wait_runs_finished

    specs = workload.fresh(name.split()[0], n)
    uids = [s.underwriting_id for s in specs]
    _say(f"{name}: {n} underwritings")
    started = time.monotonic()
    context = start(specs)
    completions = collect_completions(workload.local, uids, timeout=timeout, grace=10.0,
                                      on_poll=on_poll)
    wait_runs_finished(instance, uids, timeout=120.0)
    elapsed = time.monotonic() - started
    if context is not None:
        context.stop()
    result = tally(instance, workload.stores, completions)
    _say(f"{name}: {result.line()} in {elapsed:.0f}s")
    return {"name": name, "n": n, "tally": result, "seconds": elapsed, "context": context,
            "specs": specs}


def run(args: argparse.Namespace, root: Path) -> int:
    import psycopg
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from aura_dagster.commands.faults import BackendKiller, collect_completions, kill_host
    from aura_dagster.commands.local_stack import LocalStack

    database = f"aura_chaos_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    url = f"postgresql+psycopg://{PG_ADMIN['user']}@{PG_ADMIN['host']}:{PG_ADMIN['port']}/" \
          f"{database}"
    rows = []
    try:
        with LocalStack(root / "data", listener="chaos-listener", database_url=url) as local:
            workload = Workload(local, local.open_stores())
            local.start_dagster()
            _say(f"stack up (logs in {local.log_dir})")
            with DagsterInstance.from_config(str(local.home)) as instance:
                # 1. host crashes, spread over the burst
                crashes: list[float] = []

                def crash_when_due(pending: set[str]) -> None:
                    due = len(crashes) * args.n / (args.crashes + 1)  # first: at once
                    if len(crashes) >= args.crashes or args.n - len(pending) < due - 1:
                        return
                    busy = instance.get_runs(filters=RunsFilter(
                        statuses=[DagsterRunStatus.STARTED]))
                    if not busy:
                        return
                    killed = kill_host(local)
                    crashes.append(time.monotonic())
                    _say(f"  host crash {len(crashes)}: SIGKILLed {len(killed)} processes "
                         f"({len(busy)} runs STARTED); restarting")
                    local.start_dagster()

                rows.append(_phase("host crash", workload, instance, args.n, args.timeout,
                                   workload.publish, crash_when_due))
                rows[-1]["name"] += f" x{len(crashes)}"

                # 2. database outage
                def with_killer(specs: list[Any]) -> BackendKiller:
                    killer = BackendKiller(url, interval=args.kill_interval).__enter__()
                    workload.publish(specs)
                    return killer

                rows.append(_phase("database outage", workload, instance, args.n,
                                   args.timeout, with_killer))
                killer = rows[-1]["context"]
                rows[-1]["name"] += (f" ({killer.terminated} backends killed in "
                                     f"{killer.rounds} rounds)")

                # 3. duplicate events: 3 at once, then once more after the run
                def duplicated(specs: list[Any]) -> None:
                    workload.publish(specs, times=3)

                rows.append(_phase("duplicate events", workload, instance, args.n,
                                   args.timeout, duplicated))
                last = rows[-1]
                uids = [spec.underwriting_id for spec in last["specs"]]
                workload.publish(last["specs"])  # redelivered after the run exists
                late = collect_completions(local, uids, timeout=20.0)
                for uid, events in late.items():
                    if events:  # a second answer: a duplicate
                        last["tally"].duplicated[uid] = 1 + len(events)
                runs = instance.get_runs(filters=RunsFilter(job_name="process_underwriting"))
                per_case = [sum(1 for r in runs if r.tags.get("dagster/partition") == uid)
                            for uid in uids]
                last["name"] += f" (x4; runs per case: max {max(per_case)})"
    finally:
        with psycopg.connect(**PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _report(rows)
    return 0 if all(row["tally"].ok for row in rows) else 1


def _report(rows: list[dict[str, Any]]) -> None:
    print("\nFaults against the engine (real daemon, emulator, PostgreSQL):")
    header = ("fault", "N", "lost", "duplicated", "stuck", "time", "before (issue 8)")
    table = [header]
    for row in rows:
        t = row["tally"]
        stuck = len(t.stuck_runs) + len(t.left_processing) + len(t.held_slots)
        base = next(v for k, v in BASELINE.items() if row["name"].startswith(k))
        table.append((row["name"], str(row["n"]), str(len(t.lost)), str(len(t.duplicated)),
                      str(stuck), f"{row['seconds']:.0f} s", base))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print("  " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  " + "-+-".join("-" * w for w in widths))
    for row in rows:
        t = row["tally"]
        print(f"  {row['name']}: outcomes {dict(t.outcomes)}, runs {dict(t.runs)}, "
              f"{t.retried_runs} run retries")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="underwritings per phase")
    parser.add_argument("--crashes", type=int, default=2, help="host crashes in phase 1")
    parser.add_argument("--kill-interval", type=float, default=2.0,
                        help="seconds between database backend kills in phase 2")
    parser.add_argument("--timeout", type=float, default=900.0, help="per phase")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="dagster")
    root = Path(tempfile.mkdtemp(prefix="aura-chaos-"))
    try:
        return run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
