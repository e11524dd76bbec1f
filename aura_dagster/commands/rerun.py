"""`aura-dagster rerun UNDERWRITING_ID`: process a case again, through the run queue.

What *Materialize* on the partition does in the UI: a `process_underwriting` run for the
partition. Processors whose payload is unchanged reuse their completed execution, so only
failed, timed-out or changed ones do work (and cost money) again.
"""

from __future__ import annotations

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
from aura_dagster.tags import JOB_NAME, ORGANIZATION_ID_TAG, UNDERWRITING_ID_TAG

PARTITIONS = "underwriting"
RERUN_BY_TAG = "aura/rerun_by"


def rerun(underwriting_id: str, *, by: str, settings: Settings | None = None,
          instance: Any = None, workspace: Any = None,
          workspace_file: Path = WORKSPACE) -> str:
    """Queue a process_underwriting run for the case; returns its run id."""
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
        check_pubsub(settings)
        if not instance.has_dynamic_partition(PARTITIONS, underwriting_id):
            instance.add_dynamic_partitions(PARTITIONS, [underwriting_id])
        tags = {"dagster/partition": underwriting_id, UNDERWRITING_ID_TAG: underwriting_id,
                ORGANIZATION_ID_TAG: row["organization_id"], RERUN_BY_TAG: by}
        if workspace is not None:
            return submit_run(instance, workspace, prepare_run(workspace, JOB_NAME, {}),
                              tags).run_id
        with open_workspace(instance, workspace_file) as opened:
            return submit_run(instance, opened, prepare_run(opened, JOB_NAME, {}), tags).run_id
    finally:
        if owned:
            instance.dispose()
