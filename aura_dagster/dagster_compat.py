"""A fix for a hang in Dagster's step scheduling with op concurrency pools (dagster 1.13.27,
dagster-async-executor 0.0.4). Imported by `aura_dagster.definitions`, so it applies in
every process that executes runs (embedded run workers, Celery pool children).

`ActiveExecution.sleep_interval()` returns `min([0, *timeouts])` -- never more than 0 --
while a step waits for a pool slot (`InstanceConcurrencyContext.
interval_to_next_pending_claim_check`). The async executor reads "0" as "nothing to wait
for" and blocks on its event stream with no timeout: when the only steps left are waiting
for slots, no event ever comes and the run hangs in STARTED for good, although the slots
are freed. Seen here with 8 runs on warm Celery workers against the vendor pools (limit 4):
every run stopped. Returning a short positive poll interval instead lets the executor
re-check its claims, as the stock executors do in their loop.
"""

from __future__ import annotations

from typing import Any

from dagster._core.execution.plan.active import ActiveExecution

PENDING_CLAIM_POLL_SECONDS = 0.25

_sleep_interval = ActiveExecution.sleep_interval


def _sleep_interval_polling_claims(self: ActiveExecution) -> Any:
    interval = _sleep_interval(self)
    context = self._instance_concurrency_context  # noqa: SLF001
    if interval <= 0 and context is not None and context.has_pending_claims():
        return PENDING_CLAIM_POLL_SECONDS
    return interval


if not getattr(ActiveExecution.sleep_interval, "_aura_patched", False):
    _sleep_interval_polling_claims._aura_patched = True  # type: ignore[attr-defined]
    ActiveExecution.sleep_interval = _sleep_interval_polling_claims  # type: ignore[method-assign]
