"""The production profile on its real parts: Redis broker and backend, the instance on
PostgreSQL (psycopg2), a code server started on its own, dagster-daemon and one warm Celery
run worker (prefork), all started the way `aura-dagster stack --profile production` does.

Runs are created by the daemon's own sensor from `underwriting.created` on the emulator,
so every test exercises the whole path: sensor -> QueuedRunCoordinator -> CeleryRunLauncher
-> Redis -> worker -> instance. One topology per module (about 10 s to start).
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from aura_dagster.celery_config import with_queue
from aura_dagster.commands.production_stack import INSTANCE_YAML, start_topology
from aura_dagster.pubsub import PubSubEmulator, delete_subscription, ensure_subscription
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import open_stores
from aura_dagster.sandbox import SandboxServer
from aura_dagster.services.seeding import (
    DocumentSpec,
    UnderwritingSpec,
    register_tenant,
    register_underwriting,
    underwriting_created_event,
)
from aura_dagster.storage import Stores
from aura_dagster.tags import UNDERWRITING_ID_TAG
from aura_dagster_tests.conftest import PostgresDatabases
from aura_dagster_tests.engine.conftest import _write_samples

pytestmark = pytest.mark.celery

REDIS_URL = os.environ.get("AURA_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
CELERY_TASK_TAG = "dagster-celery/task_id"
# The hanging vendor answers after this; the slow processor gives up a little earlier.
HANG_SECONDS = 30.0
SLOW_PURCHASE = {"timeout_seconds": 8, "max_attempts": 1, "request_timeout_seconds": 8}
T = TypeVar("T")


@dataclass
class Topology:
    instance: DagsterInstance
    stores: Stores
    pubsub: PubSubResource
    listener: str
    documents_root: Path
    samples: dict[str, Path]
    worker_pid: int
    log_dir: Path
    received: dict[str, dict[str, Any]] = field(default_factory=dict)

    def underwriting(self, business: str, purchases: dict[str, Any]) -> UnderwritingSpec:
        org = f"org_{uuid.uuid4().hex[:8]}"
        register_tenant(self.stores, org, purchases)
        # These tests are about runs, workers and retries, not lender rules: a rule on the
        # tax return only, so a slow vendor's missing factors do not park the case.
        self.stores.rules.add_version(org, [{
            "name": "tax_loss", "condition": "tax_net_income < 0", "action": "park",
            "reason": "the business made a loss"}], changed_by="test-topology")
        uid = f"uw_{uuid.uuid4().hex[:10]}"
        docs = [(self.samples["tax_return.pdf"], "tax_return"),
                (self.samples["license.pdf"], "drivers_license")]
        spec = UnderwritingSpec(uid, org, business, "CA", tuple(
            DocumentSpec(f"{uid}_doc_{n}", path, kind) for n, (path, kind) in
            enumerate(docs, start=1)))
        register_underwriting(self.stores, spec, self.documents_root)
        return spec

    def publish(self, spec: UnderwritingSpec) -> None:
        self.pubsub.publish(self.pubsub.underwriting_created_topic,
                            underwriting_created_event(spec), {"event": "underwriting.created"})

    def runs(self, underwriting_id: str) -> list[DagsterRun]:
        """Oldest first."""
        return list(reversed(self.instance.get_runs(
            RunsFilter(tags={UNDERWRITING_ID_TAG: underwriting_id}))))

    def completion(self, underwriting_id: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while underwriting_id not in self.received and time.monotonic() < deadline:
            messages = self.pubsub.pull(subscription=self.listener, max_messages=50,
                                        timeout=1.0)
            if messages:
                self.pubsub.acknowledge([m.ack_id for m in messages],
                                        subscription=self.listener)
            for message in messages:
                event = json.loads(message.data)
                self.received[event["underwriting_id"]] = event
        return self.received.get(underwriting_id)

    def logs(self, what: str) -> str:
        """The tail of each log, and the daemon's monitoring / retry lines in full."""
        out = []
        for path in sorted(self.log_dir.glob("*.log")):
            if what not in path.name:
                continue
            text = path.read_text()
            if "daemon" in path.name:
                out.append("--- daemon monitoring/retries\n" + "\n".join(
                    line for line in text.splitlines()
                    if any(w in line for w in ("Monitoring", "EventLogConsumer", "etr"))))
            out.append(f"--- {path.name}\n{text[-3000:]}")
        return "\n".join(out)


def wait_for(what: str, probe: Callable[[], T | None], topology: Topology,
             timeout: float = 60.0, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}\n{topology.logs('')}")


def _psycopg2(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1)


@pytest.fixture(scope="module")
def topology(postgres_databases: PostgresDatabases, pubsub_emulator: PubSubEmulator,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    work = tmp_path_factory.mktemp("celery")
    store_url = postgres_databases.create("aura_celery_store")
    # Its own database: Dagster's and the store's Alembic both keep `alembic_version`.
    instance_url = _psycopg2(postgres_databases.create("aura_celery_dagster"))
    suffix = uuid.uuid4().hex[:8]
    home = work / "dagster_home"
    home.mkdir()
    # Its own Celery queue: another session's workers on the same Redis never take its runs.
    queue = f"aura-test-{suffix}"
    (home / "dagster.yaml").write_text(with_queue(INSTANCE_YAML.read_text(), queue))
    log_dir = work / "logs"
    log_dir.mkdir()
    with ExitStack() as stack:
        sandbox = stack.enter_context(SandboxServer(slow_seconds=HANG_SECONDS))
        env = {
            "DAGSTER_HOME": str(home),
            "AURA_DAGSTER_PG_URL": instance_url,
            "AURA_CELERY_BROKER": REDIS_URL,
            "AURA_CELERY_BACKEND": REDIS_URL,
            "AURA_ENV": "embedded",
            "AURA_DATA_DIR": str(work),
            "AURA_DATABASE_URL": store_url,
            "AURA_WAREHOUSE_URL": store_url,
            "AURA_WAREHOUSE_SCHEMA": "warehouse",
            "AURA_DOCUMENTS_ROOT": str(work / "documents"),
            "AURA_SANDBOX_URL": sandbox.base_url,
            "PUBSUB_EMULATOR_HOST": pubsub_emulator.host,
            "PUBSUB_PROJECT_ID": pubsub_emulator.project_id,
            "AURA_UNDERWRITING_CREATED_TOPIC": f"celery-created-{suffix}",
            "AURA_UNDERWRITING_CREATED_SUBSCRIPTION": f"celery-created-sub-{suffix}",
            "AURA_DEAD_LETTER_TOPIC": f"celery-dead-letter-{suffix}",
            "AURA_PROCESSING_COMPLETED_TOPIC": f"celery-completed-{suffix}",
        }
        saved = dict(os.environ)
        os.environ.update(env)
        stack.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
        pubsub = PubSubResource(
            project_id=pubsub_emulator.project_id, emulator_host=pubsub_emulator.host,
            underwriting_created_topic=env["AURA_UNDERWRITING_CREATED_TOPIC"],
            underwriting_created_subscription=env["AURA_UNDERWRITING_CREATED_SUBSCRIPTION"],
            dead_letter_topic=env["AURA_DEAD_LETTER_TOPIC"],
            completed_topic=env["AURA_PROCESSING_COMPLETED_TOPIC"])
        pubsub.ensure_topology()
        listener = f"celery-listener-{suffix}"
        ensure_subscription(pubsub.clients.subscriber, pubsub.project_id, listener,
                            pubsub.completed_topic)
        stack.callback(delete_subscription, pubsub.clients.subscriber, pubsub.project_id,
                       listener)
        stores = open_stores(store_url, migrate=True)
        samples = _write_samples(Path(tempfile.mkdtemp(dir=work)))
        instance = stack.enter_context(DagsterInstance.from_config(str(home)))
        procs = start_topology(stack, {**os.environ}, home, log_dir, workers=1,
                               concurrency=2, worker_name=f"test-{suffix}", queue=queue)
        yield Topology(instance, stores, pubsub, listener, work / "documents", samples,
                       procs["workers"][0].pid, log_dir)


FAST = {"p_tax_return": None, "p_drivers_license": None, "p_secretary_of_state": None}
SLOW = {"p_tax_return": None, "p_secretary_of_state": SLOW_PURCHASE}
SLOW_STEP_PREFIX = "underwriting_processing.run_processor"


def _run_pid(topology: Topology, run_id: str) -> int:
    """The pid that executes the run (Dagster records it on every event)."""
    (start,) = topology.instance.all_logs(run_id, of_type=DagsterEventType.RUN_START)
    assert start.dagster_event is not None and start.dagster_event.pid is not None
    return start.dagster_event.pid


def _parent_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


def _running_execution(topology: Topology, spec: UnderwritingSpec) -> dict[str, Any] | None:
    rows = topology.stores.executions.get_executions_by_underwriting(
        spec.underwriting_id, processor="p_secretary_of_state")
    return next((r for r in rows if r["status"] == "running"), None)


def test_run_executes_on_a_warm_celery_worker(topology: Topology) -> None:
    spec = topology.underwriting("Sunrise Bakery LLC", FAST)

    topology.publish(spec)

    event = topology.completion(spec.underwriting_id, timeout=60.0)
    assert event is not None, topology.logs("")
    assert event["status"] == "completed"
    assert event["summary"]["completed_count"] == 3
    (run,) = topology.runs(spec.underwriting_id)
    run = wait_for("run to finish", lambda: (r := topology.instance.get_run_by_id(
        run.run_id)) and r.is_finished and r, topology)
    assert run.status is DagsterRunStatus.SUCCESS
    assert run.tags.get(CELERY_TASK_TAG)  # launched as a Celery task ...
    # ... and executed in a pool child of the worker this test started (not a new process).
    assert _parent_of(_run_pid(topology, run.run_id)) == topology.worker_pid
    engine_events = [e.dagster_event.message for e in topology.instance.all_logs(
        run.run_id, of_type=DagsterEventType.ENGINE_EVENT) if e.dagster_event]
    assert [m for m in engine_events if m.endswith("Celery task has been forwarded to the broker.")]


def test_terminate_stops_the_run_and_closes_its_executions(topology: Topology) -> None:
    spec = topology.underwriting("Slowpoke Trading Co", SLOW)
    topology.publish(spec)
    running = wait_for("the slow execution to be running",
                       lambda: _running_execution(topology, spec), topology)
    run = topology.instance.get_run_by_id(running["run_id"])
    assert run is not None and run.status is DagsterRunStatus.STARTED
    pid = _run_pid(topology, run.run_id)

    # What the UI's Terminate does: the coordinator asks the launcher to revoke the task.
    assert topology.instance.run_coordinator.cancel_run(run.run_id)

    done = wait_for("run to be cancelled", lambda: (r := topology.instance.get_run_by_id(
        run.run_id)) and r.is_finished and r, topology, timeout=30.0)
    assert done.status is DagsterRunStatus.CANCELED
    # Stopped for good: the process that ran it is gone, and nothing after the slow step ran
    # (no review, nothing published) -- not even once the vendor would have answered.
    wait_for("the run's process to exit", lambda: not Path(f"/proc/{pid}").exists(), topology,
             timeout=10.0)
    # The close_cancelled_runs sensor (in the daemon) closes what the run left running.
    closed = wait_for("executions to be closed", lambda: (rows := topology.stores.executions
                      .get_executions_by_underwriting(spec.underwriting_id)) and not [
        r for r in rows if r["status"] in ("running", "pending")] and rows, topology,
        timeout=30.0)
    (sos,) = [r for r in closed if r["processor"] == "p_secretary_of_state"]
    assert (sos["status"], sos["failed_reason"]) == ("cancelled", "run cancelled")
    assert sos["completed_at"] is not None
    started = {e.step_key or "" for e in topology.instance.all_logs(
        run.run_id, of_type=DagsterEventType.STEP_START)}
    assert not [k for k in started if k.startswith(("underwriting_review",
                                                    "processing_completed"))], started
    assert topology.completion(spec.underwriting_id, timeout=2.0) is None


def test_killed_worker_is_detected_and_the_run_retried(topology: Topology) -> None:
    spec = topology.underwriting("Slowpoke Trading Co", SLOW)
    topology.publish(spec)
    running = wait_for("the slow execution to be running",
                       lambda: _running_execution(topology, spec), topology)
    first_id = running["run_id"]
    pid = _run_pid(topology, first_id)
    assert _parent_of(pid) == topology.worker_pid  # the worker this module started

    os.kill(pid, signal.SIGKILL)

    # Run monitoring sees the Celery task lost and fails the run; run_retries relaunches it.
    failed = wait_for("run monitoring to fail the run", lambda: (
        r := topology.instance.get_run_by_id(first_id)) and r.is_finished and r, topology)
    assert failed.status is DagsterRunStatus.FAILURE
    # Generous: on a loaded 2-CPU machine the daemon's retry thread can lag far behind.
    retry = wait_for("the retry run", lambda: next(iter(topology.instance.get_runs(
        RunsFilter(tags={"dagster/parent_run_id": first_id}))), None), topology, timeout=120.0)
    event = topology.completion(spec.underwriting_id, timeout=60.0)
    assert event is not None, topology.logs("")
    assert event["run_id"] == retry.run_id
    done = wait_for("retry to finish", lambda: (r := topology.instance.get_run_by_id(
        retry.run_id)) and r.is_finished and r, topology)
    assert done.status is DagsterRunStatus.SUCCESS
    assert _parent_of(_run_pid(topology, retry.run_id)) == topology.worker_pid
    # Re-executed from failure on the worker: what had finished is not run again.
    started = {e.step_key or "" for e in topology.instance.all_logs(
        retry.run_id, of_type=DagsterEventType.STEP_START)}
    assert "underwriting_processing.load_underwriting" not in started
    assert [k for k in started if "p_secretary_of_state" in k], started
    # The killed run's execution does not stay `running` (audit_run_failed closes it).
    rows = wait_for("executions to be closed", lambda: (rows := topology.stores.executions
                    .get_executions_by_underwriting(spec.underwriting_id)) and not [
        r for r in rows if r["status"] in ("running", "pending")] and rows, topology,
        timeout=30.0)
    killed = [r for r in rows if r["run_id"] == first_id
              and r["processor"] == "p_secretary_of_state"]
    assert [r["status"] for r in killed] == ["cancelled"]


def test_production_stack_keeps_topology_settings_apart_from_the_engine_settings(
        tmp_path: Path) -> None:
    """`LocalStack.settings` holds the engine's Settings once started; the production
    stack's own (workers, concurrency, databases) must not share that attribute (they did,
    and `aura-dagster stack --profile production` failed at start)."""
    from aura_dagster.commands.production_stack import ProductionSettings, ProductionStack

    stack = ProductionStack(tmp_path / "data", ProductionSettings(workers=2, concurrency=3))
    assert (stack.production.workers, stack.production.concurrency) == (2, 3)
    assert stack.settings is None  # LocalStack sets the engine's Settings when it starts
