"""Run the Google Pub/Sub emulator (from the Google Cloud CLI) as a child process.

    with PubSubEmulator() as emulator:
        resource = PubSubResource(project_id=emulator.project_id, emulator_host=emulator.host)

The emulator keeps everything in memory; its log and working directory live in a temp
dir that is removed on stop. The launcher script execs Java, so the emulator is started in
its own process group and the whole group is signalled on stop.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import grpc
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

EMULATOR_SCRIPT = Path(
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
)
SCRIPT_ENV_VAR = "AURA_PUBSUB_EMULATOR_SCRIPT"  # override the launcher location
DEFAULT_PROJECT_ID = "aura-local"


class PubSubEmulatorError(RuntimeError):
    """The emulator could not be started (missing Java / SDK, crash, or no answer in time)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_emulator_script(script: str | Path | None = None) -> Path:
    """The launcher: the argument, $AURA_PUBSUB_EMULATOR_SCRIPT, the default install, or
    the one next to `gcloud` on PATH."""
    candidates: list[Path] = []
    if script is not None:
        candidates.append(Path(script))
    elif os.environ.get(SCRIPT_ENV_VAR):
        candidates.append(Path(os.environ[SCRIPT_ENV_VAR]))
    else:
        candidates.append(EMULATOR_SCRIPT)
        gcloud = shutil.which("gcloud")
        if gcloud:
            sdk_root = Path(gcloud).resolve().parent.parent
            candidates.append(sdk_root / "platform/pubsub-emulator/bin/cloud-pubsub-emulator")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise PubSubEmulatorError(
        "Pub/Sub emulator launcher not found (looked at "
        + ", ".join(str(c) for c in candidates)
        + "). Install it with `gcloud components install pubsub-emulator` (or the "
        "google-cloud-cli-pubsub-emulator package) or set " + SCRIPT_ENV_VAR + "."
    )


def _check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin/java").exists():
        return
    if shutil.which("java") is None:
        raise PubSubEmulatorError(
            "Java is not installed (no `java` on PATH and no JAVA_HOME): the Pub/Sub "
            "emulator needs a Java 8+ runtime, e.g. `apt-get install openjdk-17-jre-headless`."
        )


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, SIGTERM the emulator when the process that
    started it dies (a killed pytest must not leave a JVM behind; atexit cannot cover that).
    The setting survives the launcher's exec of java."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PubSubEmulator:
    """A Pub/Sub emulator on 127.0.0.1, started on `start()` / `__enter__`."""

    def __init__(
        self,
        port: int | None = None,
        *,
        project_id: str = DEFAULT_PROJECT_ID,
        startup_timeout: float = 30.0,
        script: str | Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.project_id = project_id
        self.startup_timeout = startup_timeout
        self._script = script
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self.startup_seconds: float | None = None  # measured, for logs and reports

    @property
    def host(self) -> str:
        """`host:port` as PUBSUB_EMULATOR_HOST expects it."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "emulator.log" if self._workdir else None

    def env(self) -> dict[str, str]:
        """Environment for child processes (dagster dev, the demo) to use this emulator."""
        return {"PUBSUB_EMULATOR_HOST": self.host, "PUBSUB_PROJECT_ID": self.project_id}

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> PubSubEmulator:
        if self._process is not None:
            raise PubSubEmulatorError("emulator already started")
        script = find_emulator_script(self._script)
        _check_java()
        self._workdir = Path(tempfile.mkdtemp(prefix="aura-pubsub-emulator-"))
        started = time.monotonic()
        with open(self._workdir / "emulator.log", "wb") as log:
            self._process = subprocess.Popen(
                [str(script), "--host=127.0.0.1", f"--port={self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self._workdir,
                start_new_session=True,  # own process group: stop() reaches the java child
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        atexit.register(self.stop)  # never leave a JVM behind if the caller forgets
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "<no log>"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "<empty log>"

    def _wait_until_ready(self) -> None:
        """Ready = a real RPC answers (the port opens a little before the server serves)."""
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        channel = grpc.insecure_channel(self.host)
        try:
            client = pubsub_v1.PublisherClient(transport=PublisherGrpcTransport(channel=channel))
            last_error: Exception | None = None
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise PubSubEmulatorError(
                        f"Pub/Sub emulator exited with code {self._process.returncode} "
                        f"during start-up. Log tail:\n{self._log_tail()}"
                    )
                try:
                    list(client.list_topics(
                        request={"project": f"projects/{self.project_id}"},
                        timeout=1.0, retry=None,
                    ))
                    return
                except Exception as exc:  # not up yet: connection refused / unavailable
                    last_error = exc
                    time.sleep(0.1)
            raise PubSubEmulatorError(
                f"Pub/Sub emulator did not answer on {self.host} within "
                f"{self.startup_timeout:.0f}s (last error: {last_error!r}). "
                f"Log tail:\n{self._log_tail()}"
            )
        finally:
            channel.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> PubSubEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
