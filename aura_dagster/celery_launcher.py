"""dagster-celery's run launcher, with a terminate that stops the run.

`CeleryRunLauncher.terminate` (0.29.27) revokes the run's task with SIGTERM and nothing
else. Checked here on the prefork pool with this engine's async executor:
- Dagster's run-execution code defers SIGTERM as an interrupt that the async executor only
  honours once the whole plan is done, so the run went on through review and published
  `processing.completed`, and only then ended CANCELED;
- it never marks the run CANCELING (Dagster's own launchers do), so run monitoring checks
  it as STARTED, reads the revoked task as UNKNOWN and marks it FAILURE -- which
  run_retries would then start again.

Here terminate does what Dagster's container launchers do: mark the run CANCELING, stop
its process for good (SIGKILL to the pool child running it; Celery replaces the child),
and mark the run CANCELED. The executions it left `running` are closed by the
`close_cancelled_runs` run-status sensor; *Re-execute from failure* resumes the run.
"""

from __future__ import annotations

from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG


class AuraCeleryRunLauncher(CeleryRunLauncher):
    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id:
            # A task still in the queue is dropped when a worker takes it; a running one is
            # killed where it runs.
            self.celery.AsyncResult(task_id).revoke(terminate=True, signal="SIGKILL")
        self._instance.report_engine_event(
            "Run process stopped (Celery task revoked, SIGKILL).", run, cls=self.__class__)
        refreshed = self._instance.get_run_by_id(run_id)
        if refreshed is not None and not refreshed.is_finished:
            self._instance.report_run_canceled(refreshed)
        return True
