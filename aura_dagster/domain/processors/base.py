"""The processor contract of seeds 000 and 001.

A processor is given every document of the underwriting and decides for itself
whether it can run (`should_execute`). `execute` is the template the engine calls:
it generates the execution id, applies the processor's own deadline, and turns
every outcome into a `ProcessorResult` with status COMPLETED / FAILED / TIMEOUT.
It never raises for a processor problem: errors become results with a code and an
error class, so the engine can retry TEMPORARY ones and report the rest.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from ulid import ULID

from aura_dagster.domain.documents.errors import (
    DocumentError,
    NoTextLayerError,
    TooManyPagesError,
)
from aura_dagster.domain.documents.extraction import DEFAULT_MAX_PAGES
from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.factors import FactorSpec
from aura_dagster.domain.money import jsonable

# Confidence of a result computed from only some of its documents (others unreadable):
# under the review gate's default bar, so such a case waits for a person.
PARTIALLY_READ_CONFIDENCE = 0.5


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class ErrorClass(StrEnum):
    TEMPORARY = "temporary"  # retry later: timeouts, 5xx, 429, connection resets
    PERMANENT = "permanent"  # retrying cannot help: bad input, 4xx, malformed payload
    CRITICAL = "critical"  # the system is misconfigured: bad credentials, broken invariant


class ProcessorError(Exception):
    """A processor failure with a stable code and an error class."""

    error_class: ErrorClass = ErrorClass.PERMANENT

    def __init__(self, code: str, message: str, *, error_class: ErrorClass | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if error_class is not None:
            self.error_class = error_class


class TemporaryProcessorError(ProcessorError):
    error_class = ErrorClass.TEMPORARY


class PermanentProcessorError(ProcessorError):
    error_class = ErrorClass.PERMANENT


class CriticalProcessorError(ProcessorError):
    error_class = ErrorClass.CRITICAL


@dataclass(frozen=True)
class UnderwritingContext:
    """What a processor may know about the case besides its documents."""

    underwriting_id: str
    organization_id: str
    business_name: str | None = None
    business_state: str | None = None
    as_of: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())


@dataclass(frozen=True)
class Decision:
    should_run: bool
    reason: str


@dataclass(frozen=True)
class DecisionTrace:
    """One decision, in order (seed 002)."""

    decision_point: str
    decision: str
    rationale: str | None = None
    input_data: dict[str, Any] | None = None
    output_data: dict[str, Any] | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class Evidence:
    """Material that explains a result (seed 002)."""

    evidence_type: str
    evidence_data: dict[str, Any]
    source: str | None = None
    confidence_score: float | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class ExecutionContext:
    """Handed to `process`: the case, the effective config, the deadline and the recorders."""

    underwriting: UnderwritingContext
    config: Mapping[str, Any]
    deadline: float  # time.monotonic() value
    traces: list[DecisionTrace] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def trace(self, decision_point: str, decision: str, rationale: str | None = None, *,
              input_data: dict[str, Any] | None = None,
              output_data: dict[str, Any] | None = None,
              duration_ms: int | None = None) -> None:
        self.traces.append(DecisionTrace(
            decision_point, decision, rationale,
            jsonable(input_data) if input_data is not None else None,
            jsonable(output_data) if output_data is not None else None,
            duration_ms,
        ))

    def add_evidence(self, evidence_type: str, evidence_data: dict[str, Any], *,
                     source: str | None = None, confidence_score: float | None = None,
                     metadata: dict[str, Any] | None = None) -> None:
        self.evidence.append(Evidence(evidence_type, jsonable(evidence_data), source,
                                      confidence_score, metadata))


@dataclass(frozen=True)
class ProcessOutcome:
    """What `process` returns on success."""

    output: dict[str, Any]
    factors: dict[str, Any]
    cost_cents: int | None = None  # None: the config's `cost_cents`
    confidence: float = 1.0


@dataclass
class ProcessorResult:
    """One execution's result: seed 000 step 6 plus what seeds 001 and 002 store."""

    processor_id: str
    processor_version: str
    execution_id: str
    status: ExecutionStatus
    started_at: dt.datetime
    completed_at: dt.datetime
    output: dict[str, Any] = field(default_factory=dict)
    factors: dict[str, Any] = field(default_factory=dict)
    cost_cents: int = 0
    confidence: float | None = None
    skipped: bool = False
    decision_reason: str = ""
    error_code: str | None = None
    error_message: str | None = None
    error_class: ErrorClass | None = None
    traces: list[DecisionTrace] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def execution_time(self) -> float:
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def retryable(self) -> bool:
        return self.status is ExecutionStatus.TIMEOUT or self.error_class is ErrorClass.TEMPORARY


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_execution_id() -> str:
    """Executions are keyed by ULIDs rendered as UUIDs: sortable by time, valid as UUID columns."""
    return str(ULID().to_uuid())


class BaseProcessor(ABC):
    """Subclass, set the class attributes and implement `process`."""

    PROCESSOR_ID: ClassVar[str]
    VERSION: ClassVar[str]
    NAME: ClassVar[str]
    # System defaults: the bottom layer of config resolution (system <- tenant <- underwriting).
    CONFIG: ClassVar[dict[str, Any]] = {"timeout_seconds": 60.0, "cost_cents": 0}
    REQUIRED_DOCUMENT_TYPES: ClassVar[frozenset[DocumentType]] = frozenset()
    # Reads image-only PDFs itself (OCR): a scan's NO_TEXT_LAYER is not unreadable to it.
    READS_SCANS: ClassVar[bool] = False
    # External API the processor calls; the engine limits concurrency per pool.
    API_POOL: ClassVar[str | None] = None
    # Every factor the processor can produce (domain/factors.py): the factor dictionary,
    # the catalog's column descriptions and the factor matrix are generated from these.
    FACTORS: ClassVar[tuple[FactorSpec, ...]] = ()

    # -- decisions -------------------------------------------------------------------------
    def relevant_documents(self, documents: Sequence[Document]) -> list[Document]:
        """Documents of the types this processor reads, in the order given."""
        if not self.REQUIRED_DOCUMENT_TYPES:
            return list(documents)
        return [d for d in documents if d.document_type in self.REQUIRED_DOCUMENT_TYPES]

    def should_execute(self, documents: Sequence[Document], config: Mapping[str, Any]) -> Decision:
        """Default rule: run when a document of a required type is present. Skipping is only
        for a processor with no such document at all: one that exists but cannot be read is
        a failure of the processor (`execute`), never a skip."""
        if not config.get("enabled", True):
            return Decision(False, "disabled by configuration")
        if not self.REQUIRED_DOCUMENT_TYPES:
            return Decision(True, "needs no documents")
        relevant = self.relevant_documents(documents)
        wanted = ", ".join(sorted(self.REQUIRED_DOCUMENT_TYPES))
        if not relevant:
            return Decision(False, f"no document of type {wanted}")
        unreadable = sum(1 for d in relevant if d.extraction_error is not None)
        return Decision(True, f"{len(relevant)} document(s) of type {wanted}"
                              + (f", {unreadable} unreadable" if unreadable else ""))

    def readable_check(self, documents: Sequence[Document],
                       config: Mapping[str, Any]) -> tuple[list[Document], list[Document]]:
        """The documents this processor reads, and those of them it cannot read: extraction
        failed, or more pages than the processor's `max_pages` allows."""
        relevant = self.relevant_documents(documents)
        if not self.REQUIRED_DOCUMENT_TYPES:
            return relevant, []
        max_pages = int(config.get("max_pages", DEFAULT_MAX_PAGES))
        checked = [d.with_changes(extraction_error=TooManyPagesError.code)
                   if d.extraction_error is None and (d.page_count or 0) > max_pages else d
                   for d in relevant]
        return checked, [d for d in checked if not self.can_read(d)]

    def can_read(self, doc: Document) -> bool:
        """Extraction found nothing wrong, or only that a scan has no text layer and this
        processor reads scans itself."""
        return doc.extraction_error is None or (
            self.READS_SCANS and doc.extraction_error == NoTextLayerError.code)

    # -- work ------------------------------------------------------------------------------
    @abstractmethod
    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        """Do the work. Raise ProcessorError (or DocumentError) for a known failure."""

    @classmethod
    def consolidate(cls, outputs: Sequence[Mapping[str, Any]],
                    config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Merge several executions' outputs into one factor set (later outputs win).

        `config` is the effective config the latest execution ran with, for processors
        that recompute factors from the merged outputs under the lender's rules."""
        merged: dict[str, Any] = {}
        for output in outputs:
            merged.update(output.get("factors", {}))
        return merged

    def execute(self, underwriting: UnderwritingContext, documents: Sequence[Document],
                config: Mapping[str, Any] | None = None, *,
                execution_id: str | None = None) -> ProcessorResult:
        """Run once: decide, process under the deadline, and report. Never raises."""
        config = dict(self.CONFIG) | dict(config or {})
        execution_id = execution_id or new_execution_id()
        started_at = _now()
        ctx = ExecutionContext(underwriting, config,
                               time.monotonic() + float(config.get("timeout_seconds", 60.0)))

        def result(status: ExecutionStatus, **kw: Any) -> ProcessorResult:
            return ProcessorResult(
                processor_id=self.PROCESSOR_ID, processor_version=self.VERSION,
                execution_id=execution_id, status=status, started_at=started_at,
                completed_at=_now(), traces=ctx.traces, evidence=ctx.evidence, **kw)

        decision = self.should_execute(documents, config)
        ctx.trace("should_execute", "run" if decision.should_run else "skip", decision.reason)
        if not decision.should_run:
            return result(ExecutionStatus.COMPLETED, skipped=True, decision_reason=decision.reason,
                          output={"skipped": True, "reason": decision.reason})

        relevant, unreadable = self.readable_check(documents, config)
        if unreadable and len(unreadable) == len(relevant):
            # Every document of its type exists but none can be read: a PERMANENT failure
            # with the document's own code, so the case says why it has no such factors.
            listed = ", ".join(f"{d.name} ({d.extraction_error})" for d in unreadable)
            ctx.trace("read_documents", "unreadable", listed)
            return result(ExecutionStatus.FAILED, decision_reason=decision.reason,
                          error_code=unreadable[0].extraction_error,
                          error_message=f"no readable document: {listed}",
                          error_class=ErrorClass.PERMANENT,
                          output={"unreadable_documents": _unreadable(unreadable)})
        def timed_out() -> ProcessorResult:
            limit = config.get("timeout_seconds")
            return result(ExecutionStatus.TIMEOUT, decision_reason=decision.reason,
                          error_code="TIMEOUT", error_class=ErrorClass.TEMPORARY,
                          error_message=f"{self.PROCESSOR_ID} exceeded its {limit}s limit")

        try:
            outcome = _call_with_deadline(lambda: self.process(ctx, relevant), ctx.remaining())
        except TimeoutError:
            return timed_out()
        except ProcessorError as exc:
            if exc.code == VENDOR_TIMEOUT and ctx.remaining() < DEADLINE_SLACK_SECONDS:
                # The vendor call was bounded by the deadline and ran it out: the same
                # timeout, whichever clock (the call's or the deadline's) noticed first.
                return timed_out()
            return result(ExecutionStatus.FAILED, decision_reason=decision.reason,
                          error_code=exc.code, error_message=exc.message,
                          error_class=exc.error_class)
        except DocumentError as exc:
            return result(ExecutionStatus.FAILED, decision_reason=decision.reason,
                          error_code=exc.code, error_message=str(exc),
                          error_class=ErrorClass.PERMANENT)
        except Exception as exc:  # a bug in a processor must not take the others down
            return result(ExecutionStatus.FAILED, decision_reason=decision.reason,
                          error_code="UNEXPECTED_ERROR",
                          error_message=f"{type(exc).__name__}: {exc}",
                          error_class=ErrorClass.PERMANENT)
        cost = (outcome.cost_cents if outcome.cost_cents is not None
                else int(config.get("cost_cents", 0)))
        output = jsonable(outcome.output)
        factors = jsonable(outcome.factors)
        output.setdefault("factors", factors)
        confidence = outcome.confidence
        if unreadable:
            # Factors from part of the documents: a person should look before approval.
            output.setdefault("unreadable_documents", _unreadable(unreadable))
            confidence = min(confidence, PARTIALLY_READ_CONFIDENCE)
            ctx.trace("read_documents", "partial",
                      f"{len(unreadable)} of {len(relevant)} document(s) unreadable",
                      output_data={"unreadable": _unreadable(unreadable)})
        return result(ExecutionStatus.COMPLETED, decision_reason=decision.reason, output=output,
                      factors=factors, cost_cents=cost, confidence=confidence)


def _unreadable(documents: Sequence[Document]) -> list[dict[str, Any]]:
    return [{"document_id": d.document_id, "name": d.name, "error": d.extraction_error}
            for d in documents]


VENDOR_TIMEOUT = "VENDOR_TIMEOUT"
# A vendor call that ends with less than this left before the deadline used all of it.
DEADLINE_SLACK_SECONDS = 0.05


def _call_with_deadline(fn: Any, seconds: float) -> Any:
    """Run fn in a daemon thread and give up after `seconds` (Dagster has no op timeout).

    A timed-out thread cannot be killed; it is a daemon so it never blocks shutdown,
    and processors bound their own I/O by `ctx.remaining()` so it ends soon after.
    """
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, fn()))
        except BaseException as exc:  # handed to the caller, re-raised there
            box.put((False, exc))

    threading.Thread(target=run, name="processor", daemon=True).start()
    try:
        ok, value = box.get(timeout=max(seconds, 0.0))
    except queue.Empty:
        raise TimeoutError from None
    if ok:
        return value
    raise value
