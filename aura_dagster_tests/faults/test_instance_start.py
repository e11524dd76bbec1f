"""`make demo` starts the daemon and the webserver at the same moment on a fresh
DAGSTER_HOME. Both used to create Dagster's SQLite storage and one of them failed
(`table alembic_version already exists`): the instance is now created and migrated once,
before either starts. Started together on a fresh home several times over, both come up."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dagster import DagsterInstance

from aura_dagster.commands.instance_setup import storage_ready
from aura_dagster.commands.local_stack import PROJECT_ROOT, LocalStack
from aura_dagster_tests.faults.conftest import stack_environment

pytestmark = pytest.mark.faults
STARTS = 3
LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename } } } } }"""
STORAGE_ERRORS = ("alembic_version", "more than one head", "Traceback")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with stack_environment(), LocalStack(tmp_path_factory.mktemp("instance_start") / "data") \
            as local:
        yield local


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_home(home: Path) -> None:
    shutil.rmtree(home)
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")


def _location_loaded(port: int) -> bool:
    try:
        response = httpx.post(f"http://127.0.0.1:{port}/graphql",
                              json={"query": LOCATION_QUERY}, timeout=5.0)
    except httpx.HTTPError:
        return False
    entries = response.json()["data"]["workspaceOrError"].get("locationEntries", [])
    return bool(entries) and all(
        e["loadStatus"] == "LOADED"
        and e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)


def _daemon_beating(home: Path) -> bool:
    with DagsterInstance.from_config(str(home)) as instance:
        beats = instance.get_daemon_heartbeats()
    return {"SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"} <= set(beats)


def _new_log_text(stack: LocalStack, offsets: dict[str, int]) -> str:
    text = ""
    for name, offset in offsets.items():
        path = stack.log_dir / f"{name}.log"
        with path.open() as log:
            log.seek(offset)
            text += log.read()
    return text


def test_daemon_and_webserver_started_together_on_a_fresh_home(stack: LocalStack) -> None:
    for attempt in range(1, STARTS + 1):
        _fresh_home(stack.home)
        offsets = {name: (stack.log_dir / f"{name}.log").stat().st_size
                   if (stack.log_dir / f"{name}.log").exists() else 0
                   for name in ("dagster-daemon", "dagster-webserver")}
        port = _port()
        stack.start_dagster(webserver_port=port)
        # Neither process has imported Dagster yet: the storage must already be there.
        assert storage_ready(stack.home), f"start {attempt}: storage not created up front"
        deadline = time.monotonic() + 150
        loaded = beating = False
        while time.monotonic() < deadline and not (loaded and beating):
            assert all(p.poll() is None for p in stack.dagster_processes), \
                f"start {attempt}: a Dagster process exited:\n{_new_log_text(stack, offsets)}"
            loaded = loaded or _location_loaded(port)
            beating = beating or _daemon_beating(stack.home)
            time.sleep(1.0)
        logs = _new_log_text(stack, offsets)
        assert loaded and beating, f"start {attempt}: loaded={loaded} daemon={beating}\n{logs}"
        assert not [e for e in STORAGE_ERRORS if e in logs], f"start {attempt}:\n{logs}"
        stack.stop_dagster()
