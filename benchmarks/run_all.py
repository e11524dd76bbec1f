"""Run every benchmark in turn (what `make bench` does); each prints its own figures.

    .venv/bin/python benchmarks/run_all.py

Each script runs as if started on its own (`runpy`, run name `__main__`, no arguments), so
its defaults apply. The exit code is the first non-zero one, else 0.
"""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("bench_statement_parsing.py", "bench_storage.py", "bench_engine.py",
              "bench_steps.py")


def run_one(path: Path) -> int:
    saved_argv = sys.argv
    sys.argv = [str(path)]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved_argv
    return 0


def main() -> int:
    status = 0
    for name in BENCHMARKS:
        print(f"\n===== {name} =====", flush=True)
        started = time.monotonic()
        code = run_one(HERE / name)
        print(f"===== {name}: exit {code} in {time.monotonic() - started:.0f}s =====",
              flush=True)
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
