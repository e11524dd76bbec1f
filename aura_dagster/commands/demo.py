"""`aura-dagster demo`: the whole engine on the embedded default, start to finish.

Starts the Pub/Sub emulator, the sandbox vendor server and Dagster (daemon + webserver),
seeds two tenants with underwritings and generated documents, publishes their
`underwriting.created` events, waits for every `processing.completed` (approving the one
the review gate parks), prints the factors per underwriting, and stops what it started.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from aura_dagster.demo_cases import DemoCase, build_demo_cases
from aura_dagster.environments import PROCESSING_COMPLETED_TOPIC, data_dir, sqlite_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT_SECONDS = 150.0


def _say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]


@contextmanager
def _process(name: str, args: list[str], env: dict[str, str],
             log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a long-lived child (daemon, webserver) and stop it with its children on exit."""
    log = (log_dir / f"{name}.log").open("w")
    proc = subprocess.Popen(args, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        log.close()


def _prepare_home(demo_dir: Path) -> Path:
    home = demo_dir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def run(*, keep: bool = False) -> int:
    warnings.filterwarnings("ignore", module="dagster")  # preview/beta notices are not news here
    from aura_dagster.pubsub.emulator import PubSubEmulator
    from aura_dagster.sandbox import SandboxServer

    started = time.monotonic()
    demo_dir = data_dir() / "demo"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    (demo_dir / "logs").mkdir(parents=True)
    home = _prepare_home(demo_dir)
    bin_dir = Path(sys.executable).parent

    with ExitStack() as stack:
        _say("starting the Pub/Sub emulator and the sandbox vendor server")
        emulator = stack.enter_context(PubSubEmulator())
        sandbox = stack.enter_context(SandboxServer(port=0, slow_seconds=30.0))
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "AURA_ENV": "embedded",
            "AURA_DATA_DIR": str(demo_dir),
            "PUBSUB_EMULATOR_HOST": emulator.host,
            "PUBSUB_PROJECT_ID": emulator.project_id,
            "AURA_SANDBOX_URL": sandbox.base_url,
        }
        os.environ.update(env)  # this process builds the same resources as Dagster's

        from aura_dagster.environments import embedded_resources
        from aura_dagster.pubsub.admin import ensure_subscription
        from aura_dagster.resources.store import open_stores

        resources = embedded_resources()
        pubsub = resources["pubsub"]
        pubsub.ensure_topology()
        listener = f"demo-listener-{os.getpid()}"
        ensure_subscription(pubsub.clients.subscriber, pubsub.project_id, listener,
                            PROCESSING_COMPLETED_TOPIC)

        stores = open_stores(sqlite_url(demo_dir / "aura.db"), migrate=True)
        cases = build_demo_cases(stores, demo_dir / "documents")
        _say(f"seeded {len(cases)} underwritings for "
             f"{len({c.spec.organization_id for c in cases})} tenants")

        port = _free_port(int(os.environ.get("AURA_WEBSERVER_PORT", "3000")))
        workspace = str(PROJECT_ROOT / "workspace.yaml")
        daemon = stack.enter_context(_process(
            "dagster-daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", workspace], env,
            demo_dir / "logs"))
        stack.enter_context(_process("dagster-webserver", [
            str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1",
            "-p", str(port)], env, demo_dir / "logs"))
        _say(f"Dagster daemon started; UI on http://127.0.0.1:{port} (logs in {demo_dir / 'logs'})")

        for case in cases:
            pubsub.publish(pubsub.underwriting_created_topic, case.event,
                           {"event": "underwriting.created"})
        _say(f"published {len(cases)} underwriting.created events")

        events = _wait_for_completions(pubsub, listener, cases, stores, daemon)
        _print_report(cases, events, stores)
        total = time.monotonic() - started
        _say(f"done in {total:.0f}s")
        if keep:
            _say(f"Dagster keeps running on http://127.0.0.1:{port}; Ctrl-C to stop")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        missing = [c.spec.underwriting_id for c in cases if c.spec.underwriting_id not in events]
        if missing:
            print(f"no processing.completed for: {', '.join(missing)} "
                  f"(see {demo_dir / 'logs'})", file=sys.stderr)
            return 1
    return 0


def _wait_for_completions(pubsub: Any, listener: str, cases: list[DemoCase], stores: Any,
                          daemon: subprocess.Popen[bytes]) -> dict[str, dict[str, Any]]:
    wanted = {c.spec.underwriting_id for c in cases}
    events: dict[str, dict[str, Any]] = {}
    approved: set[str] = set()
    deadline = time.monotonic() + DEMO_TIMEOUT_SECONDS
    while wanted - events.keys() and time.monotonic() < deadline:
        if daemon.poll() is not None:
            _say(f"the Dagster daemon exited with code {daemon.returncode}: see its log")
            break
        messages = pubsub.pull(subscription=listener, max_messages=50, timeout=2.0)
        if messages:
            pubsub.acknowledge([m.ack_id for m in messages], subscription=listener)
        for message in messages:
            event = json.loads(message.data)
            events[event["underwriting_id"]] = event
            summary = event["summary"]
            _say(f"processing.completed {event['underwriting_id']}: "
                 f"{summary['completed_count']} completed, {summary['failed_count']} failed, "
                 f"{summary.get('timeout_count', 0)} timed out")
        for underwriting_id in sorted(wanted - events.keys() - approved):
            row = stores.underwritings.get_underwriting(underwriting_id)
            if row and row["status"] == "awaiting_review":
                _say(f"{underwriting_id} parked for review: {row.get('review_reason')}")
                _say(f"approving {underwriting_id} as 'demo-reviewer' (resume_after_review)")
                _approve(underwriting_id)
                approved.add(underwriting_id)
    return events


def _approve(underwriting_id: str) -> None:
    from aura_dagster.commands.review import approve

    approve(underwriting_id, reviewer="demo-reviewer")


def _format_value(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _print_report(cases: list[DemoCase], events: dict[str, dict[str, Any]], stores: Any) -> None:
    for case in cases:
        spec = case.spec
        event = events.get(spec.underwriting_id)
        print()
        print(f"== {spec.underwriting_id}  {spec.business_name} ({spec.business_state})  "
              f"tenant {spec.organization_id}  — {case.story}")
        if event is None:
            print("   no processing.completed received")
        else:
            s = event["summary"]
            print(f"   processors: {s['total_processors']} total, "
                  f"{s['completed_count']} completed, "
                  f"{s['failed_count']} failed, {s.get('timeout_count', 0)} timed out; "
                  f"run {event['run_id']}")
            for failed in event["failed_processors"] + event["timeout_processors"]:
                print(f"   ! {failed['processor_id']}: {failed['error_message']}")
        factors = stores.factors.get_factors(spec.underwriting_id)
        width = max((len(f["factor_name"]) for f in factors), default=10)
        for factor in factors:
            print(f"   {factor['factor_name']:<{width}}  {_format_value(factor['value']):<60}  "
                  f"{factor['processor']}")
