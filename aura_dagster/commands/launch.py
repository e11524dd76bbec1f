"""Start a job the way the UI does: through the instance's run queue and launcher.

The job is loaded from the code location of `workspace.yaml` (the same one the daemon and
the webserver load), so the run carries a remote job origin: the daemon can launch it and
the UI can re-execute it. Nothing here executes a run in this process.

    with open_workspace(instance) as workspace:
        plan = prepare_run(workspace, "resume_after_review", run_config)   # validates
        run = submit_run(instance, workspace, plan, tags)                  # QUEUED
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura_dagster.commands.preflight import CommandError

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


@contextmanager
def open_workspace(instance: Any, workspace_file: Path = WORKSPACE) -> Iterator[Any]:
    """A request context on the workspace's code locations (starts their code server)."""
    from dagster import __version__
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    if not workspace_file.is_file():
        raise CommandError(f"no workspace file at {workspace_file}")
    with WorkspaceProcessContext(instance=instance, version=__version__, read_only=False,
                                 workspace_load_target=WorkspaceFileTarget([str(workspace_file)]),
                                 code_server_log_level="WARNING") as process_context:
        yield process_context.create_request_context()


@dataclass(frozen=True)
class PreparedRun:
    """A job, its validated run config and execution plan, ready to become a run."""

    location: Any  # CodeLocation
    repository: Any  # RemoteRepository
    job: Any  # RemoteJob
    run_config: Mapping[str, Any]
    plan_snapshot: Any  # ExecutionPlanSnapshot


def prepare_run(workspace: Any, job_name: str, run_config: Mapping[str, Any]) -> PreparedRun:
    """Find `job_name` in the workspace and build its plan: a bad config fails here, before
    the caller claims or changes anything."""
    from dagster._core.definitions.selector import JobSubsetSelector

    errors = {name: entry.load_error for name, entry
              in workspace.get_code_location_entries().items() if entry.load_error}
    for location in workspace.code_locations:
        for repository in location.get_repositories().values():
            if not repository.has_job(job_name):
                continue
            selector = JobSubsetSelector(location_name=location.name,
                                         repository_name=repository.name, job_name=job_name,
                                         op_selection=None)
            job = location.get_job(selector)
            try:
                plan = location.get_execution_plan(job, dict(run_config),
                                                   step_keys_to_execute=None, known_state=None,
                                                   instance=workspace.instance)
            except Exception as exc:
                raise CommandError(f"{job_name}: the run config is not accepted: "
                                   f"{type(exc).__name__}: {exc}") from exc
            return PreparedRun(location, repository, job, dict(run_config),
                               plan.execution_plan_snapshot)
    detail = "; ".join(f"{name}: {error.message.strip()}" for name, error in errors.items())
    raise CommandError(f"no job {job_name!r} in {WORKSPACE.name}"
                       + (f" (code location errors: {detail})" if detail else ""))


def submit_run(instance: Any, workspace: Any, prepared: PreparedRun,
               tags: Mapping[str, str]) -> Any:  # DagsterRun
    """Create the run from the remote job and hand it to the instance's run coordinator."""
    job = prepared.job
    run = instance.create_run(
        job_name=job.name, run_id=None, run_config=prepared.run_config,
        resolved_op_selection=job.resolved_op_selection,
        step_keys_to_execute=prepared.plan_snapshot.step_keys_to_execute,
        op_selection=None, status=None, root_run_id=None, parent_run_id=None,
        tags={**job.tags, **tags}, job_snapshot=job.job_snapshot,
        execution_plan_snapshot=prepared.plan_snapshot,
        parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
        asset_selection=None, asset_check_selection=None,
        asset_graph=prepared.repository.asset_graph)
    return instance.submit_run(run.run_id, workspace)
