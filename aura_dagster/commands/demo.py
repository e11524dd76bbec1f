"""`aura-dagster demo`: the whole engine on the embedded default, start to finish.

Starts the Pub/Sub emulator, the sandbox vendor server and Dagster (daemon + webserver),
seeds two tenants with underwritings and generated documents, publishes their
`underwriting.created` events, waits for every `processing.completed` (approving the one
the review gate parks), prints the factors per underwriting, and stops what it started.

Everything lives in the data directory of aura_dagster.settings (`.data/` by default:
`aura.db`, `warehouse.db`, `documents/`, `dagster_home/`, `logs/`, `stack.json`), the same
place the other commands look. It is kept from one run to the next (review decisions, runs,
factors): a case an earlier run finished is reported from the store, not processed again, and
a case still parked is approved (or, with `--keep`, left parked). `--fresh` wipes it first.
With `--keep` Dagster keeps running and a parked case stays parked, for the operator to
approve or reject (README "Operating"). Ctrl-C, SIGTERM and SIGHUP stop everything the demo
started; stopped before it was done, it exits with 128 + the signal's number.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any

from aura_dagster.commands.local_stack import (
    Completion,
    LocalStack,
    StopRequested,
    free_port,
    stop_on_signals,
    wait_for_completions,
)
from aura_dagster.demo_cases import DemoCase, build_demo_cases
from aura_dagster.settings import STORE_FILE, load_settings

DEMO_TIMEOUT_SECONDS = 150.0


def _say(message: str) -> None:
    # After SIGHUP the terminal may be gone: a line lost must not stop the clean-up.
    with suppress(OSError):
        print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def demo_data_dir() -> Path:
    """The settings' data dir (`.data/` unless AURA_DATA_DIR says otherwise): the demo's
    store is the `.data/aura.db` the README and every other command use."""
    return load_settings(use_stack=False).data_dir


def run(*, keep: bool = False, fresh: bool = False) -> int:
    with stop_on_signals():
        try:
            return _run(keep=keep, fresh=fresh)
        except StopRequested as stop:
            _say(f"stopped ({stop.name}) before the demo was done; everything it started "
                 "is stopped")
            return stop.exit_code


def _run(*, keep: bool, fresh: bool) -> int:
    warnings.filterwarnings("ignore", module="dagster")  # preview/beta notices are not news here
    started = time.monotonic()
    demo_dir = demo_data_dir()
    if fresh and demo_dir.exists():
        _say(f"--fresh: wiping {demo_dir} (store, documents, Dagster runs, review decisions)")
    elif (demo_dir / STORE_FILE).exists():
        _say(f"keeping {demo_dir} from earlier runs, review decisions included "
             "(`aura-dagster demo --fresh` starts over)")
    _say("starting the Pub/Sub emulator and the sandbox vendor server")
    with LocalStack(demo_dir, sandbox_slow_seconds=30.0, fresh=fresh,
                    listener=f"demo-listener-{os.getpid()}") as local:
        stores = local.open_stores()
        cases = build_demo_cases(stores, demo_dir / "documents")
        _say(f"seeded {len(cases)} underwritings for "
             f"{len({c.spec.organization_id for c in cases})} tenants")
        earlier = finished_earlier(cases, stores)
        for underwriting_id, status in sorted(earlier.items()):
            _say(f"{underwriting_id}: {status} in an earlier run (kept; not processed again)")
        # A case parked in an earlier run has its run behind it: it only waits for review.
        new = [c for c in cases if c.spec.underwriting_id not in earlier
               and _status(stores, c.spec.underwriting_id) != "awaiting_review"]
        todo = [c for c in cases if c.spec.underwriting_id not in earlier]

        port = free_port(load_settings(use_stack=False).webserver_port)
        local.start_dagster(webserver_port=port)
        _say(f"Dagster daemon started; UI on http://127.0.0.1:{port} "
             f"(logs in {local.log_dir})")

        for case in new:
            local.publish_created(case.event)
        _say(f"published {len(new)} underwriting.created events")

        events, parked = _wait_for_completions(local, todo, stores, approve=not keep)
        _print_report(cases, events, stores, earlier)
        total = time.monotonic() - started
        _say(f"done in {total:.0f}s")
        if keep:
            _say(f"Dagster keeps running on http://127.0.0.1:{port}; Ctrl-C to stop")
            for underwriting_id in sorted(parked):
                _say(f"{underwriting_id} is parked for review. In another shell: "
                     f"`.venv/bin/aura-dagster review list`, then `.venv/bin/aura-dagster "
                     f"approve {underwriting_id} --by <you>` (or `reject ... --reason ...`)")
            try:
                while True:
                    time.sleep(3600)
            except StopRequested as stop:  # how a kept demo ends: not a failure
                _say(f"stopping ({stop.name}): Dagster, the emulator and the sandbox")
        missing = [c.spec.underwriting_id for c in todo
                   if c.spec.underwriting_id not in events and c.spec.underwriting_id not in parked]
        if missing:
            print(f"no processing.completed for: {', '.join(missing)} "
                  f"(see {local.log_dir})", file=sys.stderr)
            return 1
    return 0


def _status(stores: Any, underwriting_id: str) -> str | None:
    row = stores.underwritings.get_underwriting(underwriting_id)
    return row["status"] if row else None


def finished_earlier(cases: list[DemoCase], stores: Any) -> dict[str, str]:
    """The cases a run before this one brought to an outcome (kept data): id -> status."""
    from aura_dagster.storage.schema import FINAL_UNDERWRITING_STATUSES

    statuses = {c.spec.underwriting_id: _status(stores, c.spec.underwriting_id) for c in cases}
    return {uw: str(status) for uw, status in statuses.items()
            if status in FINAL_UNDERWRITING_STATUSES}


def _wait_for_completions(local: LocalStack, cases: list[DemoCase], stores: Any, *,
                          approve: bool = True) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Every case's processing.completed, approving the ones the review gate parks (or, with
    `approve=False`, leaving them parked: returned as the second value)."""
    approved: set[str] = set()
    parked: set[str] = set()

    def announce(completion: Completion) -> None:
        event = completion.event
        summary = event["summary"]
        _say(f"processing.completed {event['underwriting_id']}: "
             f"{summary['completed_count']} completed, {summary['failed_count']} failed, "
             f"{summary.get('timeout_count', 0)} timed out")

    def approve_parked(pending: set[str]) -> set[str]:
        for underwriting_id in sorted(pending - approved):
            row = stores.underwritings.get_underwriting(underwriting_id)
            if row and row["status"] == "awaiting_review":
                _say(f"{underwriting_id} parked for review: {row.get('review_reason')}")
                if not approve:
                    parked.add(underwriting_id)
                    continue
                _say(f"approving {underwriting_id} as 'demo-reviewer' (resume_after_review, "
                     "through the run queue)")
                _approve(underwriting_id)
                approved.add(underwriting_id)
        return parked

    done = wait_for_completions(local, [c.spec.underwriting_id for c in cases],
                                timeout=DEMO_TIMEOUT_SECONDS, on_completion=announce,
                                on_poll=approve_parked)
    if local.daemon_exited:
        assert local.daemon is not None
        _say(f"the Dagster daemon exited with code {local.daemon.returncode}: see its log")
    return {underwriting_id: c.event for underwriting_id, c in done.items()}, parked


def _approve(underwriting_id: str) -> None:
    from aura_dagster.commands.review import approve

    approve(underwriting_id, reviewer="demo-reviewer", note="approved by the demo")


def _format_value(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _print_report(cases: list[DemoCase], events: dict[str, dict[str, Any]], stores: Any,
                  earlier: dict[str, str]) -> None:
    for case in cases:
        spec = case.spec
        event = events.get(spec.underwriting_id)
        print()
        print(f"== {spec.underwriting_id}  {spec.business_name} ({spec.business_state})  "
              f"tenant {spec.organization_id}  — {case.story}")
        if spec.underwriting_id in earlier:
            print(f"   {earlier[spec.underwriting_id]} in an earlier demo run (kept data; "
                  "`aura-dagster demo --fresh` processes it again)")
        elif event is None:
            print("   no processing.completed received")
        else:
            s = event["summary"]
            print(f"   outcome: {event['status']}"
                  + (f" ({event['reason']})" if event.get("reason") else ""))
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
