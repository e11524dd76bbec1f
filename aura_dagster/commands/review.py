"""Approve an underwriting parked for review: re-decide and publish, no processor re-runs.

Operators do the same from the Dagster UI: launch `resume_after_review` for the partition
with `ops: {underwriting_review: {config: {approved_by: <name>}}}`. From here an approval
is idempotent (seed 002): two reviewers approving the same parked case at once start one
resume run; the second is told it is already in progress, or gets the first one's result.
"""

from __future__ import annotations

from collections.abc import Callable

from dagster import DagsterInstance, JobDefinition, execute_job, reconstructable

from aura_dagster.storage import Stores

RESUME_JOB = "resume_after_review"


class ReviewError(Exception):
    """The underwriting cannot be approved (unknown, or not awaiting review)."""


def resume_job() -> JobDefinition:
    from aura_dagster.definitions import defs

    return defs.resolve_job_def(RESUME_JOB)


def _default_stores() -> Stores:
    from aura_dagster.definitions import defs

    return defs.resources["store"].open()


def approve(underwriting_id: str, *, reviewer: str, instance: DagsterInstance | None = None,
            job: Callable[[], JobDefinition] = resume_job,
            stores: Stores | None = None) -> bool:
    """Run the resume job for one parked underwriting; True when the run succeeded."""
    stores = stores or _default_stores()
    row = stores.underwritings.get_underwriting(underwriting_id)
    if row is None:
        raise ReviewError(f"underwriting {underwriting_id!r} does not exist")
    if row["status"] != "awaiting_review":
        raise ReviewError(f"underwriting {underwriting_id!r} is {row['status']}, "
                          "not awaiting review")
    # One parking, one approval: the key changes if the case is parked again later.
    request_id = f"approve:{underwriting_id}:{row['updated_at'].isoformat()}"
    claim = stores.idempotency.claim(request_id, RESUME_JOB,
                                     organization_id=row["organization_id"])
    if not claim.won:
        return bool((claim.response or {}).get("success"))

    owned = instance is None
    instance = instance or DagsterInstance.get()
    try:
        result = execute_job(
            reconstructable(job), instance=instance,
            tags={"dagster/partition": underwriting_id, "aura/reviewed_by": reviewer},
            run_config={"ops": {"underwriting_review": {"config": {"approved_by": reviewer}}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    except BaseException as exc:
        stores.idempotency.fail(request_id, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if owned:
            instance.dispose()
    if result.success:
        stores.idempotency.complete(request_id, {"run_id": result.run_id, "success": True})
    else:
        stores.idempotency.fail(request_id, f"resume run {result.run_id} failed")
    return result.success
