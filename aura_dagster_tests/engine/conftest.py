"""The engine under test: real PostgreSQL, the real Pub/Sub emulator, the sandbox vendor
server over loopback HTTP, a real (temporary) Dagster instance. One of each per session;
every test makes its own underwritings (unique ids) so tests never share a case.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    JobExecutionResult,
    RunRequest,
    SensorResult,
    build_sensor_context,
    execute_job,
    reconstructable,
)

from aura_dagster.environments import embedded_resources
from aura_dagster.pubsub import PubSubEmulator, delete_subscription, ensure_subscription
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import open_stores
from aura_dagster.sample_data import write_bank_statement_samples
from aura_dagster.sample_data.tax_documents import write_drivers_license_pdf, write_tax_return_pdf
from aura_dagster.sandbox import SandboxServer
from aura_dagster.sensors.underwriting_created import underwriting_created_sensor
from aura_dagster.services.seeding import (
    DocumentSpec,
    UnderwritingSpec,
    register_tenant,
    register_underwriting,
    underwriting_created_event,
)
from aura_dagster.storage import Stores
from aura_dagster_tests.conftest import PostgresDatabases
from aura_dagster_tests.resources.smtp_server import SmtpServer

# Dagster's console logger at WARNING: the event log (what the tests read) keeps everything.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
NOTIFY_TO = "underwriting-ops@aura.test"  # the engine's notifier recipients (AURA_NOTIFY_TO)
ALL_PROCESSORS = ("p_bank_statement", "p_secretary_of_state", "p_clear_business_report",
                  "p_tax_return", "p_drivers_license")


@dataclass
class Engine:
    """Handles on every real part, and the moves the daemon would make."""

    stores: Stores
    pubsub: PubSubResource
    instance: DagsterInstance
    sandbox: SandboxServer
    documents_root: Path
    samples: dict[str, Path]
    listener: str  # subscription on processing.completed
    dead_letters: str  # subscription on the dead-letter topic
    crash_flag: Path
    cursor: str | None = None
    received: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def defs_module(self) -> Any:
        return importlib.import_module("aura_dagster_tests.engine.engine_definitions")

    # -- the platform's side ---------------------------------------------------------------
    def new_id(self, prefix: str = "uw") -> str:
        return f"{prefix}_{uuid.uuid4().hex[:10]}"

    def tenant(self, purchases: Mapping[str, Mapping[str, Any] | None] | None = None,
               organization_id: str | None = None) -> str:
        organization_id = organization_id or self.new_id("org")
        register_tenant(self.stores, organization_id,
                        purchases if purchases is not None else dict.fromkeys(ALL_PROCESSORS))
        return organization_id

    def underwriting(self, organization_id: str, business: str, state: str,
                     documents: list[tuple[Path, str | None]]) -> UnderwritingSpec:
        underwriting_id = self.new_id()
        spec = UnderwritingSpec(underwriting_id, organization_id, business, state, tuple(
            DocumentSpec(f"{underwriting_id}_doc_{n}", path, doc_type)
            for n, (path, doc_type) in enumerate(documents, start=1)))
        register_underwriting(self.stores, spec, self.documents_root)
        return spec

    def tax_return_case(self) -> UnderwritingSpec:
        """A new lender buying only the tax return processor, and one case with a tax return:
        the smallest whole run."""
        return self.underwriting(self.tenant({"p_tax_return": None}), "Sunrise Bakery LLC",
                                 "CA", [(self.samples["tax_return.pdf"], "tax_return")])

    def publish(self, spec: UnderwritingSpec, **kwargs: Any) -> str:
        return self.pubsub.publish(self.pubsub.underwriting_created_topic,
                                   underwriting_created_event(spec, **kwargs),
                                   {"event": "underwriting.created"})

    # -- the daemon's side -----------------------------------------------------------------
    def tick(self) -> SensorResult:
        context = build_sensor_context(instance=self.instance, cursor=self.cursor,
                                       resources={"pubsub": self.pubsub,
                                                  "store": self.defs_module.defs.resources[
                                                      "store"]})
        result = underwriting_created_sensor(context)
        assert isinstance(result, SensorResult)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name,
                                                 list(request.partition_keys))
        return result

    def launch(self, request: RunRequest) -> JobExecutionResult:
        """Create and execute the run as the daemon would (run key and partition tags)."""
        tags = {**request.tags, "dagster/partition": request.partition_key,
                "dagster/run_key": request.run_key,
                "dagster/sensor_name": underwriting_created_sensor.name}
        return self.execute(tags)

    def execute(self, tags: Mapping[str, str], **kwargs: Any) -> JobExecutionResult:
        return execute_job(reconstructable(self.defs_module.process_job), instance=self.instance,
                           tags=dict(tags), raise_on_error=False, run_config=QUIET, **kwargs)

    def review(self, underwriting_id: str, raise_on_error: bool = True,
               **config: Any) -> JobExecutionResult:
        """What the launchpad of `resume_after_review` launches (the CLI queues the same run):
        config `decision` (approve | reject), `reviewer`, `note`."""
        return execute_job(reconstructable(self.defs_module.resume_job), instance=self.instance,
                           tags={"dagster/partition": underwriting_id},
                           raise_on_error=raise_on_error,
                           run_config={**QUIET, "ops": {"underwriting_review": {
                               "config": config}}})

    def materialize(self, underwriting_id: str) -> JobExecutionResult:
        """What an operator's *Materialize* / backfill does: a run for the partition."""
        self.instance.add_dynamic_partitions("underwriting", [underwriting_id])
        return self.execute({"dagster/partition": underwriting_id})

    def process_event(self, spec: UnderwritingSpec, **kwargs: Any) -> JobExecutionResult:
        """Publish → sensor tick → run → next tick (acks). Returns the run's result."""
        self.publish(spec, **kwargs)
        result = self.wait_for_requests(1)
        (request,) = result.run_requests
        outcome = self.launch(request)
        self.tick()
        return outcome

    def wait_for_requests(self, count: int, timeout: float = 20.0) -> SensorResult:
        deadline = time.monotonic() + timeout
        requests: list[RunRequest] = []
        while True:
            result = self.tick()
            requests += list(result.run_requests or [])
            if len(requests) >= count or time.monotonic() > deadline:
                return SensorResult(run_requests=requests, cursor=result.cursor)

    def completion_for(self, underwriting_id: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while underwriting_id not in self.received and time.monotonic() < deadline:
            messages = self.pubsub.pull(subscription=self.listener, max_messages=50,
                                        timeout=2.0)
            if messages:
                self.pubsub.acknowledge([m.ack_id for m in messages], subscription=self.listener)
            for message in messages:
                event = json.loads(message.data)
                self.received[event["underwriting_id"]] = event
        if underwriting_id not in self.received:
            raise AssertionError(f"no processing.completed for {underwriting_id}")
        return self.received[underwriting_id]

    def executions(self, underwriting_id: str, processor: str | None = None) -> list[dict]:
        return self.stores.executions.get_executions_by_underwriting(underwriting_id,
                                                                     processor=processor)


def _write_samples(root: Path) -> dict[str, Path]:
    samples = {f.path.name: f.path for f in write_bank_statement_samples(root / "statements")}
    identity = root / "identity"
    identity.mkdir()
    samples["tax_return.pdf"] = write_tax_return_pdf(
        identity / "tax_return.pdf", business_name="Sunrise Bakery LLC", tax_year=2023,
        form="1120-S", gross_receipts=612_400, net_income=88_150)
    samples["license.pdf"] = write_drivers_license_pdf(
        identity / "license.pdf", name="Maria Elena Lopez", state="CA",
        license_number="D4829113", dob=dt.date(1984, 3, 9), issued=dt.date(2021, 6, 2),
        expires=dt.date(2029, 3, 9), sex="F")
    return samples


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault-injection tests (issue 8); run alone "
                                       "with -m faults")


@pytest.fixture(scope="session")
def engine_smtp() -> Iterator[SmtpServer]:
    """The real SMTP server on loopback that the engine's notifier sends to."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def engine(postgres_databases: PostgresDatabases, pubsub_emulator: PubSubEmulator,
           sandbox_server: SandboxServer, engine_smtp: SmtpServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = postgres_databases.create("aura_engine")
    work = tmp_path_factory.mktemp("engine")
    documents_root = work / "documents"
    suffix = uuid.uuid4().hex[:8]
    env = {
        "AURA_ENV": "embedded",
        "AURA_DATA_DIR": str(work),
        "AURA_DATABASE_URL": url,
        "AURA_WAREHOUSE_URL": url,
        "AURA_WAREHOUSE_SCHEMA": "warehouse",
        "AURA_DOCUMENTS_ROOT": str(documents_root),
        "AURA_SANDBOX_URL": sandbox_server.base_url,
        "PUBSUB_EMULATOR_HOST": pubsub_emulator.host,
        "PUBSUB_PROJECT_ID": pubsub_emulator.project_id,
        "AURA_UNDERWRITING_CREATED_TOPIC": f"engine-created-{suffix}",
        "AURA_UNDERWRITING_CREATED_SUBSCRIPTION": f"engine-created-sub-{suffix}",
        "AURA_DEAD_LETTER_TOPIC": f"engine-dead-letter-{suffix}",
        "AURA_PROCESSING_COMPLETED_TOPIC": f"engine-completed-{suffix}",
        "AURA_TEST_CRASH_FLAG": str(work / "crash.flag"),
        "AURA_SMTP_HOST": engine_smtp.host,
        "AURA_SMTP_PORT": str(engine_smtp.port),
        "AURA_NOTIFY_TO": NOTIFY_TO,
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    defs_module = importlib.import_module("aura_dagster_tests.engine.engine_definitions")
    # The resources with their values, not the EnvVars Dagster resolves at run start.
    pubsub: PubSubResource = embedded_resources(env_vars=False)["pubsub"]
    pubsub.ensure_topology()
    listener, dead_letters = f"engine-listener-{suffix}", f"engine-dead-probe-{suffix}"
    ensure_subscription(pubsub.clients.subscriber, pubsub.project_id, listener,
                        pubsub.completed_topic)
    ensure_subscription(pubsub.clients.subscriber, pubsub.project_id, dead_letters,
                        pubsub.dead_letter_topic)
    stores = open_stores(url, migrate=True, catalog=defs_module.TEST_CATALOG)
    samples = _write_samples(documents_root)
    with tempfile.TemporaryDirectory() as home, DagsterInstance.local_temp(home) as instance:
        yield Engine(stores, pubsub, instance, sandbox_server, documents_root, samples,
                     listener, dead_letters, work / "crash.flag")
    for subscription in (listener, dead_letters):
        delete_subscription(pubsub.clients.subscriber, pubsub.project_id, subscription)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
