"""Host crashes and database outages on the real daemon, emulator and PostgreSQL: nothing
lost, nothing duplicated, nothing stuck.

A host crash SIGKILLs the daemon, the code server and the run workers together; run
monitoring must then find the runs whose worker died, fail them (freeing their queue and
pool slots) and run retries re-execute them from failure. A database outage terminates
every connection of the store every 2 s while runs go on.
"""

from __future__ import annotations

import time

import pytest

from aura_dagster.commands.faults import (
    BackendKiller,
    collect_completions,
    kill_host,
    run_statuses,
    tally,
    wait_runs_finished,
)
from aura_dagster.launcher import process_alive, worker_pid
from aura_dagster_tests.faults.conftest import FaultStack

pytestmark = pytest.mark.faults


def _crash_moment(stack: FaultStack, uids: list[str], timeout: float = 120.0) -> list[str]:
    """Wait for runs doing work: at least two STARTED, preferably none still STARTING (a
    run killed while starting is only failed after run monitoring's start timeout, 60 s,
    which the chaos script exercises); returns the STARTED run ids."""
    from dagster import DagsterRunStatus, RunsFilter

    deadline = time.monotonic() + timeout
    prefer_until: float | None = None
    while time.monotonic() < deadline:
        runs = [r for r in stack.instance.get_runs(filters=RunsFilter(statuses=[
            DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]))
            if r.tags.get("dagster/partition") in uids]
        started = [r.run_id for r in runs if r.status is DagsterRunStatus.STARTED]
        if len(started) >= 2 and prefer_until is None:
            prefer_until = time.monotonic() + 15.0
        if started and prefer_until is not None and (
                len(started) == len(runs) or time.monotonic() > prefer_until):
            return started
        time.sleep(0.2)
    raise AssertionError(f"no runs started within {timeout}s: "
                         f"{run_statuses(stack.instance, uids)}")


def test_host_crash_loses_nothing_and_leaves_nothing_stuck(fault_stack: FaultStack) -> None:
    stack = fault_stack
    specs = stack.underwritings(5)
    uids = [s.underwriting_id for s in specs]
    stack.publish(specs)
    started = _crash_moment(stack, uids)
    workers = [found[0] for run_id in started
               if (found := worker_pid(stack.instance, run_id)) is not None]

    killed = kill_host(stack.local)

    assert workers and set(workers) <= set(killed)  # the run workers died with the host
    assert not any(process_alive(pid) for pid in killed)
    stack.local.start_dagster()
    completions = collect_completions(stack.local, uids, timeout=180.0)
    wait_runs_finished(stack.instance, uids, timeout=60.0)
    result = tally(stack.instance, stack.stores, completions)

    assert result.lost == [], result.line()
    assert result.duplicated == {}, result.line()
    assert result.stuck_runs == [] and result.left_processing == [], result.line()
    assert result.held_slots == [], result.line()
    assert result.outcomes == {"completed": len(uids)}, result.line()
    # The crashed runs were detected and failed by run monitoring, then retried.
    for run_id in started:
        run = stack.instance.get_run_by_id(run_id)
        assert run.status.value in ("FAILURE", "SUCCESS")
    assert result.retried_runs >= 1, result.line()


def test_database_backends_terminated_every_2s_lose_nothing(fault_stack: FaultStack) -> None:
    stack = fault_stack
    specs = stack.underwritings(4)
    uids = [s.underwriting_id for s in specs]
    with BackendKiller(stack.database_url, interval=2.0) as killer:
        stack.publish(specs)
        completions = collect_completions(stack.local, uids, timeout=180.0)
        wait_runs_finished(stack.instance, uids, timeout=60.0)
    result = tally(stack.instance, stack.stores, completions)

    assert killer.terminated > 0  # connections really were dropped during the runs
    assert result.lost == [], result.line()
    assert result.duplicated == {}, result.line()
    assert result.stuck_runs == [] and result.left_processing == [], result.line()
    assert result.outcomes == {"completed": len(uids)}, result.line()
