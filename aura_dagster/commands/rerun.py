"""`aura-dagster rerun UNDERWRITING_ID`: process a case again, through the run queue.

What *Materialize* on the partition does in the UI: a `process_underwriting` run for the
partition. Processors whose payload is unchanged reuse their completed execution, so only
failed, timed-out or changed ones do work (and cost money) again.

One run per case at a time: a rerun is refused while the case is processing in the store
or any run of its partition is waiting or going in the Dagster instance (a queued run has
not touched the store yet). Two runs would each do the work and each e-mail the reviewers.
A command loads the code location (seconds) before its run exists, so a rerun also claims
an idempotency key named after the partition's latest run: of two commands that saw the
same latest run, one submits and the other is refused.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aura_dagster.commands.launch import WORKSPACE, open_workspace, prepare_run, submit_run
from aura_dagster.commands.preflight import (
    CommandError,
    check_pubsub,
    load_instance,
    open_store,
)
from aura_dagster.settings import Settings, load_settings
from aura_dagster.storage import DuplicateRequestError, Stores
from aura_dagster.tags import JOB_NAME, ORGANIZATION_ID_TAG, UNDERWRITING_ID_TAG

PARTITIONS = "underwriting"
PARTITION_TAG = "dagster/partition"
RERUN_BY_TAG = "aura/rerun_by"
# Not Dagster's IN_PROGRESS_RUN_STATUSES: that list leaves out queued and not started runs.
# A cancelling run still has steps going until it is terminated.
UNFINISHED_RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
RERUN_CLAIM = "rerun"
# A command killed between claim and submit holds the key this long; then it is free again.
CLAIM_TTL = dt.timedelta(minutes=15)


def unfinished_runs(instance: Any, underwriting_id: str) -> list[Any]:
    """The partition's runs (any job) that are waiting or going, newest first."""
    from dagster import DagsterRunStatus, RunsFilter

    return list(instance.get_runs(filters=RunsFilter(
        tags={PARTITION_TAG: underwriting_id},
        statuses=[DagsterRunStatus(s) for s in UNFINISHED_RUN_STATUSES])))


def _refuse_if_running(instance: Any, underwriting_id: str) -> None:
    runs = unfinished_runs(instance, underwriting_id)
    if runs:
        run = runs[0]
        raise CommandError(
            f"underwriting {underwriting_id!r} already has run {run.run_id} "
            f"({run.job_name}, {run.status.value}); a second run would process it twice: "
            f"follow it with `aura-dagster status {underwriting_id} --watch`, or cancel it "
            "(Dagster UI, Runs) before rerunning")


def _claim(stores: Stores, instance: Any, row: dict[str, Any]) -> str:
    """Claim this rerun; returns the key. Keyed by the partition's latest run (finished, or
    _refuse_if_running would have refused): a rerun after the next run gets a new key."""
    from dagster import RunsFilter

    underwriting_id = row["id"]
    latest = instance.get_runs(filters=RunsFilter(tags={PARTITION_TAG: underwriting_id}),
                               limit=1)
    key = f"rerun:{underwriting_id}:{latest[0].run_id if latest else '-'}"
    try:
        claim = stores.idempotency.claim(key, RERUN_CLAIM, ttl=CLAIM_TTL,
                                         organization_id=row["organization_id"])
    except DuplicateRequestError:
        raise CommandError(f"another rerun of {underwriting_id!r} is being submitted right "
                           f"now; follow it with `aura-dagster status {underwriting_id} "
                           "--watch`") from None
    if not claim.won:
        run_id = (claim.response or {}).get("run_id", "?")
        raise CommandError(f"underwriting {underwriting_id!r} was just rerun as run {run_id}; "
                           f"follow it with `aura-dagster status {underwriting_id} --watch`")
    return key


def rerun(underwriting_id: str, *, by: str, settings: Settings | None = None,
          instance: Any = None, workspace: Any = None,
          workspace_file: Path = WORKSPACE) -> str:
    """Queue a process_underwriting run for the case; returns its run id."""
    if not by.strip():  # the same rule as approve / reject: a run tag names who asked
        raise CommandError("a name is needed (--by)")
    settings = settings or load_settings()
    stores = open_store(settings)
    row = stores.underwritings.get_underwriting(underwriting_id)
    if row is None:
        raise CommandError(f"underwriting {underwriting_id!r} does not exist")
    if row["status"] == "processing":
        raise CommandError(f"underwriting {underwriting_id!r} is being processed right now; "
                           f"follow it with `aura-dagster status {underwriting_id} --watch`")
    owned = instance is None
    instance = instance or load_instance(settings)
    try:
        _refuse_if_running(instance, underwriting_id)
        key = _claim(stores, instance, row)
        try:
            run_id = _submit(settings, instance, workspace, workspace_file, row, by)
        except BaseException as exc:
            stores.idempotency.fail(key, f"{type(exc).__name__}: {exc}")  # free to retry
            raise
        stores.idempotency.complete(key, {"run_id": run_id, "by": by})
        return run_id
    finally:
        if owned:
            instance.dispose()


def _submit(settings: Settings, instance: Any, workspace: Any, workspace_file: Path,
            row: dict[str, Any], by: str) -> str:
    underwriting_id = row["id"]
    check_pubsub(settings)
    if not instance.has_dynamic_partition(PARTITIONS, underwriting_id):
        instance.add_dynamic_partitions(PARTITIONS, [underwriting_id])
    tags = {PARTITION_TAG: underwriting_id, UNDERWRITING_ID_TAG: underwriting_id,
            ORGANIZATION_ID_TAG: row["organization_id"], RERUN_BY_TAG: by}
    if workspace is not None:
        return submit_run(instance, workspace, prepare_run(workspace, JOB_NAME, {}),
                          tags).run_id
    with open_workspace(instance, workspace_file) as opened:
        return submit_run(instance, opened, prepare_run(opened, JOB_NAME, {}), tags).run_id
