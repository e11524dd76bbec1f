"""Steps, events and CPU per underwriting: this tree beside a baseline commit (a script, not a
test).

    .venv/bin/python benchmarks/bench_steps.py [--baseline REF] [--repeats 3]

Each side runs in its own process on its own local stack (Pub/Sub emulator, sandbox vendors,
SQLite store, a DAGSTER_HOME with the repo's dagster.yaml): one warm-up underwriting, then
`--repeats` fresh copies of the demo's clean case (five processors, five documents), each
through `execute_job` in-process with the jobs' async executor. The baseline is the tree of
REF (`git archive`, put first on PYTHONPATH); the figures are printed side by side:
steps per run, events per run, wall seconds and CPU seconds (this process: the run, its
steps and the instance writes) per underwriting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_UNDERWRITING = "uw_demo_1001"  # Sunrise Bakery LLC: 5 documents, auto-approved
DEFAULT_BASELINE = "53bfd55"  # main before issue 11 part 3 (16 steps per run)


def _measure(repeats: int, data: Path) -> dict[str, Any]:
    from dagster import DagsterEventType, DagsterInstance, execute_job
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from aura_dagster.commands.local_stack import LocalStack
    from aura_dagster.demo_cases import ACME, TENANT_PURCHASES, build_demo_cases
    from aura_dagster.services.seeding import (
        DocumentSpec,
        UnderwritingSpec,
        register_tenant,
        register_underwriting,
    )

    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with LocalStack(data, listener="bench-steps-listener") as local:
        stores = local.open_stores()
        root = local.data_dir / "documents"
        template = next(c.spec for c in build_demo_cases(stores, root)
                        if c.spec.underwriting_id == TEMPLATE_UNDERWRITING)
        register_tenant(stores, "org_bench_steps", TENANT_PURCHASES[ACME])
        job = ReconstructableRepository.for_module(
            "aura_dagster.definitions", "defs").get_reconstructable_job("process_underwriting")
        instance = DagsterInstance.get()
        rows = []
        for n in range(repeats + 1):
            uid = f"uw_steps_{n:03d}"
            register_underwriting(stores, UnderwritingSpec(
                uid, "org_bench_steps", template.business_name, template.business_state,
                tuple(DocumentSpec(f"{uid}_doc_{i}", d.path, d.document_type)
                      for i, d in enumerate(template.documents, start=1))), root)
            instance.add_dynamic_partitions("underwriting", [uid])
            wall, cpu = time.perf_counter(), time.process_time()
            result = execute_job(job, instance=instance, run_config=quiet,
                                 tags={"dagster/partition": uid})
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert result.success, uid
            logs = instance.all_logs(result.run_id)
            steps = {e.dagster_event.step_key for e in logs if e.dagster_event
                     and e.dagster_event.event_type == DagsterEventType.STEP_START}
            if n:  # the first run pays the imports and the warehouse tables: warm-up
                rows.append({"steps": len(steps), "events": len(logs), "wall_s": wall,
                             "cpu_s": cpu})
        instance.dispose()
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def _side(pythonpath: Path | None, repeats: int) -> dict[str, Any]:
    env = {**os.environ}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    with tempfile.TemporaryDirectory(prefix="aura-bench-steps-") as data:
        done = subprocess.run([sys.executable, __file__, "--worker", "--repeats", str(repeats),
                               "--data", data], env=env, capture_output=True, text=True,
                              check=False, cwd=pythonpath or ROOT)
    if done.returncode:
        raise SystemExit(f"bench worker failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _baseline_tree(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_measure(args.repeats, args.data / "stack")))
        return 0
    with tempfile.TemporaryDirectory(prefix="aura-bench-base-") as tree:
        base = _side(_baseline_tree(args.baseline, Path(tree)), args.repeats)
    now = _side(None, args.repeats)
    print(f"one underwriting (5 processors), median of {args.repeats} runs, execute_job "
          f"in-process:")
    print(f"{'':18}{'baseline ' + args.baseline:>18}{'this tree':>14}{'ratio':>9}")
    for key, label in (("steps", "steps per run"), ("events", "events per run"),
                       ("wall_s", "wall seconds"), ("cpu_s", "CPU seconds")):
        ratio = base[key] / now[key] if now[key] else float("nan")
        print(f"{label:18}{base[key]:>18.2f}{now[key]:>14.2f}{ratio:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
