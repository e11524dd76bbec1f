"""The `processing.completed` (status "failed") of a case whose run failed for good.

No Dagster import: the run-outcome sensor hands in the run ids (the failed run and the runs
it retried) and the reason, this builds the event from what the store holds.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from aura_dagster.services.completion import completion_payload

MAX_REASON_CHARS = 1000
_UNFINISHED = ("pending", "running")


def _as_event_row(row: dict[str, Any]) -> dict[str, Any]:
    status = row["status"]
    return {
        "processor": row["processor"],
        "execution_id": str(row["id"]),
        # Still open when the run died: it will never finish, report it as cancelled.
        "status": "cancelled" if status in _UNFINISHED else status,
        "error_code": row.get("failed_code"),
        "error_message": row.get("failed_reason")
        or ("the run failed before this processor finished" if status in _UNFINISHED
            else None),
        "execution_time_s": (row.get("execution_time_ms") or 0) / 1000,
    }


def failed_run_payload(stores: Any, *, underwriting_id: str, organization_id: str,
                       run_id: str, run_ids: Collection[str], reason: str) -> dict[str, Any]:
    """The event for a run that failed after its retries: the newest execution of each
    processor made by these runs (so the platform sees which processors got how far)."""
    rows = [r for r in stores.executions.get_executions_by_underwriting(underwriting_id)
            if r.get("run_id") in run_ids]
    newest: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: str(r.get("created_at") or "")):
        newest[row["processor"]] = row
    return completion_payload(
        underwriting_id=underwriting_id, organization_id=organization_id, run_id=run_id,
        executions=[_as_event_row(r) for r in newest.values()],
        status="failed", reason=reason[:MAX_REASON_CHARS])
