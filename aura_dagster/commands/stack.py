"""`aura-dagster stack` and `aura-dagster worker`: start a profile and keep it running.

    aura-dagster stack                          # embedded: SQLite, default launcher, no broker
    aura-dagster stack --profile production     # PostgreSQL, Redis, code server, Celery workers
    aura-dagster worker --concurrency 4         # one more warm run worker (any machine)

`stack` seeds the demo's underwritings and publishes them so there is something to watch,
prints the UI address and runs until Ctrl-C, SIGTERM or SIGHUP, which stop everything it
started (exit code 0: stopping is how a running stack ends; 128 + the signal's number when
it was stopped while starting). `worker` is the one command that starts a Celery run worker
of the production profile: it needs the same DAGSTER_HOME (production dagster.yaml),
AURA_DAGSTER_PG_URL and AURA_CELERY_BROKER / AURA_CELERY_BACKEND as the daemon, and the
engine's own settings (AURA_ENV=production and its variables).
"""

from __future__ import annotations

import os
import socket
import sys
import time
import warnings
from contextlib import suppress
from pathlib import Path

from aura_dagster.celery_config import worker_args


def _say(message: str) -> None:
    # After SIGHUP the terminal may be gone: a line lost must not stop the clean-up.
    with suppress(OSError):
        print(f"[stack {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_stack(profile: str, *, workers: int, concurrency: int, port: int,
              seed_demo: bool = True) -> int:
    from aura_dagster.commands.local_stack import StopRequested, stop_on_signals

    with stop_on_signals():
        try:
            return _run_stack(profile, workers=workers, concurrency=concurrency, port=port,
                              seed_demo=seed_demo)
        except StopRequested as stop:  # before the stack was up: it did not do its job
            _say(f"stopped ({stop.name}) while starting")
            return stop.exit_code


def _run_stack(profile: str, *, workers: int, concurrency: int, port: int,
               seed_demo: bool) -> int:
    from aura_dagster.commands.local_stack import LocalStack, StopRequested, free_port
    from aura_dagster.commands.production_stack import ProductionSettings, ProductionStack
    from aura_dagster.demo_cases import build_demo_cases
    from aura_dagster.environments import data_dir

    warnings.filterwarnings("ignore", module="dagster")
    root = data_dir() / f"stack-{profile}"
    stack: LocalStack
    if profile == "production":
        stack = ProductionStack(root, ProductionSettings(workers=workers,
                                                         concurrency=concurrency),
                                sandbox_slow_seconds=30.0)
    else:
        stack = LocalStack(root, sandbox_slow_seconds=30.0)
    with stack:
        stores = stack.open_stores()
        cases = build_demo_cases(stores, root / "documents") if seed_demo else []
        port = free_port(port)
        stack.start_dagster(webserver_port=port)
        _say(f"{profile} profile up; UI on http://127.0.0.1:{port} (logs in {stack.log_dir})")
        for case in cases:
            stack.publish_created(case.event)
        if cases:
            _say(f"published {len(cases)} demo underwriting.created events")
        _say("Ctrl-C to stop")
        try:
            while not stack.daemon_exited:
                time.sleep(1.0)
        except StopRequested as stop:
            _say(f"stopping ({stop.name}): Dagster, the emulator and the sandbox")
            return 0
        _say(f"the Dagster daemon exited: see {stack.log_dir}")
        return 1


def run_worker(*, concurrency: int, name: str | None, loglevel: str) -> int:
    """Replace this process with a Celery worker on the production app (warm, prefork)."""
    celery = str(Path(sys.executable).parent / "celery")
    node = f"{name or 'aura'}-{os.getpid()}@{socket.gethostname()}"
    os.execv(celery, worker_args(celery, concurrency=concurrency, node=node, loglevel=loglevel))
    return 0  # not reached
