"""SIGTERM, SIGINT and SIGHUP stop everything `aura-dagster stack` / `demo` started.

The commands start their children in sessions of their own (the daemon's process group also
holds its code server and run workers), so no signal reaches them but through the command:
a command that dies of a signal leaves the daemon, the webserver and the code servers
running, with the UI up and a stale `stack.json`. Each test starts the real command in a
new session, records the process tree under it once Dagster is up, sends one signal to the
command, then checks that the command exited, every recorded process is gone, `stack.json`
is removed and the UI's port is free.

A daemon asked to stop waits for the sensor evaluations in flight. With Pub/Sub unreachable
(what an orphaned daemon sees once the emulator died with its parent), the sensor's pull
used to retry for the client's default minute, and the daemon with it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aura_dagster.commands.instance_setup import prepare_instance
from aura_dagster.commands.local_stack import PROJECT_ROOT, WORKSPACE
from aura_dagster.pubsub import PubSubEmulator
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.sandbox import SandboxServer

STOP_SECONDS = 30.0  # what a supervisor (systemd, Kubernetes) waits before SIGKILL
START_SECONDS = 180.0  # a loaded host imports the project slowly, three times over
BIN = Path(sys.executable).parent
# The engine fixture exports the test store, topics and home: the command must find its own.
OWN_PREFIXES = ("AURA_", "PUBSUB_", "DAGSTER_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    return {**env, **extra}


@dataclass(frozen=True)
class Proc:
    pid: int
    start_ticks: int  # /proc/<pid>/stat starttime: tells a reused pid apart
    cmdline: str

    @property
    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[1] == self.start_ticks and stat[0] != "Z"


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, start time, parent pid) of a process, None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces
    return fields[0], int(fields[19]), int(fields[1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def process_tree(root: int) -> list[Proc]:
    """`root` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] != "Z":
            children.setdefault(stat[2], []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        stat = _stat(pid)
        if stat is not None:
            found.append(Proc(pid, stat[1], _cmdline(pid)))
        todo += children.get(pid, [])
    return found


def wait_for(
    what: str, probe: Callable[[], object], timeout: float, proc: subprocess.Popen[bytes], log: Path
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError(
        f"{what}: not within {timeout:.0f} s (exit code {proc.poll()})\n"
        + log.read_text(errors="replace")[-3000:]
    )


def ui_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    """Nothing listens on it. (SO_REUSEADDR, as the webserver binds: the connections this
    test made to the UI may linger in TIME_WAIT, which is no process.)"""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def any_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill_leftovers(marker: str) -> None:
    """Clean up after a failed test: only processes started with this test's data dir in
    their environment (the command passes its environment on to everything it starts)."""
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


@dataclass
class Started:
    proc: subprocess.Popen[bytes]
    log: Path
    state_file: Path
    tree: list[Proc]
    port: int


@pytest.fixture
def start_command(tmp_path: Path) -> Iterator[Callable[..., Started]]:
    started: list[Started] = []

    def start(args: list[str], state_dir: str) -> Started:
        data_dir = tmp_path / "data"
        log = tmp_path / "command.log"
        port = any_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(BIN / "aura-dagster"), *args, "--port", str(port)]
                if args[0] == "stack"
                else [str(BIN / "aura-dagster"), *args],
                env=clean_env(AURA_DATA_DIR=str(data_dir), AURA_WEBSERVER_PORT=str(port)),
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        state_file = data_dir / state_dir / "stack.json"
        run = Started(proc, log, state_file, [], port)
        started.append(run)

        def ui_url() -> str | None:
            try:
                return json.loads(state_file.read_text()).get("webserver_url")
            except (OSError, ValueError):
                return None

        url = wait_for("stack.json with the UI's address", ui_url, START_SECONDS, proc, log)
        run.port = int(str(url).rsplit(":", 1)[1])
        wait_for("the UI", lambda: ui_answers(str(url)), START_SECONDS, proc, log)

        def code_servers() -> bool:  # the daemon's and the webserver's
            tree = process_tree(proc.pid)
            return sum("api grpc" in p.cmdline for p in tree) >= 2

        wait_for("both code servers", code_servers, START_SECONDS, proc, log)
        run.tree = process_tree(proc.pid)
        return run

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
        kill_leftovers(f"AURA_DATA_DIR={tmp_path / 'data'}")


def assert_stopped(run: Started, expected_code: int) -> None:
    try:
        code = run.proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            "the command did not exit:\n" + run.log.read_text(errors="replace")[-3000:]
        ) from None
    log = run.log.read_text(errors="replace")
    deadline = time.monotonic() + 5.0  # orphans, if any, are reaped by init: a moment
    while any(p.alive for p in run.tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [f"{p.pid} {p.cmdline[:120]}" for p in run.tree if p.alive]
    assert not left, "still running:\n" + "\n".join(left) + "\n" + log[-3000:]
    assert not run.state_file.exists(), "stale stack.json"
    assert port_is_free(run.port)
    assert code == expected_code, log[-3000:]


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_stack_stops_everything_it_started(
    signum: signal.Signals, start_command: Callable[..., Started]
) -> None:
    run = start_command(["stack"], "stack-embedded")
    assert any("java" in p.cmdline for p in run.tree)  # the Pub/Sub emulator
    assert any("dagster-daemon" in p.cmdline or " daemon " in p.cmdline for p in run.tree)
    assert any("dagster-webserver" in p.cmdline for p in run.tree)

    run.proc.send_signal(signum)

    # Serving until told to stop is what `stack` is for: stopping is its normal end.
    assert_stopped(run, expected_code=0)
    assert f"stopping ({signum.name})" in run.log.read_text()


def test_demo_stopped_while_it_works_stops_everything(
    start_command: Callable[..., Started],
) -> None:
    run = start_command(["demo", "--keep"], "")

    run.proc.send_signal(signal.SIGTERM)

    # Stopped before it was done: the shell's code for "ended by SIGTERM".
    assert_stopped(run, expected_code=128 + signal.SIGTERM)


def test_daemon_exits_on_sigterm_while_pubsub_is_unreachable(tmp_path: Path) -> None:
    """An orphaned daemon outlives the emulator (it dies with the stack): its sensor tick
    then waits on Pub/Sub, and a stop must not wait for that tick's retries to give up."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    prepare_instance(home)
    log = tmp_path / "daemon.log"
    with PubSubEmulator() as emulator, SandboxServer(port=0) as sandbox:
        env = clean_env(
            DAGSTER_HOME=str(home),
            AURA_DATA_DIR=str(tmp_path),
            PUBSUB_EMULATOR_HOST=emulator.host,
            PUBSUB_PROJECT_ID=emulator.project_id,
            AURA_SANDBOX_URL=sandbox.base_url,
        )
        PubSubResource(
            project_id=emulator.project_id, emulator_host=emulator.host
        ).ensure_topology()
        with log.open("wb") as out:
            daemon = subprocess.Popen(
                [str(BIN / "aura-dagster"), "daemon", "-w", str(WORKSPACE)],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # The sensor loop runs once the daemon's code server answers.
            wait_for(
                "the daemon's code server",
                lambda: any("api grpc" in p.cmdline for p in process_tree(daemon.pid)),
                START_SECONDS,
                daemon,
                log,
            )
            wait_for("a sensor tick", lambda: _last_tick(home) > 0, START_SECONDS, daemon, log)
            emulator.stop()
            before = _last_tick(home)
            # The underwriting sensor's tick that started after the emulator went away.
            wait_for(
                "a tick waiting on Pub/Sub",
                lambda: _pulling_since(home, before),
                START_SECONDS,
                daemon,
                log,
            )
            tree = process_tree(daemon.pid)

            daemon.send_signal(signal.SIGTERM)

            try:
                daemon.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    "the daemon did not exit:\n" + log.read_text(errors="replace")[-3000:]
                ) from None
            deadline = time.monotonic() + 5.0
            while any(p.alive for p in tree) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not [p for p in tree if p.alive], "its code server outlived it"
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            kill_leftovers(f"DAGSTER_HOME={home}\0")


def _query(home: Path, sql: str, *params: object) -> int:
    """One number from the daemon's schedule storage (its sensor ticks), 0 before it exists."""
    import sqlite3

    with sqlite3.connect(home / "schedules" / "schedules.db") as conn:
        try:
            return int(conn.execute(sql, params).fetchone()[0] or 0)
        except sqlite3.OperationalError:
            return 0


def _last_tick(home: Path) -> int:
    return _query(home, "SELECT MAX(id) FROM job_ticks")


def _pulling_since(home: Path, after: int) -> bool:
    return (
        _query(
            home,
            "SELECT COUNT(*) FROM job_ticks WHERE id > ? AND status = 'STARTED' "
            "AND tick_body LIKE '%underwriting_created_sensor%'",
            after,
        )
        > 0
    )


def test_demo_keeps_its_data_unless_fresh(
    tmp_path: Path, start_command: Callable[..., Started]
) -> None:
    """`make demo` used to wipe `.data/` (earlier review decisions with it) every time."""
    data = tmp_path / "data"
    data.mkdir()
    earlier = data / "decided-before.txt"  # stands for what an earlier run left
    earlier.write_text("approved by alice")

    run = start_command(["demo", "--keep"], "")
    run.proc.send_signal(signal.SIGTERM)
    assert_stopped(run, expected_code=128 + signal.SIGTERM)
    assert earlier.read_text() == "approved by alice"
    assert (data / "aura.db").exists()  # this run's store stays too

    run = start_command(["demo", "--keep", "--fresh"], "")
    run.proc.send_signal(signal.SIGTERM)
    assert_stopped(run, expected_code=128 + signal.SIGTERM)
    assert not earlier.exists()
    assert f"--fresh: wiping {data}" in run.log.read_text()
