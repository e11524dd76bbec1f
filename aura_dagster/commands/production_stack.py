"""The production profile on one machine: the topology deploy/ describes, as processes.

    with ProductionStack(data_dir, ProductionSettings.local()) as stack:
        stores = stack.open_stores()       # PostgreSQL store (not SQLite)
        stack.start_dagster(webserver_port=3000)
        ...                                  # same API as LocalStack

What runs (each its own process group, logs in `data_dir/logs/`):
- a code server started on its own (`dagster api grpc -m aura_dagster.definitions`), named
  as `grpc_server` in the generated workspace.yaml: imported once, never re-imported;
- `aura-dagster daemon` (= `dagster-daemon run`, sensor loop 0.5 s: sensors, queue, run
  monitoring, run retries);
- `dagster-webserver` when a port is given;
- N Celery workers (`celery -A aura_dagster.celery_app worker`, prefork, warm).
The instance is deploy/production/dagster.yaml (PostgreSQL via psycopg2, CeleryRunLauncher
on Redis). The Pub/Sub emulator and the sandbox vendors still stand in for Google and the
vendors, as in the embedded default. The stack owns its PostgreSQL database: it is dropped
and created anew at start, like the data dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura_dagster.celery_config import BACKEND_ENV, BROKER_ENV, QUEUE, worker_args
from aura_dagster.commands.local_stack import PROJECT_ROOT, LocalStack, free_port, managed_process

PRODUCTION_DIR = PROJECT_ROOT / "deploy" / "production"
INSTANCE_YAML = PRODUCTION_DIR / "dagster.yaml"
DAGSTER_PG_URL_ENV = "AURA_DAGSTER_PG_URL"
DEFAULT_POSTGRES = "postgres@127.0.0.1:5432"
DEFAULT_DATABASE = "aura_local_production"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
CODE_SERVER_PORT = 4266


@dataclass(frozen=True)
class ProductionSettings:
    """Where the production profile's services are, and how many run workers to start."""

    postgres: str = DEFAULT_POSTGRES  # user@host:port, trust or .pgpass auth
    database: str = DEFAULT_DATABASE
    redis_url: str = DEFAULT_REDIS
    workers: int = 1  # Celery worker processes (scale out: more machines, same settings)
    concurrency: int = 4  # runs at a time per worker (prefork pool children)

    @property
    def instance_database(self) -> str:
        # Its own database: Dagster's and the store's Alembic both keep `alembic_version`.
        return f"{self.database}_dagster"

    @property
    def instance_url(self) -> str:
        # psycopg2, not psycopg 3: dagster-postgres's NOTIFY fails on psycopg 3.
        return f"postgresql+psycopg2://{self.postgres}/{self.instance_database}"

    @property
    def store_url(self) -> str:
        return f"postgresql+psycopg://{self.postgres}/{self.database}"


def _admin(settings: ProductionSettings) -> Any:  # psycopg.Connection
    import psycopg

    user, _, hostport = settings.postgres.rpartition("@")
    host, _, port = hostport.partition(":")
    return psycopg.connect(host=host, port=int(port or 5432), user=user or None,
                           dbname="postgres", autocommit=True)


def recreate_databases(settings: ProductionSettings) -> None:
    """Drop and create the stack's own two databases (never any other)."""
    with _admin(settings) as conn:
        for name in (settings.database, settings.instance_database):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_databases(settings: ProductionSettings) -> None:
    """Drop the stack's own two databases (benchmarks clean up after themselves)."""
    with _admin(settings) as conn:
        for name in (settings.database, settings.instance_database):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_env(settings: ProductionSettings) -> dict[str, str]:
    """What the instance yaml, the workers and the engine's resources read."""
    return {
        DAGSTER_PG_URL_ENV: settings.instance_url,
        BROKER_ENV: settings.redis_url,
        BACKEND_ENV: settings.redis_url,
        # The engine's store and warehouse on the same PostgreSQL (warehouse in its schema).
        "AURA_DATABASE_URL": settings.store_url,
        "AURA_WAREHOUSE_URL": settings.store_url,
        "AURA_WAREHOUSE_SCHEMA": "warehouse",
    }


def write_workspace(path: Path, host: str, port: int) -> Path:
    path.write_text("load_from:\n  - grpc_server:\n"
                    f"      host: {host}\n      port: {port}\n"
                    "      location_name: aura_dagster\n")
    return path


def wait_for_code_server(port: int, proc: subprocess.Popen[bytes], env: Mapping[str, str],
                         timeout: float = 90.0) -> None:
    """Until the code server answers a health check (it imports the project first)."""
    deadline = time.monotonic() + timeout
    check = [str(Path(sys.executable).parent / "dagster"), "api", "grpc-health-check",
             "-p", str(port), "-h", "127.0.0.1"]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the code server exited with code {proc.returncode}")
        if subprocess.run(check, env=dict(env), capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the code server on port {port} did not answer in {timeout:.0f} s")


def start_topology(stack: ExitStack, env: Mapping[str, str], home: Path, log_dir: Path, *,
                   workers: int, concurrency: int, webserver_port: int | None = None,
                   worker_name: str = "aura", queue: str = QUEUE) -> dict[str, Any]:
    """Code server, daemon, optional webserver and Celery workers, each stopped by `stack`.

    `home` must hold the production dagster.yaml. Returns the processes by role."""
    bin_dir = Path(sys.executable).parent
    env = dict(env)
    port = free_port(CODE_SERVER_PORT)
    code_server = stack.enter_context(managed_process("code-server", [
        str(bin_dir / "dagster"), "api", "grpc", "-m", "aura_dagster.definitions",
        "-d", str(PROJECT_ROOT), "-h", "127.0.0.1", "-p", str(port),
        "--location-name", "aura_dagster"], env, log_dir))
    # Workers import the project while the code server does: start them side by side.
    celery_workers = [stack.enter_context(managed_process(f"celery-worker-{i}", worker_args(
        str(bin_dir / "celery"), concurrency=concurrency, node=f"{worker_name}-{i}@%h",
        queue=queue),
        env, log_dir)) for i in range(workers)]
    wait_for_code_server(port, code_server, env)
    workspace = write_workspace(home / "workspace.yaml", "127.0.0.1", port)
    daemon = stack.enter_context(managed_process("dagster-daemon", [
        str(bin_dir / "aura-dagster"), "daemon", "-w", str(workspace)], env, log_dir))
    procs: dict[str, Any] = {"code_server": code_server, "daemon": daemon,
                             "workers": celery_workers, "workspace": workspace}
    if webserver_port is not None:
        procs["webserver"] = stack.enter_context(managed_process("dagster-webserver", [
            str(bin_dir / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1",
            "-p", str(webserver_port)], env, log_dir))
    return procs


class ProductionStack(LocalStack):
    """LocalStack (emulator, sandbox, env) with the production topology instead of the
    embedded one: PostgreSQL instance and store, code server, Celery run workers."""

    def __init__(self, data_dir: Path, settings: ProductionSettings | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_dir, **kwargs)
        # Not `self.settings`: LocalStack keeps the engine's Settings there.
        self.production = settings or ProductionSettings()
        self.processes: dict[str, Any] = {}
        self._outer_environ: dict[str, str] | None = None

    def _start(self) -> None:
        recreate_databases(self.production)
        extra = production_env(self.production)
        # Set before LocalStack builds the engine's resources, restored in close().
        self._outer_environ = dict(os.environ)
        os.environ.update(extra)
        super()._start()
        self.env.update(extra)
        # The production instance instead of the embedded dagster.yaml LocalStack copied.
        (self.home / "dagster.yaml").write_text(INSTANCE_YAML.read_text())

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._outer_environ is not None:
                os.environ.clear()
                os.environ.update(self._outer_environ)
                self._outer_environ = None

    def open_stores(self) -> Any:  # Stores
        from aura_dagster.resources.store import open_stores

        return open_stores(self.production.store_url, migrate=True)

    def start_dagster(self, *, webserver_port: int | None = None) -> None:
        self.processes = start_topology(
            self._stack, self.env, self.home, self.log_dir, workers=self.production.workers,
            concurrency=self.production.concurrency, webserver_port=webserver_port)
        self.daemon = self.processes["daemon"]
        self.webserver_port = webserver_port

    def child_processes(self) -> list[subprocess.Popen[bytes]]:
        """Code server, daemon, webserver and Celery workers (each its own group)."""
        procs = super().child_processes()
        for role, value in self.processes.items():
            if role == "workers":
                procs += value
            elif isinstance(value, subprocess.Popen):
                procs.append(value)
        return procs

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.processes.get("workers", [])]
