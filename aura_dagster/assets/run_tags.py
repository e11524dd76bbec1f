"""Run tags the engine adds to its own run, whoever launched it (sensor, UI, backfill, CLI).

Sensor runs carry `aura/*` tags from the event; a run launched from the UI or a backfill
carries only `dagster/partition`. The first step that knows the case adds the rest, so
every run can be filtered by underwriting and organization in the UI and audited alike.
(Tags added while a run executes do not count for the queue's tag concurrency limits.)
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster import AssetExecutionContext, OpExecutionContext

from aura_dagster.tags import ORGANIZATION_ID_TAG, UNDERWRITING_ID_TAG

# Dagster's run tag (not exported publicly): "false" stops run retries after a step failure.
RETRY_ON_STEP_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"


def add_run_tags(context: OpExecutionContext | AssetExecutionContext, tags: Mapping[str, str], *,
                 replace: bool = False) -> None:
    """Add tags to the running run; existing values are kept unless `replace`."""
    current = context.run.tags
    new = {k: v for k, v in tags.items() if replace or k not in current}
    if new:
        context.instance.add_run_tags(context.run_id, new)


def tag_case(context: OpExecutionContext | AssetExecutionContext, underwriting_id: str,
             organization_id: str) -> None:
    add_run_tags(context, {UNDERWRITING_ID_TAG: underwriting_id,
                           ORGANIZATION_ID_TAG: organization_id})
