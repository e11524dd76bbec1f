"""The daemon's log at INFO says what happened, not that nothing did.

Dagster's sensor daemon logs two INFO lines per sensor per tick ("Checking for new runs for
sensor", "Sensor ... skipped"), the run monitor two per poll per run: about 2,000 lines a
minute with the 0.5 s sensor loop. `aura-dagster daemon` logs those at DEBUG; a launched run
still logs its launch at INFO.

The daemon runs on its own DAGSTER_HOME and topics (the engine fixture's topics stay with
the in-process tests); store, sandbox and emulator are the engine's.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from dagster import DagsterInstance

from aura_dagster.commands.instance_setup import prepare_instance
from aura_dagster.commands.local_stack import PROJECT_ROOT, WORKSPACE
from aura_dagster.pubsub import delete_subscription
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.services.seeding import underwriting_created_event
from aura_dagster_tests.engine.conftest import Engine

IDLE_TICKS = 20  # of the underwriting sensor (1 s apart): about 20 s of an idle daemon
MOST_IDLE_LINES = 20


def _wait(what: str, probe: Callable[[], object], log: Path, timeout: float = 180.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


def _underwriting_ticks(home: Path) -> int:
    """Ticks of the underwriting sensor the daemon stored (its schedule storage)."""
    with sqlite3.connect(home / "schedules" / "schedules.db") as conn:
        try:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM job_ticks WHERE tick_body LIKE "
                    "'%underwriting_created_sensor%'"
                ).fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0


def _lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def test_idle_daemon_logs_little_and_a_launched_run_still_shows(
    engine: Engine, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    prepare_instance(home)
    suffix = uuid.uuid4().hex[:8]
    topics = {
        "AURA_UNDERWRITING_CREATED_TOPIC": f"logs-created-{suffix}",
        "AURA_UNDERWRITING_CREATED_SUBSCRIPTION": f"logs-created-sub-{suffix}",
        "AURA_DEAD_LETTER_TOPIC": f"logs-dead-letter-{suffix}",
        "AURA_PROCESSING_COMPLETED_TOPIC": f"logs-completed-{suffix}",
    }
    pubsub = PubSubResource(
        project_id=engine.pubsub.project_id,
        emulator_host=engine.pubsub.emulator_host,
        underwriting_created_topic=topics["AURA_UNDERWRITING_CREATED_TOPIC"],
        underwriting_created_subscription=topics["AURA_UNDERWRITING_CREATED_SUBSCRIPTION"],
        dead_letter_topic=topics["AURA_DEAD_LETTER_TOPIC"],
        completed_topic=topics["AURA_PROCESSING_COMPLETED_TOPIC"],
    )
    pubsub.ensure_topology()
    log = tmp_path / "daemon.log"
    env = {**os.environ, **topics, "DAGSTER_HOME": str(home)}
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "aura-dagster"), "daemon", "-w", str(WORKSPACE)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Started: every sensor has had its first ticks.
        _wait("the sensor's first ticks", lambda: _underwriting_ticks(home) >= 3, log)
        start_lines, start_ticks = len(_lines(log)), _underwriting_ticks(home)
        _wait(
            f"{IDLE_TICKS} idle ticks",
            lambda: _underwriting_ticks(home) >= start_ticks + IDLE_TICKS,
            log,
            timeout=120,
        )

        idle = _lines(log)[start_lines:]
        assert len(idle) < MOST_IDLE_LINES, "\n".join(idle[:60])

        spec = engine.tax_return_case()
        pubsub.publish(
            pubsub.underwriting_created_topic,
            underwriting_created_event(spec),
            {"event": "underwriting.created"},
        )
        with DagsterInstance.from_config(str(home)) as instance:
            run = _wait("the run", lambda: next(iter(instance.get_runs()), None), log)
        _wait(
            "its launch line",
            lambda: any(f"Completed launch of run {run.run_id}" in line for line in _lines(log)),
            log,
        )
    finally:
        with suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        delete_subscription(
            pubsub.clients.subscriber,
            pubsub.project_id,
            topics["AURA_UNDERWRITING_CREATED_SUBSCRIPTION"],
        )
