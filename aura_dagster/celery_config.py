"""Celery settings shared by the run workers (celery_app) and the stack that starts them.

No side effects: importing this does not import the project (celery_app does, on purpose).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
BROKER_ENV = "AURA_CELERY_BROKER"
BACKEND_ENV = "AURA_CELERY_BACKEND"
QUEUE = "dagster"  # dagster-celery's default queue: what CeleryRunLauncher routes runs to


def app_args(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Celery settings CeleryRunLauncher builds from the instance's run_launcher config,
    from the same variables as deploy/production/dagster.yaml."""
    from dagster_celery.config import DEFAULT_CONFIG

    env = os.environ if environ is None else environ
    broker = env.get(BROKER_ENV, DEFAULT_BROKER)
    return {
        "broker": broker,
        "backend": env.get(BACKEND_ENV, broker),
        "include": [],
        "config_source": dict(DEFAULT_CONFIG),
        "task_default_queue": QUEUE,
    }


def worker_args(celery_bin: str, *, concurrency: int, node: str,
                loglevel: str = "INFO", queue: str = QUEUE) -> list[str]:
    """The run worker's command line. Prefork on purpose: revoke (terminate a run) signals
    the pool child running it; `--pool=threads` cannot. One run per child at a time."""
    return [celery_bin, "-A", "aura_dagster.celery_app", "worker", "--pool=prefork",
            f"--concurrency={concurrency}", "--prefetch-multiplier=1", "-Q", queue,
            "-n", node, f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]


def with_queue(instance_yaml: str, queue: str) -> str:
    """The production instance config routing runs to `queue` (the run launcher's
    `default_queue`): stacks sharing one Redis (test sessions side by side) never take each
    other's runs when each has its own queue and workers."""
    marker = "  class: AuraCeleryRunLauncher\n  config:\n"
    if marker not in instance_yaml:
        raise ValueError("not the production instance config (no AuraCeleryRunLauncher)")
    return instance_yaml.replace(marker, f"{marker}    default_queue: {queue}\n", 1)
