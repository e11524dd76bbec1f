"""Storage benchmark on PostgreSQL (a script, not a test).

Creates a throw-away database, migrates it, loads 100,000 underwritings x 30 factors with
COPY, then prints:
  - execution creates per second through ExecutionRepository.create_execution
    (one thread, and several threads sharing the pool);
  - latency (median, p95) of fetching all factors of one underwriting and of one factor
    across all underwritings, through FactorRepository;
  - the EXPLAIN plans of those two queries, to show the indexes in use.
The database is dropped at the end.

    .venv/bin/python benchmarks/bench_storage.py [--host 127.0.0.1 --port 5432 --user postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from aura_dagster.storage import Database, Stores

N_UNDERWRITINGS = 100_000
N_FACTORS = 30
N_ORGS = 50
N_EXECUTION_CREATES = 2_000
THREADS = 8


def factor_value(i: int, f: int) -> Any:
    if f < 20:
        return round(random.uniform(0, 100_000), 2) if f % 2 else random.randint(0, 40)
    if f < 25:
        return bool((i + f) % 2)
    return random.choice(["active", "inactive", "dissolved", "unknown"])


def load(url_parts: dict[str, Any], dbname: str) -> float:
    """COPY the underwritings and factors; indexes are rebuilt after, as bulk loads do."""
    started = time.perf_counter()
    now = "2024-06-01 00:00:00+00"
    with psycopg.connect(dbname=dbname, **url_parts) as conn:
        index_defs = [row[0] for row in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'underwriting_factors' "
            "AND indexname LIKE 'ix_%'")]
        for name in [row[0] for row in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'underwriting_factors' "
                "AND indexname LIKE 'ix_%'")]:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.cursor() as cur:
            with cur.copy("COPY underwritings (id, organization_id, status, business_name, "
                          "business_state, created_at, updated_at) FROM STDIN") as copy:
                for i in range(N_UNDERWRITINGS):
                    copy.write_row((f"uw_{i:06d}", f"org_{i % N_ORGS:03d}", "completed",
                                    f"Business {i}", "CA", now, now))
            # Rows are generated consistent with their foreign keys; skip the per-row FK
            # triggers during the load (superuser setting, this session only).
            cur.execute("SET session_replication_role = replica")
            with cur.copy("COPY underwriting_factors (underwriting_id, factor_name, "
                          "organization_id, value, value_numeric, processor, produced_at) "
                          "FROM STDIN") as copy:
                lines: list[str] = []
                for i in range(N_UNDERWRITINGS):
                    uw, org = f"uw_{i:06d}", f"org_{i % N_ORGS:03d}"
                    for f in range(N_FACTORS):
                        value = factor_value(i, f)
                        numeric = "\\N" if isinstance(value, bool | str) else str(value)
                        lines.append(f"{uw}\tf_{f:02d}\t{org}\t{json.dumps(value)}\t{numeric}"
                                     f"\tp_bank_statement\t{now}\n")
                    if len(lines) >= 60_000:
                        copy.write("".join(lines))
                        lines.clear()
                copy.write("".join(lines))
            cur.execute("SET session_replication_role = DEFAULT")
        for definition in index_defs:
            conn.execute(definition)
        conn.commit()
    with psycopg.connect(dbname=dbname, autocommit=True, **url_parts) as conn:
        conn.execute("VACUUM ANALYZE underwritings")
        conn.execute("VACUUM ANALYZE underwriting_factors")
    return time.perf_counter() - started


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, samples: Sequence[float]) -> None:
    print(f"  {label:<58} median {statistics.median(samples):8.2f} ms   "
          f"p95 {percentile(samples, 0.95):8.2f} ms   (n={len(samples)})")


def bench_execution_creates(stores: Stores) -> tuple[float, float]:
    stores.processors.create_purchased_processor("org_000", "p_bench")
    ups = [stores.processors.provision_underwriting_processors(f"uw_{i:06d}", "org_000")[0]
           for i in range(0, 20 * N_ORGS, N_ORGS)]

    def create(n: int) -> None:
        up = ups[n % len(ups)]
        stores.executions.create_execution(
            up["underwriting_id"], up["id"], "org_000", "p_bench", {"documents": ["doc_1"]},
            uuid.uuid4().hex, ["rev_1"], "dochash", execution_id=str(uuid.uuid4()),
            processor_version="1.0.0")

    started = time.perf_counter()
    for n in range(N_EXECUTION_CREATES):
        create(n)
    serial = N_EXECUTION_CREATES / (time.perf_counter() - started)
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(create, range(N_EXECUTION_CREATES)))
    threaded = N_EXECUTION_CREATES / (time.perf_counter() - started)
    return serial, threaded


def explain(db: Database, sql: str, params: dict[str, Any]) -> str:
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql), params)
        return "\n".join("    " + r[0] for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args(argv)
    random.seed(7)
    parts = {"host": args.host, "port": args.port, "user": args.user}
    dbname = f"aura_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **parts) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    db = Database(f"postgresql+psycopg://{args.user}@{args.host}:{args.port}/{dbname}",
                  pool_size=THREADS, max_overflow=0)
    try:
        db.upgrade()
        print(f"database {dbname}: migrated")
        seconds = load(parts, dbname)
        print(f"loaded {N_UNDERWRITINGS:,} underwritings x {N_FACTORS} factors "
              f"({N_UNDERWRITINGS * N_FACTORS:,} rows) in {seconds:.1f} s")
        stores = Stores(db, catalog={})

        serial, threaded = bench_execution_creates(stores)
        print("\nexecution creates (ExecutionRepository.create_execution, one transaction each)")
        print(f"  1 thread : {serial:8.0f} creates/s")
        print(f"  {THREADS} threads: {threaded:8.0f} creates/s")

        print("\nfactor reads (FactorRepository, rows as dicts)")
        ids = [f"uw_{random.randrange(N_UNDERWRITINGS):06d}" for _ in range(300)]
        it = iter(ids)
        report("all 30 factors of one underwriting (get_factors)",
               timed(lambda: stores.factors.get_factors(next(it)), len(ids)))
        it2 = iter(ids)
        report("... with organization filter",
               timed(lambda: stores.factors.get_factors(next(it2), "org_001"), len(ids)))
        names = iter([f"f_{random.randrange(N_FACTORS):02d}" for _ in range(15)])
        report(f"one factor across all {N_UNDERWRITINGS:,} underwritings",
               timed(lambda: stores.factors.get_factor_across_underwritings(next(names)), 15))
        names = iter([f"f_{random.randrange(N_FACTORS):02d}" for _ in range(30)])
        report(f"one factor across one organization ({N_UNDERWRITINGS // N_ORGS:,} rows)",
               timed(lambda: stores.factors.get_factor_across_underwritings(
                   next(names), "org_007"), 30))

        print("\nplans")
        print("  all factors of one underwriting:")
        print(explain(db, "SELECT * FROM underwriting_factors WHERE underwriting_id = :u "
                          "ORDER BY factor_name", {"u": ids[0]}))
        print("  one factor across all underwritings:")
        print(explain(db, "SELECT * FROM underwriting_factors WHERE factor_name = :f "
                          "ORDER BY underwriting_id", {"f": "f_03"}))
        print("  one factor across one organization:")
        print(explain(db, "SELECT * FROM underwriting_factors WHERE organization_id = :o "
                          "AND factor_name = :f ORDER BY underwriting_id",
                      {"o": "org_007", "f": "f_03"}))
    finally:
        db.dispose()
        if not args.keep:
            with psycopg.connect(dbname="postgres", autocommit=True, **parts) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    raise SystemExit(main())
