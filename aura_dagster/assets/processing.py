"""`processor_executions` and `underwriting_factors`: one graph-backed multi-asset per underwriting.

load the case and plan its processors -> one mapped op per processor, grouped by the
external API it calls (each group is an op concurrency pool) -> collect -> consolidate and
check. Few serial steps: each step costs event-log commits, whatever it does.
A processor's final failure is a FAILED / TIMEOUT result, not a failed step, so the run
still consolidates and publishes; TEMPORARY errors are retried by the op's RetryPolicy.
"""


import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetOut,
    Backoff,
    DynamicOut,
    DynamicOutput,
    Failure,
    In,
    Jitter,
    MetadataValue,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    graph_multi_asset,
    op,
)

from aura_dagster.assets.checks import FACTOR_CHECK_SPECS, factor_checks, output_name
from aura_dagster.assets.documents import documents_materialization
from aura_dagster.assets.options import OptionError, PipelineOptionsResource
from aura_dagster.assets.provenance import execution_catalog_metadata, factor_catalog_metadata
from aura_dagster.assets.run_tags import RETRY_ON_STEP_FAILURE_TAG, add_run_tags, tag_case
from aura_dagster.domain.money import jsonable
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.resources.documents import DocumentSourceResource
from aura_dagster.resources.processors import LOCAL_POOL, ProcessorsResource
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.services.case import (
    CaseFile,
    TenantMismatchError,
    UnknownUnderwritingError,
    load_case,
)
from aura_dagster.services.consolidation import consolidate_factors
from aura_dagster.services.executions import (
    ExecutionSummary,
    ProcessorPlan,
    plan_processors,
    run_processor,
)
from aura_dagster.services.rejections import answer, check_event, rejection_key
from aura_dagster.storage import UnknownDocumentError, is_transient_error
from aura_dagster.tags import DOCUMENT_IDS_TAG, ORGANIZATION_ID_TAG, OUTCOME_PUBLISHED_KEY

# Upper bound for TEMPORARY retries; a processor's `max_attempts` config lowers it.
MAX_PROCESSOR_RETRIES = 4
processor_retry_policy = RetryPolicy(
    max_retries=MAX_PROCESSOR_RETRIES, delay=1.0, backoff=Backoff.EXPONENTIAL,
    jitter=Jitter.PLUS_MINUS,
)
# Infrastructure hiccups (a database restart) on the non-processor steps.
infrastructure_retry_policy = RetryPolicy(max_retries=2, delay=2.0, backoff=Backoff.EXPONENTIAL)


class TemporaryProcessorFailure(Exception):
    """Raised to hand a TEMPORARY processor error to the RetryPolicy while attempts remain."""


def load_case_file(context: OpExecutionContext, store: StoreResource,
                   document_source: DocumentSourceResource,
                   pubsub: PubSubResource) -> CaseFile:
    """Read the underwriting, fetch its documents concurrently, extract and classify them."""
    underwriting_id = context.partition_key
    tags = context.run.tags
    document_ids = json.loads(tags[DOCUMENT_IDS_TAG]) if DOCUMENT_IDS_TAG in tags else None
    repos = store.open()
    # Unknown organization / underwriting / document: answer the platform, then stop.
    rejection = check_event(repos, underwriting_id, tags.get(ORGANIZATION_ID_TAG), document_ids)
    if rejection is not None:
        answer(repos, pubsub.publish_completed, rejection, key=rejection_key(tags, context.run_id),
               source=str(context.op_handle), run_id=context.run_id)
        # The platform has its answer and a retry cannot make the id known: no run retry.
        add_run_tags(context, {RETRY_ON_STEP_FAILURE_TAG: "false"}, replace=True)
        raise Failure(description=rejection.reason, allow_retries=False,
                      metadata={"aura/rejection": rejection.code, OUTCOME_PUBLISHED_KEY: True})
    try:
        case = load_case(repos, document_source.fetch, underwriting_id,
                         organization_id=tags.get(ORGANIZATION_ID_TAG),
                         document_ids=document_ids)
    except (UnknownUnderwritingError, TenantMismatchError, UnknownDocumentError) as exc:
        # Retrying cannot help an unknown id: fail the step at once with the reason.
        raise Failure(description=str(exc), allow_retries=False) from exc
    repos.underwritings.set_status(underwriting_id, "processing")
    context.log_event(documents_materialization(case))  # lineage starts at the documents
    return case


def _case_metadata(case: CaseFile) -> dict[str, Any]:
    return {
        "organization_id": case.organization_id,
        "documents": MetadataValue.md(_documents_table(case)),
        "document_revision_ids": [d.revision_id for d in case.documents],
        "unreadable_documents": sum(1 for d in case.documents if d.extraction_error),
    }


def _documents_table(case: CaseFile) -> str:
    lines = ["| document | type | revision | pages | status | confidence |",
             "|---|---|---|---|---|---|"]
    for d in case.documents:
        status = d.extraction_error or d.processing_status.value
        confidence = ("" if d.classification_confidence is None
                      else f"{d.classification_confidence:.2f}")
        doc_type = d.document_type.value if d.document_type else "unknown"
        lines.append(f"| {d.document_id} | {doc_type} | {d.revision_id} | {d.page_count or ''} "
                     f"| {status} | {confidence} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class ProcessorWork:
    """A mapped processor step's one input: the case and the processor's plan. (Two inputs
    cost each step two more events, a STEP_INPUT and a LOADED_INPUT, ten per run.)"""

    case: CaseFile
    plan: ProcessorPlan


def _plan_outputs(pools: tuple[str, ...]) -> dict[str, DynamicOut]:
    return {pool: DynamicOut(ProcessorWork) for pool in pools}


def build_processing_asset(processors_pools: tuple[str, ...]) -> Any:
    """The multi-asset for a given set of API pools (the catalog's, in production)."""

    @op(out={"case": Out(CaseFile), **_plan_outputs(processors_pools)},
        retry_policy=infrastructure_retry_policy, tags={"aura/step": "load"})
    def load_underwriting(context: OpExecutionContext, store: StoreResource,
                          document_source: DocumentSourceResource, pubsub: PubSubResource,
                          processors: ProcessorsResource) -> Iterator[Output | DynamicOutput]:
        """Load the case, then plan every enabled, auto processor (each decides for itself):
        one step, so the mapped processor steps start one step commit earlier."""
        case = load_case_file(context, store, document_source, pubsub)
        yield Output(case, "case", metadata=_case_metadata(case))
        tag_case(context, case.underwriting_id, case.organization_id)  # UI / backfill runs
        plans = plan_processors(store.open(processors.catalog()), case)
        context.log.info(f"{len(plans)} processor(s) for {case.underwriting_id}: "
                         f"{', '.join(p.processor_id for p in plans)}")
        for plan in plans:
            yield DynamicOutput(ProcessorWork(case, plan),
                                output_name=processors.pool_of(plan.processor_id),
                                mapping_key=plan.processor_id)

    run_ops = {pool: _run_processor_op(pool) for pool in processors_pools}

    @op(ins={"case": In(CaseFile), **{pool: In(list) for pool in processors_pools}},
        out={"processor_executions": Out(io_manager_key="warehouse_io_manager"),
             "underwriting_factors": Out(io_manager_key="warehouse_io_manager"),
             **{output_name(spec): Out(None) for spec in FACTOR_CHECK_SPECS}},
        retry_policy=infrastructure_retry_policy)
    def consolidate_underwriting(context: OpExecutionContext, store: StoreResource,
                                 processors: ProcessorsResource, case: CaseFile,
                                 **results: list[ExecutionSummary]
                                 ) -> Iterator[Output | AssetCheckResult]:
        summaries = sorted((s for group in results.values() for s in group),
                           key=lambda s: s.processor_id)
        stores = store.open()
        # Every processor step has finished: an execution of this run still open belongs to
        # an attempt that died (e.g. its database connection dropped) and was retried.
        abandoned = stores.executions.cancel_unfinished_for_run(
            context.run_id, "attempt abandoned; the step was retried")
        if abandoned:
            context.log.warning(f"closed {abandoned} abandoned execution(s) of this run")
        rows = consolidate_factors(stores, case, summaries, processors.lookup)
        executions = pd.DataFrame([{**s.as_row(), "underwriting_id": case.underwriting_id,
                                    "organization_id": case.organization_id,
                                    "materialized_run_id": context.run_id} for s in summaries],
                                  columns=EXECUTION_COLUMNS).astype(EXECUTION_DTYPES)
        factors = factors_frame(rows)
        yield Output(executions, "processor_executions", metadata={
            **execution_catalog_metadata(case, summaries),
            "execution_ids": [s.execution_id for s in summaries],
            "processor_versions": {s.processor_id: s.processor_version for s in summaries},
            "payload_hashes": {s.processor_id: s.payload_hash for s in summaries},
            "statuses": {s.processor_id: s.status.value for s in summaries},
            "reused": [s.processor_id for s in summaries if s.reused],
            "document_revision_ids": sorted({r for s in summaries
                                             for r in s.document_revision_ids}),
            "total_cost_cents": sum(s.cost_cents for s in summaries if not s.reused),
            "processor_count": len(summaries),
        })
        yield Output(factors, "underwriting_factors", metadata={
            "factor_count": len(factors),
            "factors_by_processor": factors.groupby("processor").size().to_dict()
            if len(factors) else {},
            "execution_ids": sorted({r["execution_id"] for r in rows}),
            **factor_catalog_metadata(case, rows),
        })
        # The checks on what this step just wrote, evaluated here rather than as 4 steps.
        yield from factor_checks(context, factors, executions).values()

    @graph_multi_asset(
        outs={
            "processor_executions": AssetOut(
                io_manager_key="warehouse_io_manager",
                description="One row per processor per underwriting: the execution in force.",
                metadata={"partition_expr": "underwriting_id"}),
            "underwriting_factors": AssetOut(
                io_manager_key="warehouse_io_manager",
                description="One row per underwriting and factor, with its execution.",
                metadata={"partition_expr": "underwriting_id"}),
        },
        check_specs=list(FACTOR_CHECK_SPECS),
        partitions_def=underwriting_partitions,
        group_name="underwriting",
    )
    def underwriting_processing():
        case, *works = load_underwriting()
        collected = {
            pool: pool_work.map(run_ops[pool]).collect()
            for pool, pool_work in zip(processors_pools, works, strict=True)
        }
        executions, factors, *checks = consolidate_underwriting(case=case, **collected)
        return {"processor_executions": executions, "underwriting_factors": factors,
                **{output_name(spec): check
                   for spec, check in zip(FACTOR_CHECK_SPECS, checks, strict=True)}}

    return underwriting_processing


# computed_run_id: the run that computed the execution; materialized_run_id: this run.
EXECUTION_COLUMNS = [
    "underwriting_id", "organization_id", "computed_run_id", "materialized_run_id",
    "processor", "underwriting_processor_id",
    "execution_id", "status", "reused", "skipped", "payload_hash", "processor_version",
    "document_revision_ids", "execution_time_s", "cost_cents", "confidence", "error_code",
    "error_message", "error_class", "attempt",
]
EXECUTION_DTYPES = {"execution_time_s": "float64", "confidence": "float64",
                    "cost_cents": "int64", "attempt": "int64", "reused": "bool", "skipped": "bool"}
FACTOR_COLUMNS = [
    "underwriting_id", "organization_id", "factor_name", "value_json", "value_numeric",
    "processor", "execution_id", "processor_version", "document_revision_ids", "computed_at",
]


def factors_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Factor rows as the warehouse stores them: JSON text plus a numeric column."""
    def numeric(value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    frame = pd.DataFrame([{
        "underwriting_id": r["underwriting_id"],
        "organization_id": r["organization_id"],
        "factor_name": r["factor_name"],
        "value_json": json.dumps(jsonable(r["value"]), sort_keys=True),
        "value_numeric": numeric(jsonable(r["value"])),
        "processor": r["processor"],
        "execution_id": r["execution_id"],
        "processor_version": r.get("processor_version"),
        "document_revision_ids": ",".join(r.get("document_revision_ids") or ()),
        "computed_at": pd.Timestamp(r["computed_at"]),
    } for r in rows], columns=FACTOR_COLUMNS)
    # Fixed dtypes: the first partition written decides the warehouse column types.
    return frame.astype({"value_numeric": "float64"})


def _run_processor_op(pool: str) -> OpDefinition:
    @op(name=f"run_{pool}_processor", retry_policy=processor_retry_policy,
        pool=None if pool == LOCAL_POOL else pool, tags={"aura/api_pool": pool})
    async def run_one_processor(context: OpExecutionContext, store: StoreResource,
                                processors: ProcessorsResource,
                                pipeline_options: PipelineOptionsResource,
                                work: ProcessorWork) -> ExecutionSummary:
        """Run one processor (or reuse its completed execution) and record it."""
        case, plan = work.case, work.plan
        attempt = context.retry_number + 1
        processor = processors.build(plan.processor_id)
        try:
            options = pipeline_options.resolve(context.run.tags)
        except OptionError as exc:
            raise Failure(description=str(exc), allow_retries=False) from exc
        # Processors block (HTTP, parsing): a worker thread keeps the other mapped steps going.
        try:
            summary = await asyncio.to_thread(
                run_processor, store.open(), processor, case, plan, run_id=context.run_id,
                attempt=attempt, force=options.force_reprocess,
                recorded_only=options.start_from == "review")
        except Exception as exc:
            if is_transient_error(exc):
                raise  # a database restart: the RetryPolicy tries again
            # A bug or crash: retrying will not help; fail now, re-execute from failure later.
            raise Failure(description=f"{plan.processor_id} crashed: {type(exc).__name__}: "
                                      f"{exc}", allow_retries=False) from exc
        max_attempts = min(int(plan.effective_config.get("max_attempts", 3)),
                           MAX_PROCESSOR_RETRIES + 1)
        if summary.retryable and attempt < max_attempts:
            raise TemporaryProcessorFailure(
                f"{plan.processor_id} attempt {attempt}/{max_attempts}: "
                f"{summary.error_code}: {summary.error_message}")
        context.add_output_metadata({
            "processor": plan.processor_id,
            "execution_id": summary.execution_id,
            "status": summary.status.value,
            "reused": summary.reused,
            "payload_hash": summary.payload_hash,
            "processor_version": summary.processor_version,
            "document_revision_ids": list(summary.document_revision_ids),
            "cost_cents": summary.cost_cents,
            "attempt": attempt,
            **({"error_code": summary.error_code, "error_message": summary.error_message or ""}
               if summary.error_code else {}),
        })
        if summary.error_code:
            context.log.warning(f"{plan.processor_id} {summary.status.value}: "
                                f"{summary.error_code}: {summary.error_message}")
        return summary

    return run_one_processor
