"""Approve an underwriting parked for review: re-decide and publish, no processor re-runs.

Operators do the same from the Dagster UI: launch `resume_after_review` for the partition
with `ops: {underwriting_review: {config: {approved_by: <name>}}}`.
"""

from __future__ import annotations

from dagster import DagsterInstance, JobDefinition, execute_job, reconstructable

RESUME_JOB = "resume_after_review"


def resume_job() -> JobDefinition:
    from aura_dagster.definitions import defs

    return defs.resolve_job_def(RESUME_JOB)


def approve(underwriting_id: str, *, reviewer: str,
            instance: DagsterInstance | None = None) -> bool:
    """Run the resume job for one underwriting; True when the run succeeded."""
    owned = instance is None
    instance = instance or DagsterInstance.get()
    try:
        result = execute_job(
            reconstructable(resume_job), instance=instance,
            tags={"dagster/partition": underwriting_id, "aura/reviewed_by": reviewer},
            run_config={"ops": {"underwriting_review": {"config": {"approved_by": reviewer}}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        return result.success
    finally:
        if owned:
            instance.dispose()
