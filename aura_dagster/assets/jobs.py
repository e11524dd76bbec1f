"""Jobs over the underwriting assets."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job
from dagster_async_executor import async_executor

from aura_dagster.tags import JOB_NAME

RETRY_STRATEGY_TAG = "dagster/retry_strategy"  # Dagster's run tag (not exported publicly)

# Mapped processor steps run concurrently in one process: an async executor, no process
# per step (the multiprocess executor costs ~1.6 s a step in spawn and imports).
process_underwriting_job = define_asset_job(
    JOB_NAME,
    selection=AssetSelection.groups("underwriting"),
    executor_def=async_executor,
    # A run retry (dagster.yaml `run_retries`) resumes from the failed steps; payload-hash
    # reuse makes any processor it re-runs with unchanged inputs free.
    tags={RETRY_STRATEGY_TAG: "FROM_FAILURE"},
    description="Process one underwriting: documents, every purchased processor, factors, "
                "validation, review gate, processing.completed.",
)

# Approve or reject a parked underwriting, without re-running processors. Run config:
#   ops: {underwriting_review: {config: {decision: approve|reject, reviewer: NAME, note: TEXT}}}
# Without a decision it re-decides the gate and publishes (finish_partial_runs uses that).
resume_after_review_job = define_asset_job(
    "resume_after_review",
    selection=AssetSelection.assets("underwriting_review", "processing_completed"),
    executor_def=async_executor,
    tags={RETRY_STRATEGY_TAG: "FROM_FAILURE"},
    description="Approve or reject an underwriting parked for review: set ops."
                "underwriting_review.config decision (approve | reject), reviewer and note.",
)
