"""The engine on one machine: what `aura-dagster demo` and the engine benchmark share.

    with LocalStack(data_dir) as local:      # emulator, sandbox, DAGSTER_HOME, topology
        stores = local.open_stores()          # seed tenants and underwritings here
        local.start_dagster()                 # dagster-daemon (+ webserver) subprocesses
        local.pubsub.publish(local.pubsub.underwriting_created_topic, event, attrs)
        done = wait_for_completions(local, {"uw_1"}, timeout=120)

`data_dir` becomes AURA_DATA_DIR (SQLite store `aura.db`, warehouse, documents,
`dagster_home/`, `logs/`); it is wiped first unless `fresh=False` (the demo keeps it). While
the stack runs, `data_dir/stack.json` says where its parts are (aura_dagster.settings reads
it), so commands typed in another shell find the same store, Pub/Sub emulator and Dagster
home with nothing set. Leaving the block stops everything that was started (the Dagster
processes first, all at once, then the emulator they talk to), removes the state file and
restores this process's environment. `stop_on_signals()` makes SIGTERM, SIGINT and SIGHUP
leave the block that way too: the children run in sessions of their own, so nothing else
stops them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from aura_dagster.settings import (
    PROCESSING_COMPLETED_TOPIC,
    STACK_FILE,
    Settings,
    StackState,
    load_settings,
    read_stack_state,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = PROJECT_ROOT / "workspace.yaml"


def free_port(preferred: int) -> int:
    """`preferred` when it is free on 127.0.0.1, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived. A KeyboardInterrupt, so what stops on Ctrl-C stops on it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's code for a command ended by this signal."""
        return 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise StopRequested in the main thread on the first SIGTERM, SIGINT or SIGHUP, so the
    `with` blocks unwind and stop what they started (by default SIGTERM and SIGHUP end the
    process at once and leave its children running). Later signals are ignored: they would
    cut the clean-up short."""
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise StopRequested(signum)

    previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# When each process group was sent SIGTERM: one deadline for groups stopped together.
_terminated: weakref.WeakKeyDictionary[subprocess.Popen[bytes], float] = (
    weakref.WeakKeyDictionary())


def terminate_groups(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child's process group, once (a second SIGTERM cuts Dagster's own
    shutdown short): groups stopped together shut down side by side, not one by one."""
    for proc in procs:
        if proc in _terminated:
            continue
        _terminated[proc] = time.monotonic()
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)


@contextmanager
def managed_process(name: str, args: list[str], env: dict[str, str],
                    log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a long-lived child (daemon, webserver) in its own process group, logging to
    `log_dir/<name>.log`; on exit stop it and everything it started (run workers)."""
    log = (log_dir / f"{name}.log").open("a")  # a restart appends
    proc = subprocess.Popen(args, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        yield proc
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the child's process group, wait for the whole group (run workers still
    write to DAGSTER_HOME while they shut down), SIGKILL what is left `timeout` seconds
    after its SIGTERM."""
    terminate_groups([proc])
    deadline = _terminated[proc] + timeout
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so the group can empty
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
    proc.wait()


@dataclass(frozen=True)
class Completion:
    """One `processing.completed` as the listener received it."""

    event: dict[str, Any]
    received_at: float  # time.time() when pulled
    published_at: float | None  # the emulator's publish time of the event


class LocalStack:
    """Pub/Sub emulator + sandbox vendors + a DAGSTER_HOME, and Dagster on demand."""

    def __init__(self, data_dir: Path, *, sandbox_slow_seconds: float = 30.0,
                 listener: str | None = None, database_url: str | None = None,
                 fresh: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.fresh = fresh  # wipe data_dir at start (else keep the store and Dagster's runs)
        self.home = self.data_dir / "dagster_home"
        self.log_dir = self.data_dir / "logs"
        self.listener = listener or f"local-listener-{os.getpid()}"
        self._slow_seconds = sandbox_slow_seconds
        self._stack = ExitStack()
        self._dagster = ExitStack()  # the Dagster processes: stopped or killed on their own
        self.database_url = database_url  # store + warehouse on it (else SQLite files)
        self._saved_environ: dict[str, str] | None = None
        self.env: dict[str, str] = {}
        self.resources: dict[str, Any] = {}
        self.daemon: subprocess.Popen[bytes] | None = None
        # Process-group leaders started for Dagster (daemon, webserver): each group also
        # holds the code server and the run workers the daemon started.
        self.dagster_processes: list[subprocess.Popen[bytes]] = []
        self.webserver_port: int | None = None
        self.settings: Settings | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def child_processes(self) -> list[subprocess.Popen[bytes]]:
        """The process-group leaders started for Dagster (each group holds their code
        servers and run workers)."""
        return list(self.dagster_processes)

    def close(self) -> None:
        try:
            # All at once: the daemon and the webserver stop side by side, while the
            # emulator their sensors and code servers talk to is still up.
            terminate_groups(self.child_processes())
            self._dagster.close()
            self._stack.close()
        finally:
            if self._saved_environ is not None:
                os.environ.clear()
                os.environ.update(self._saved_environ)
                self._saved_environ = None

    def _start(self) -> None:
        from aura_dagster.pubsub.emulator import PubSubEmulator
        from aura_dagster.sandbox import SandboxServer

        running = read_stack_state(self.data_dir)
        if running is not None and running.pid != os.getpid():
            raise RuntimeError(f"a local stack (pid {running.pid}) already runs on "
                               f"{self.data_dir}; stop it first")
        if self.fresh and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "dagster.yaml", self.home / "dagster.yaml")

        emulator = self._stack.enter_context(PubSubEmulator())
        sandbox = self._stack.enter_context(SandboxServer(port=0,
                                                          slow_seconds=self._slow_seconds))
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "AURA_ENV": "embedded",
            "AURA_DATA_DIR": str(self.data_dir),
            "PUBSUB_EMULATOR_HOST": emulator.host,
            "PUBSUB_PROJECT_ID": emulator.project_id,
            "AURA_SANDBOX_URL": sandbox.base_url,
        }
        if self.database_url:
            self.env.update(AURA_DATABASE_URL=self.database_url,
                            AURA_WAREHOUSE_URL=self.database_url,
                            AURA_WAREHOUSE_SCHEMA="warehouse")
        # Every location as a variable: Dagster's resources reference them (EnvVar), so the
        # launchpad shows names, not URLs.
        self.env.update(load_settings(self.env, use_stack=False).environ())
        self._saved_environ = dict(os.environ)
        os.environ.update(self.env)  # this process builds the same resources as Dagster's
        self.settings = load_settings(self.env, use_stack=False)
        self._write_state()
        self._stack.callback(self._remove_state)

        from aura_dagster.environments import embedded_resources
        from aura_dagster.pubsub.admin import ensure_subscription

        self.resources = embedded_resources(self.settings, env_vars=False)
        self.pubsub.ensure_topology()
        ensure_subscription(self.pubsub.clients.subscriber, self.pubsub.project_id,
                            self.listener, PROCESSING_COMPLETED_TOPIC)

    def _write_state(self) -> None:
        """Tell commands in other shells where this stack's parts are."""
        assert self.settings is not None
        s = self.settings
        StackState(pid=os.getpid(), data_dir=str(self.data_dir), dagster_home=str(self.home),
                   pubsub_emulator_host=s.emulator_host or "",
                   pubsub_project_id=s.pubsub_project_id, database_url=s.store_url,
                   sandbox_url=s.sandbox_url,
                   webserver_url=(f"http://127.0.0.1:{self.webserver_port}"
                                  if self.webserver_port else None)).write(self.data_dir)

    def _remove_state(self) -> None:
        with suppress(FileNotFoundError):
            (self.data_dir / STACK_FILE).unlink()

    @property
    def pubsub(self) -> Any:  # PubSubResource
        return self.resources["pubsub"]

    def open_stores(self) -> Any:  # Stores
        from aura_dagster.resources.store import open_stores

        assert self.settings is not None
        return open_stores(self.settings.store_url, migrate=True)

    def start_dagster(self, *, webserver_port: int | None = None) -> None:
        """Start `dagster-daemon run` and, given a port, `dagster-webserver` on it, once the
        instance's storage exists (two processes creating it at once would race)."""
        from aura_dagster.commands.instance_setup import prepare_instance

        prepare_instance(self.home)
        bin_dir = Path(sys.executable).parent
        workspace = str(WORKSPACE)
        self.daemon = self._dagster.enter_context(managed_process(
            "dagster-daemon", [str(bin_dir / "aura-dagster"), "daemon", "-w", workspace],
            self.env, self.log_dir))
        self.dagster_processes.append(self.daemon)
        if webserver_port is not None:
            self.dagster_processes.append(self._dagster.enter_context(managed_process(
                "dagster-webserver", [str(bin_dir / "dagster-webserver"), "-w", workspace,
                                      "-h", "127.0.0.1", "-p", str(webserver_port)],
                self.env, self.log_dir)))
            self.webserver_port = webserver_port
            self._write_state()

    def stop_dagster(self) -> None:
        """Stop the Dagster processes (SIGTERM, as an operator would); start them again with
        `start_dagster`."""
        self._dagster.close()
        self.daemon = None
        self.dagster_processes.clear()

    @property
    def daemon_exited(self) -> bool:
        return self.daemon is not None and self.daemon.poll() is not None

    def publish_created(self, event: dict[str, Any]) -> str:
        return self.pubsub.publish(self.pubsub.underwriting_created_topic, event,
                                   {"event": "underwriting.created"})


def wait_for_completions(
    local: LocalStack, wanted: Collection[str], *, timeout: float,
    on_completion: Callable[[Completion], None] | None = None,
    on_poll: Callable[[set[str]], Collection[str] | None] | None = None,
) -> dict[str, Completion]:
    """Pull `processing.completed` from the listener until every underwriting in `wanted`
    has one, `timeout` seconds pass, or the daemon exits (check `local.daemon_exited`).

    `on_completion` sees each wanted event as it arrives; `on_poll` is called after every
    pull with the underwritings still pending and may return ids to stop waiting for (a
    case left parked for review). Events for other underwritings are acked and dropped.
    """
    pending = set(wanted)
    done: dict[str, Completion] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline and not local.daemon_exited:
        messages = local.pubsub.pull(subscription=local.listener, max_messages=50, timeout=2.0)
        received_at = time.time()
        if messages:
            local.pubsub.acknowledge([m.ack_id for m in messages], subscription=local.listener)
        for message in messages:
            event = json.loads(message.data)
            underwriting_id = event["underwriting_id"]
            if underwriting_id not in pending:
                continue
            published = message.publish_time.timestamp() if message.publish_time else None
            completion = Completion(event, received_at, published)
            done[underwriting_id] = completion
            pending.discard(underwriting_id)
            if on_completion is not None:
                on_completion(completion)
        if on_poll is not None and pending:
            pending -= set(on_poll(set(pending)) or ())
    return done
