"""Audit, notifications and cancellation through a real `dagster-daemon`, nobody switching a
sensor on: events published on Pub/Sub become runs (the daemon's sensor, queue and launcher),
the run-status sensors write the audit trail and close a cancelled run's executions.

One daemon for the module, on its own DAGSTER_HOME and its own topics (the engine fixture's
topics stay with the in-process tests); the store, SMTP server and emulator are the engine's.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef

from aura_dagster.commands.instance_setup import prepare_instance
from aura_dagster.commands.local_stack import PROJECT_ROOT, WORKSPACE
from aura_dagster.pubsub import delete_subscription, ensure_subscription
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.sandbox import SandboxServer
from aura_dagster.services.seeding import underwriting_created_event
from aura_dagster_tests.engine.conftest import Engine
from aura_dagster_tests.resources.smtp_server import SmtpServer

SLOW_STEP = "underwriting_processing.run_opencorporates_processor[p_secretary_of_state]"


@dataclass
class Daemon:
    instance: DagsterInstance
    pubsub: PubSubResource
    log: Path

    def publish(self, spec: Any) -> None:
        self.pubsub.publish(self.pubsub.underwriting_created_topic,
                            underwriting_created_event(spec), {"event": "underwriting.created"})

    def run_for(self, underwriting_id: str) -> Any:
        runs = [r for r in self.instance.get_runs()
                if r.tags.get("dagster/partition") == underwriting_id]
        return runs[0] if runs else None


def _wait(what: str, probe: Callable[[], Any], daemon: Daemon, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{daemon.log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the daemon's process group (code server, run workers), SIGKILL after 5 s: the
    cancelled run's worker still waits on the hanging vendor."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def daemon(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    work = tmp_path_factory.mktemp("daemon")
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    # Created once here, as the stacks do: the daemon and this test's instance opening a
    # fresh home at the same moment both create the schema (two alembic heads).
    prepare_instance(home)
    suffix = uuid.uuid4().hex[:8]
    topics = {"AURA_UNDERWRITING_CREATED_TOPIC": f"daemon-created-{suffix}",
              "AURA_UNDERWRITING_CREATED_SUBSCRIPTION": f"daemon-created-sub-{suffix}",
              "AURA_DEAD_LETTER_TOPIC": f"daemon-dead-letter-{suffix}",
              "AURA_PROCESSING_COMPLETED_TOPIC": f"daemon-completed-{suffix}"}
    pubsub = PubSubResource(
        project_id=engine.pubsub.project_id, emulator_host=engine.pubsub.emulator_host,
        underwriting_created_topic=topics["AURA_UNDERWRITING_CREATED_TOPIC"],
        underwriting_created_subscription=topics["AURA_UNDERWRITING_CREATED_SUBSCRIPTION"],
        dead_letter_topic=topics["AURA_DEAD_LETTER_TOPIC"],
        completed_topic=topics["AURA_PROCESSING_COMPLETED_TOPIC"])
    pubsub.ensure_topology()
    # The secretary of state hangs for a minute: a run to cancel while it waits.
    with SandboxServer(slow_seconds=60) as vendors:
        env = {**os.environ, **topics, "DAGSTER_HOME": str(home),
               "AURA_SANDBOX_URL": vendors.base_url}
        bin_dir = Path(sys.executable).parent
        log = (work / "dagster-daemon.log").open("w")
        process = subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
                                   env=env, cwd=PROJECT_ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
                yield Daemon(instance, pubsub, work / "dagster-daemon.log")
        finally:
            _stop(process)
            log.close()
    delete_subscription(pubsub.clients.subscriber, pubsub.project_id,
                        topics["AURA_UNDERWRITING_CREATED_SUBSCRIPTION"])


def test_daemon_audits_notifies_and_closes_a_cancelled_run(
        engine: Engine, daemon: Daemon, engine_smtp: SmtpServer) -> None:
    listener = f"daemon-listener-{uuid.uuid4().hex[:8]}"
    ensure_subscription(daemon.pubsub.clients.subscriber, daemon.pubsub.project_id, listener,
                        daemon.pubsub.completed_topic)
    org = engine.tenant({"p_tax_return": None,
                         "p_secretary_of_state": {"timeout_seconds": 60, "max_attempts": 1,
                                                  "request_timeout_seconds": 60}})
    clean = engine.underwriting(org, "Sunrise Bakery LLC", "CA",
                                [(engine.samples["tax_return.pdf"], "tax_return")])
    slow = engine.underwriting(org, "Slowpoke Trading Co", "CA", [])
    for spec in (slow, clean):
        daemon.publish(spec)

    try:
        # The slow case's vendor call hangs: cancel its run as the UI's force-terminate does.
        def running() -> Any:
            rows = engine.executions(slow.underwriting_id, "p_secretary_of_state")
            return rows if rows and rows[0]["status"] == "running" else None

        # The first runs wait for the daemon and its code server to start: slow on a busy host.
        (execution,) = _wait("the slow execution to run", running, daemon, timeout=180)
        run = daemon.instance.get_run_by_id(execution["run_id"])
        daemon.instance.report_run_canceling(run)
        daemon.instance.report_run_canceled(daemon.instance.get_run_by_id(run.run_id))

        # close_cancelled_runs (on by default) closes it.
        closed = _wait("close_cancelled_runs", lambda: [
            r for r in engine.executions(slow.underwriting_id, "p_secretary_of_state")
            if r["status"] == "cancelled"], daemon)
        assert closed[0]["failed_reason"] == "run cancelled"

        # The clean case completed and its audit trail was written by audit_run_succeeded.
        def audit_of(spec: Any, event: str) -> list[dict]:
            return [r for r in engine.stores.audit.list_for_underwriting(spec.underwriting_id,
                                                                         org)
                    if r["event"] == event]

        (done,) = _wait("the clean case's pipeline_completed entry",
                        lambda: audit_of(clean, "pipeline_completed"), daemon)
        assert done["detail"]["status"] == "completed" and done["detail"]["duration_s"] > 0
        assert done["detail"]["cost_cents"] is not None
        steps = {(r["event"], r["step_key"]) for r in
                 engine.stores.audit.list_for_underwriting(clean.underwriting_id, org)}
        assert ("step_started", "underwriting_processing.load_underwriting") in steps
        assert ("step_succeeded", "underwriting_review") in steps  # review + publish
        assert audit_of(clean, "run_succeeded")
        clean_run = daemon.run_for(clean.underwriting_id)
        assert clean_run.status is DagsterRunStatus.SUCCESS
        assert clean_run.tags["aura/organization_id"] == org
        assert engine_smtp.wait_for(f"Processing completed: {clean.underwriting_id}")

        (cancelled,) = _wait("the cancelled run's entry",
                             lambda: audit_of(slow, "run_cancelled"), daemon)
        assert cancelled["run_id"] == run.run_id
    finally:
        delete_subscription(daemon.pubsub.clients.subscriber, daemon.pubsub.project_id,
                            listener)
