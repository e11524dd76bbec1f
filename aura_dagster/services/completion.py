"""The `processing.completed` event body (seed 000 step 7, plus organization, run, timeouts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any


def completion_payload(*, underwriting_id: str, organization_id: str | None, run_id: str,
                       executions: Iterable[Mapping[str, Any]],
                       completed_at: dt.datetime | None = None,
                       status: str = "completed", reason: str | None = None) -> dict[str, Any]:
    """Build the event from execution rows (the `processor_executions` asset's rows).

    `status` is the case's outcome: completed | failed | rejected | declined
    (docs/events.md; `declined`: a lender rule declined it, `reason` says which and why); a
    case that failed before any processor ran has no execution rows and says why in `reason`.
    """
    rows = sorted(executions, key=lambda r: r["processor"])
    completed = [r for r in rows if r["status"] == "completed"]
    failed = [r for r in rows if r["status"] in ("failed", "cancelled")]
    timed_out = [r for r in rows if r["status"] == "timeout"]
    when = (completed_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return {
        "event": "processing.completed",
        "status": status,
        "reason": reason,
        "underwriting_id": underwriting_id,
        "organization_id": organization_id,
        "run_id": run_id,
        "completed_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": {
            "total_processors": len(rows),
            "completed_count": len(completed),
            "failed_count": len(failed),
            "timeout_count": len(timed_out),
            "total_execution_time": round(sum(float(r.get("execution_time_s") or 0)
                                              for r in rows), 3),
        },
        "completed_processors": [
            {"processor_id": r["processor"], "execution_id": r["execution_id"]}
            for r in completed
        ],
        "failed_processors": [
            {"processor_id": r["processor"], "execution_id": r["execution_id"],
             "error_message": r.get("error_message") or r.get("error_code") or "failed"}
            for r in failed
        ],
        "timeout_processors": [
            {"processor_id": r["processor"], "execution_id": r["execution_id"],
             "error_message": r.get("error_message") or "timed out"}
            for r in timed_out
        ],
    }
