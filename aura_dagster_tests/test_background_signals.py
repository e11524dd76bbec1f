"""Processes started in the background still stop on SIGTERM.

A non-interactive shell starts background jobs (`nohup make test &`, `cmd &` in a deploy
script, some CI runners) with SIGINT ignored, and Dagster gives SIGTERM whatever SIGINT
does (`dagster._utils.interrupts`), also when it restores the handlers after a run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DEFINITIONS = "from dagster import Definitions\n\ndefs = Definitions()\n"
# An in-process run, then a child process asked to stop: what the suite does between an
# engine test and the next (Dagster's compute-log `tail` helpers, the sandbox server).
RUN_THEN_TERMINATE_CHILD = """
import subprocess, sys
import aura_dagster_tests.conftest  # what pytest imports first
from dagster import job, op

@op
def noop() -> None:
    pass

@job
def one_op() -> None:
    noop()

assert one_op.execute_in_process().success
child = subprocess.Popen(["sleep", "60"])
child.terminate()
try:
    child.wait(timeout=10)
except subprocess.TimeoutExpired:
    child.kill()
    sys.exit("the child ignored SIGTERM")
"""


def _with_sigint_ignored(command: list[str]) -> list[str]:
    """What `cmd &` in a non-interactive shell does to the command. (A shell, not
    `preexec_fn`: forking this process, which holds gRPC threads, can abort the child.)"""
    return ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *command]


def _wait_for(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in {path} after {timeout:.0f} s:\n"
                         + (path.read_text(errors="replace") if path.exists() else ""))


def test_daemon_started_with_sigint_ignored_stops_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "defs.py").write_text(DEFINITIONS)
    log = tmp_path / "daemon.log"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    with log.open("w") as out:
        daemon = subprocess.Popen(_with_sigint_ignored(
            [str(Path(sys.executable).parent / "aura-dagster"), "daemon", "-f", "defs.py"]),
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        _wait_for(log, "SensorDaemon", timeout=60)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("the daemon ignored SIGTERM") from None
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()


def test_the_suite_run_in_the_background_can_stop_its_children(tmp_path: Path) -> None:
    project = Path(__file__).resolve().parents[1]
    done = subprocess.run(_with_sigint_ignored([sys.executable, "-c", RUN_THEN_TERMINATE_CHILD]),
                          cwd=project, env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
