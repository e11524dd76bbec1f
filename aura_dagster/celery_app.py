"""The Celery app of the production profile's run workers.

    AURA_CELERY_BROKER=redis://127.0.0.1:6379/0 AURA_CELERY_BACKEND=redis://127.0.0.1:6379/0 \
    DAGSTER_HOME=... aura-dagster worker --concurrency 4

(`aura-dagster worker` is `celery -A aura_dagster.celery_app worker --pool=prefork ...`,
see celery_config.worker_args.) `CeleryRunLauncher` (deploy/production/dagster.yaml) sends
every run as an `execute_job` task; a pool child runs it with Dagster's own run-execution
code (`_execute_run_command_body`, what `dagster api execute_run` runs), against the
instance of DAGSTER_HOME: workers need the same dagster.yaml as the daemon.

Warm, in three ways (the tasks are dagster-celery's, same names and arguments, with that):
- this module imports the code location (and the storage libraries a run needs) in the
  worker's main process, before the prefork pool forks: a run pays neither an interpreter
  start nor an import (about 2.5 s and 3.75 CPU-s a run with the default launcher);
- each pool child opens the Dagster instance once, when it starts, and keeps it for every
  run it executes (dagster-celery opens and closes one per run);
- that instance's storage is `aura_dagster.instance_storage.PooledPostgresStorage`
  (deploy/production/dagster.yaml): a connection pool per child, where dagster-postgres
  alone opens a new PostgreSQL connection for every event it writes.
Restart the workers on deploy, like the code server. Keep the prefork pool: terminating a
run kills the child running it (celery_launcher), which `--pool=threads` cannot do.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown
from dagster import DagsterInstance
from dagster._cli.api import _execute_run_command_body, _resume_run_command_body
from dagster._grpc.types import ExecuteRunArgs, ResumeRunArgs
from dagster._serdes import unpack_value
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME
from dagster_celery.make_app import make_app

from aura_dagster.celery_config import app_args

app = make_app(app_args())
# Dagster's console log of every run goes straight to the worker's stderr (its log file),
# not through Celery's logging proxy.
app.conf.worker_redirect_stdouts = False

_instance: DagsterInstance | None = None
_instance_lock = threading.Lock()


def child_instance() -> DagsterInstance:
    """This pool child's instance, opened on first use (after the fork: no connection is
    shared with the parent or a sibling)."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = DagsterInstance.get()
        return _instance


@worker_process_init.connect
def _open_instance_in_child(**_: Any) -> None:
    child_instance()  # the first run starts without opening it


@worker_process_shutdown.connect
def _close_instance_in_child(**_: Any) -> None:
    global _instance
    if _instance is not None:
        _instance.dispose()
        _instance = None


def _discard(_event: Any) -> None:
    pass


def _run_in_child(body: Callable[..., int], args: ExecuteRunArgs | ResumeRunArgs) -> int:
    """Dagster's own run body (what `dagster api execute_run` / `resume_run` runs), on this
    child's instance."""
    return body(instance=child_instance(), run_id=args.run_id, write_stream_fn=_discard,
                set_exit_code_on_failure=args.set_exit_code_on_failure is not False)


@app.task(bind=True, name=TASK_EXECUTE_JOB_NAME, track_started=True)
def execute_job(_self: Any, execute_job_args_packed: Any) -> int:
    return _run_in_child(_execute_run_command_body,
                         unpack_value(val=execute_job_args_packed, as_type=ExecuteRunArgs))


@app.task(bind=True, name=TASK_RESUME_JOB_NAME, track_started=True)
def resume_job(_self: Any, execute_job_args_packed: Any) -> int:
    return _run_in_child(_resume_run_command_body,
                         unpack_value(val=execute_job_args_packed, as_type=ResumeRunArgs))


def _preload() -> None:
    """Import in the parent what every run needs, so the children inherit it.

    The project imports Google Cloud, the psycopg dialect and the HTTP transport lazily (a
    CLI command should not pay for them); a run needs them all, and each pool child
    importing them itself cost ~0.5 CPU-s per child (profiled with py-spy)."""
    import alembic.command  # noqa: F401  (the engine's store checks its migrations)
    import dagster_async_executor.executor  # noqa: F401
    import dagster_postgres  # noqa: F401
    import httpcore  # noqa: F401
    import psycopg2  # noqa: F401
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    import aura_dagster.definitions  # noqa: F401
    import aura_dagster.instance_storage  # noqa: F401
    import aura_dagster.pubsub.clients  # noqa: F401  (google-cloud-pubsub, grpc: no channel yet)
    from aura_dagster.domain.processors.vendor_http import tls_context

    PGDialect_psycopg.import_dbapi()  # psycopg 3 and its C extension (the engine's store)
    tls_context()  # the CA bundle, loaded once for every child


_preload()
# Everything imported so far lives as long as the worker: move it out of the garbage
# collector's reach before the pool forks. A child's full collections then walk ~55k
# objects instead of ~360k, and never write to (and so copy) the pages it shares with the
# parent. Measured with gc.callbacks over a 12-run burst: 0.06-0.13 s of GC per child,
# against 0.2 s and more without.
gc.freeze()
