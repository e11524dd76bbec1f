"""One processor's execution for one underwriting (seed 000 step 5, seed 001 patterns 2-5).

payload hash -> reuse a completed execution with the same hash, else create one
(pending -> running), run the processor under its deadline, store the output or the
error, supersede the previously active execution, and record traces and evidence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aura_dagster.domain.hashing import document_ids_hash, execution_payload, payload_hash
from aura_dagster.domain.processors.base import (
    BaseProcessor,
    ErrorClass,
    ExecutionStatus,
    ProcessorResult,
    new_execution_id,
)
from aura_dagster.services.case import CaseFile


@dataclass(frozen=True)
class ProcessorPlan:
    """One purchased processor to run for an underwriting, with its resolved config."""

    underwriting_processor_id: str
    processor_id: str
    name: str
    effective_config: dict[str, Any]


@dataclass(frozen=True)
class ExecutionSummary:
    """What the engine keeps of one processor step: enough for consolidation and the event."""

    processor_id: str
    underwriting_processor_id: str
    execution_id: str
    status: ExecutionStatus
    reused: bool
    payload_hash: str
    processor_version: str
    document_revision_ids: tuple[str, ...]
    execution_time: float = 0.0
    cost_cents: int = 0
    confidence: float | None = None
    skipped: bool = False
    error_code: str | None = None
    error_message: str | None = None
    error_class: ErrorClass | None = None
    attempt: int = 1
    factors_delta: dict[str, Any] = field(default_factory=dict)
    computed_run_id: str | None = None  # the Dagster run that ran it (a reuse keeps the first)

    @property
    def retryable(self) -> bool:
        # A recorded result that is only reported again (reused) is never retried.
        return not self.reused and (self.status is ExecutionStatus.TIMEOUT
                                    or self.error_class is ErrorClass.TEMPORARY)

    def as_row(self) -> dict[str, Any]:
        return {
            "processor": self.processor_id,
            "underwriting_processor_id": self.underwriting_processor_id,
            "execution_id": self.execution_id,
            "status": self.status.value,
            "reused": self.reused,
            "skipped": self.skipped,
            "payload_hash": self.payload_hash,
            "processor_version": self.processor_version,
            "document_revision_ids": ",".join(self.document_revision_ids),
            "execution_time_s": round(self.execution_time, 3),
            "cost_cents": self.cost_cents,
            "confidence": self.confidence,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "error_class": self.error_class.value if self.error_class else None,
            "attempt": self.attempt,
            "computed_run_id": self.computed_run_id,
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def plan_processors(store: Any, case: CaseFile) -> list[ProcessorPlan]:
    """The underwriting's enabled, auto processors, provisioned from the tenant's purchases."""
    store.processors.provision_underwriting_processors(case.underwriting_id, case.organization_id)
    rows = store.processors.get_underwriting_processors(case.underwriting_id, enabled_only=True,
                                                        auto_only=True)
    return [
        ProcessorPlan(
            underwriting_processor_id=str(row["id"]),
            processor_id=row["processor"],
            name=row.get("name") or row["processor"],
            effective_config=store.processors.get_effective_config(str(row["id"])),
        )
        for row in rows
    ]


def _summary(plan: ProcessorPlan, processor: BaseProcessor, execution: dict[str, Any], *,
             reused: bool, result: ProcessorResult | None = None, attempt: int = 1,
             revisions: tuple[str, ...] = (), run_id: str | None = None) -> ExecutionSummary:
    output = execution.get("output") or {}
    if result is not None:
        return ExecutionSummary(
            processor_id=plan.processor_id,
            underwriting_processor_id=plan.underwriting_processor_id,
            execution_id=result.execution_id, status=result.status, reused=False,
            payload_hash=execution["payload_hash"], processor_version=processor.VERSION,
            document_revision_ids=revisions, execution_time=result.execution_time,
            cost_cents=result.cost_cents, confidence=result.confidence, skipped=result.skipped,
            error_code=result.error_code, error_message=result.error_message,
            error_class=result.error_class, attempt=attempt, factors_delta=result.factors,
            computed_run_id=run_id)
    return ExecutionSummary(
        processor_id=plan.processor_id, underwriting_processor_id=plan.underwriting_processor_id,
        execution_id=str(execution["id"]), status=ExecutionStatus(execution["status"]),
        reused=reused, payload_hash=execution["payload_hash"], processor_version=processor.VERSION,
        document_revision_ids=tuple(execution.get("document_revision_ids") or ()),
        cost_cents=0, confidence=execution.get("confidence"),
        skipped=bool(output.get("skipped")), attempt=attempt,
        error_code=execution.get("failed_code"), error_message=execution.get("failed_reason"),
        error_class=ErrorClass(execution["error_class"]) if execution.get("error_class") else None,
        factors_delta=execution.get("factors_delta") or {},
        computed_run_id=execution.get("run_id"))


def recorded_execution(store: Any, case: CaseFile, plan: ProcessorPlan) -> dict[str, Any] | None:
    """The processor's latest finished execution for the underwriting, whatever its outcome."""
    rows = [r for r in store.executions.get_executions_by_underwriting(
        case.underwriting_id, processor=plan.processor_id)
        if str(r["underwriting_processor_id"]) == plan.underwriting_processor_id
        and r["status"] not in (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)]
    return max(rows, key=lambda r: (r["created_at"], str(r["id"]))) if rows else None


def run_processor(store: Any, processor: BaseProcessor, case: CaseFile, plan: ProcessorPlan, *,
                  run_id: str | None = None, attempt: int = 1, force: bool = False,
                  recorded_only: bool = False) -> ExecutionSummary:
    """Run (or reuse) one processor's execution and persist every step of it.

    `force` (pipeline option force_reprocess) runs it even when a completed execution has
    the same payload hash. `recorded_only` (start_from=review) reports the latest recorded
    execution instead of running; a processor that never ran still runs."""
    if recorded_only:
        recorded = recorded_execution(store, case, plan)
        if recorded is not None:
            return _summary(plan, processor, recorded, reused=True, attempt=attempt)
    relevant = processor.relevant_documents(case.documents)
    revisions = tuple(sorted(d.revision_id for d in relevant))
    business = {"name": case.underwriting.business_name,
                "state": case.underwriting.business_state,
                "as_of": case.underwriting.as_of.isoformat()}
    payload = execution_payload(processor_id=processor.PROCESSOR_ID,
                                processor_version=processor.VERSION,
                                effective_config=plan.effective_config,
                                document_revision_ids=revisions, business=business)
    digest = payload_hash(payload)

    existing = (None if force else
                store.executions.find_execution_by_hash(plan.underwriting_processor_id, digest))
    if existing is not None and existing["status"] == ExecutionStatus.COMPLETED.value:
        # Same inputs as a completed execution: reuse it (no work, no cost), and make it
        # the active one again if something else had superseded it.
        active_ids = {str(e["id"]) for e in
                      store.executions.get_active_executions(plan.underwriting_processor_id)}
        if str(existing["id"]) not in active_ids:
            store.executions.supersede_active(plan.underwriting_processor_id, str(existing["id"]))
        return _summary(plan, processor, existing, reused=True, attempt=attempt)

    execution_id = new_execution_id()
    store.executions.create_execution(
        execution_id=execution_id,
        underwriting_id=case.underwriting_id,
        underwriting_processor_id=plan.underwriting_processor_id,
        organization_id=case.organization_id,
        processor_name=processor.PROCESSOR_ID,
        processor_version=processor.VERSION,
        payload=payload,
        payload_hash=digest,
        document_revision_ids=list(revisions),
        document_ids_hash=document_ids_hash(d.document_id for d in relevant),
        run_id=run_id,
        attempt=attempt,
    )
    store.executions.update_execution_status(execution_id, ExecutionStatus.RUNNING.value,
                                             started_at=_now())
    try:
        result = processor.execute(case.underwriting, case.documents, plan.effective_config,
                                   execution_id=execution_id)
    except BaseException as exc:
        # A crash outside the processor template (or the run being cancelled) must not
        # leave the execution `running`: close it, then let the step fail.
        interrupted = not isinstance(exc, Exception)
        store.executions.update_execution_status(
            execution_id, (ExecutionStatus.CANCELLED if interrupted
                           else ExecutionStatus.FAILED).value,
            completed_at=_now(), failed_code="INTERRUPTED" if interrupted else "CRASHED",
            failed_reason=f"{type(exc).__name__}: {exc}",
            error_class=None if interrupted else ErrorClass.CRITICAL.value)
        raise
    # The result, its traces and its evidence land together or not at all.
    with store.db.transaction():
        if result.status is ExecutionStatus.COMPLETED:
            # Completing also supersedes the previously active execution.
            store.executions.save_execution_result(
                execution_id, output=result.output, factors_delta=result.factors,
                run_cost_cents=result.cost_cents, completed_at=result.completed_at,
                confidence=result.confidence,
                execution_time_ms=int(result.execution_time * 1000))
        else:
            store.executions.update_execution_status(
                execution_id, result.status.value, completed_at=result.completed_at,
                failed_code=result.error_code, failed_reason=result.error_message,
                error_class=result.error_class.value if result.error_class else None,
                execution_time_ms=int(result.execution_time * 1000))
        store.traces.add_traces(execution_id, processor.PROCESSOR_ID, list(result.traces),
                                organization_id=case.organization_id,
                                underwriting_id=case.underwriting_id, execution_id=execution_id)
        store.traces.add_evidence(execution_id, processor.PROCESSOR_ID, list(result.evidence),
                                  organization_id=case.organization_id,
                                  underwriting_id=case.underwriting_id,
                                  execution_id=execution_id)
    return _summary(plan, processor, {"payload_hash": digest}, reused=False, result=result,
                    attempt=attempt, revisions=revisions, run_id=run_id)
