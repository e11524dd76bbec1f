"""A run whose steps queue for an op concurrency pool finishes (aura_dagster.dagster_compat).

Without the fix the async executor waits forever once every step left is waiting for a
pool slot: `ActiveExecution.sleep_interval()` never returns more than 0 then, which the
executor reads as "no timeout". Real instance (SQLite, temp dir), real executor.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from typing import Any

from dagster import (
    DagsterInstance,
    DynamicOut,
    DynamicOutput,
    execute_job,
    job,
    op,
    reconstructable,
)
from dagster_async_executor import async_executor

import aura_dagster.dagster_compat  # noqa: F401  (what definitions.py imports)

POOL = "test_vendor"


@op(out=DynamicOut())
def fan_out() -> Any:
    for i in range(3):
        yield DynamicOutput(i, mapping_key=str(i))


@op(pool=POOL)
async def call_vendor(value: int) -> int:
    await asyncio.sleep(0.2)
    return value


@op
def gather(values: list[int]) -> int:
    return sum(values)


@job(executor_def=async_executor)
def pooled_job() -> None:
    gather(fan_out().map(call_vendor).collect())


def test_steps_waiting_for_a_pool_slot_run_once_it_frees() -> None:
    outcome: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as home, DagsterInstance.local_temp(
            home, overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:

        def run() -> None:
            with execute_job(reconstructable(pooled_job), instance=instance) as result:
                outcome["success"] = result.success
                outcome["total"] = result.output_for_node("gather")

        worker = threading.Thread(target=run, daemon=True)  # a hang must not hang pytest
        worker.start()
        worker.join(timeout=60)

        assert not worker.is_alive(), "the run hung waiting for a pool slot"
        assert outcome == {"success": True, "total": 3}
        assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 1
