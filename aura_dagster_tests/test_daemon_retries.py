"""A run that fails is retried, also when the daemon reads its failure before its status.

Dagster stores a RUN_FAILURE event first, then sets the run's status and its
`dagster/will_retry` tag. The daemon's retry thread (EventLogConsumerDaemon) reads the event
from another thread: here it looks in between, as it did once in CI (a Celery worker killed
mid-run, never retried). The instance is the project's dagster.yaml on SQLite, the code
location is workspace.yaml's (a real code server), and nothing executes the runs.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterInstance, EventLogEntry, __version__
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, WILL_RETRY_TAG
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.auto_run_reexecution.event_log_consumer import EventLogConsumerDaemon
from dagster._time import datetime_from_timestamp

from aura_dagster import dagster_compat  # what `aura-dagster daemon` imports
from aura_dagster.commands.launch import WORKSPACE, prepare_run, submit_run
from aura_dagster.tags import JOB_NAME

ROOT = Path(__file__).resolve().parents[1]
STATUS_LAG_SECONDS = 0.5


@pytest.fixture(scope="module")
def workspace_context(tmp_path_factory: pytest.TempPathFactory,
                      ) -> Iterator[WorkspaceProcessContext]:
    """One instance and code server for the module (each run has its own id)."""
    home = tmp_path_factory.mktemp("retries_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    instance = DagsterInstance.from_config(str(home))
    try:
        with WorkspaceProcessContext(instance=instance, version=__version__, read_only=False,
                                     workspace_load_target=WorkspaceFileTarget([str(WORKSPACE)]),
                                     code_server_log_level="WARNING") as context:
            yield context
    finally:
        instance.dispose()


def _event(run_id: str, event_type: DagsterEventType) -> EventLogEntry:
    return EventLogEntry(
        user_message="", level=logging.ERROR, job_name=JOB_NAME, run_id=run_id,
        error_info=None, timestamp=time.time(),
        dagster_event=DagsterEvent(event_type_value=event_type.value, job_name=JOB_NAME))


def test_a_failure_read_before_the_run_status_is_still_retried(
        workspace_context: WorkspaceProcessContext) -> None:
    instance = workspace_context.instance
    request = workspace_context.create_request_context()
    run = submit_run(instance, request, prepare_run(request, JOB_NAME, {}),
                     {"dagster/partition": "uw_retry_race"})
    instance.run_storage.handle_run_event(
        run.run_id, _event(run.run_id, DagsterEventType.RUN_START).get_dagster_event())
    consumer = EventLogConsumerDaemon()
    list(consumer.run_iteration(workspace_context))  # its first pass sets its cursors

    failure = _event(run.run_id, DagsterEventType.RUN_FAILURE)
    instance.event_log_storage.store_event(failure)  # the event is in, the status not yet

    def rest_of_handle_new_event() -> None:  # what Dagster does right after storing it
        time.sleep(STATUS_LAG_SECONDS)
        instance.run_storage.handle_run_event(run.run_id, failure.get_dagster_event(),
                                              datetime_from_timestamp(failure.timestamp))
        instance.add_run_tags(run.run_id, {WILL_RETRY_TAG: "true"})

    lagging = threading.Thread(target=rest_of_handle_new_event)
    lagging.start()
    list(consumer.run_iteration(workspace_context))  # reads the failure inside the lag
    lagging.join()
    list(consumer.run_iteration(workspace_context))

    assert instance.get_run_by_id(run.run_id).status is DagsterRunStatus.FAILURE
    retries = instance.get_runs(RunsFilter(tags={PARENT_RUN_ID_TAG: run.run_id}))
    assert len(retries) == 1, "the failed run was not retried"
    assert retries[0].tags["dagster/partition"] == "uw_retry_race"


def test_a_failure_the_daemon_never_read_is_retried_by_its_sweep(
        workspace_context: WorkspaceProcessContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dagster_compat, "SWEEP_AFTER_SECONDS", 0.0)  # not 30 s in a test
    instance = workspace_context.instance
    request = workspace_context.create_request_context()
    run = submit_run(instance, request, prepare_run(request, JOB_NAME, {}),
                     {"dagster/partition": "uw_retry_missed"})
    # The failure is stored whole before the consumer's first pass, which starts its cursor
    # after it: as when an event id is committed after a later one was read.
    instance.handle_new_event(_event(run.run_id, DagsterEventType.RUN_FAILURE))
    assert instance.get_run_by_id(run.run_id).tags[WILL_RETRY_TAG] == "true"

    list(EventLogConsumerDaemon().run_iteration(workspace_context))

    retries = instance.get_runs(RunsFilter(tags={PARENT_RUN_ID_TAG: run.run_id}))
    assert len(retries) == 1, "the missed retry was not made"
    assert dagster_compat.unretried_failures(instance) == []


def test_the_daemon_command_applies_the_fix() -> None:
    script = (
        "import contextlib, sys\n"
        "from aura_dagster.commands.daemon import run_daemon\n"
        "with contextlib.suppress(SystemExit):\n"
        "    run_daemon(['--help'])\n"
        "import dagster._daemon.auto_run_reexecution.event_log_consumer as consumer\n"
        "sys.exit(0 if getattr(consumer.consume_new_runs_for_automatic_reexecution,\n"
        "                      '_aura_patched', False) else 'not patched')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-1000:]
