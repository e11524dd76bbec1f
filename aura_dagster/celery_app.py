"""The Celery app of the production profile's run workers (dagster-celery's run tasks).

    AURA_CELERY_BROKER=redis://127.0.0.1:6379/0 AURA_CELERY_BACKEND=redis://127.0.0.1:6379/0 \
    DAGSTER_HOME=... celery -A aura_dagster.celery_app worker --pool=prefork --concurrency=4 \
        --prefetch-multiplier=1 -Q dagster

(`aura-dagster worker` runs exactly that.) `CeleryRunLauncher` (deploy/production/
dagster.yaml) sends every run as an `execute_job` task; a worker's pool child runs it with
Dagster's own run-execution code against `DagsterInstance.get()`, so workers need the same
DAGSTER_HOME (the same dagster.yaml) as the daemon.

Warm: this module imports the code location once in the worker's main process, before the
prefork pool forks its children, so a run pays neither an interpreter start nor the import
of dagster and the project (about 2.5 s and 3.75 CPU-s a run with the default launcher).
Restart the workers on deploy, like the code server. Keep the prefork pool: `--pool=threads`
cannot terminate a run (revoke needs a process to signal).
"""

from __future__ import annotations

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from aura_dagster.celery_config import app_args

app = make_app(app_args())
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)

# The warm part (see the module docstring). Imported last: the tasks above must exist
# whatever the project does at import.
import aura_dagster.definitions  # noqa: E402, F401, I001
