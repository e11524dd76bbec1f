"""The bank statement processor: parse every statement, reconcile, compute `bank_*` factors.

Its output keeps each statement's summary and transactions, so `consolidate` can
merge several executions (dropping duplicates from overlapping statements) and
recompute the factors from scratch. The factors are documented in `factors.py`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from aura_dagster.domain.documents.extraction import DEFAULT_MAX_PAGES
from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.factors import FactorSpec
from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.factor_specs import BANK_STATEMENT_FACTORS
from aura_dagster.domain.processors.bank_statement.factors import compute_factors
from aura_dagster.domain.processors.bank_statement.ledger import build_ledger
from aura_dagster.domain.processors.bank_statement.model import Statement
from aura_dagster.domain.processors.bank_statement.parsing import parse_statements
from aura_dagster.domain.processors.bank_statement.rules import (
    DEFAULT_KNOWN_FUNDERS,
    DEFAULT_NSF_PATTERNS,
    DEFAULT_OVERDRAFT_PATTERNS,
    DEFAULT_RECURRING_EXCLUSIONS,
    DEFAULT_REVENUE_EXCLUSIONS,
    DEFAULT_SETTLEMENT_PATTERNS,
    Rules,
)
from aura_dagster.domain.processors.base import (
    BaseProcessor,
    ExecutionContext,
    ProcessOutcome,
    TemporaryProcessorError,
)


def rules_for(config: Mapping[str, Any] | None) -> Rules:
    """The lender's rules: its effective config over the processor's defaults. One place, so
    an execution and the merge of several executions classify alike."""
    return Rules.from_config(dict(BankStatementProcessor.CONFIG) | dict(config or {}))


def analyze_statements(statements: Sequence[Statement],
                       config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The processor's output for already parsed statements: statements + factors."""
    rules = rules_for(config)
    ledger = build_ledger(statements)
    return {
        "statements": [s.to_dict() for s in ledger.statements],
        "factors": compute_factors(ledger, rules),
    }


# Below every sane auto-approve threshold (validation.DEFAULT_AUTO_APPROVE_ABOVE is 0.70):
# a statement whose numbers are not confirmed must be looked at by a person.
UNCONFIRMED_CONFIDENCE = 0.3


def statement_confidence(statements: Sequence[Statement]) -> tuple[float, list[str]]:
    """The processor's confidence and, when it is low, why.

    Confidence follows reconciliation: a statement that does not reconcile, or that was
    read with warnings (rows not counted, an order or a sign that could not be
    verified), gives UNCONFIRMED_CONFIDENCE so the review gate parks the case. Statements
    that cannot be judged (no stated balances) give 0.8; all reconciled give 1.0.
    """
    reasons: list[str] = []
    for statement in statements:
        if statement.reconciles is False:
            reasons.append(f"{statement.source}: does not reconcile ("
                           f"{statement.reconciliation_note})")
        for warning in statement.warnings:
            reasons.append(f"{statement.source}: {warning}")
    if reasons:
        return UNCONFIRMED_CONFIDENCE, reasons
    if all(s.reconciles is True for s in statements):
        return 1.0, []
    return 0.8, []


class BankStatementProcessor(BaseProcessor):
    PROCESSOR_ID: ClassVar[str] = "p_bank_statement"
    VERSION: ClassVar[str] = "1.0.0"
    NAME: ClassVar[str] = "Bank Statement Analysis"
    REQUIRED_DOCUMENT_TYPES: ClassVar[frozenset[DocumentType]] = frozenset(
        {DocumentType.BANK_STATEMENT})
    READS_SCANS: ClassVar[bool] = True  # image-only statements are read by OCR
    FACTORS: ClassVar[tuple[FactorSpec, ...]] = BANK_STATEMENT_FACTORS
    CONFIG: ClassVar[dict[str, Any]] = {
        "timeout_seconds": 120.0,
        "cost_cents": 0,
        # Cost = PDF pages (a CSV / OFX export counts as one page) x this rate.
        "cost_cents_per_page": 2,
        "max_pages": DEFAULT_MAX_PAGES,
        "known_funders": list(DEFAULT_KNOWN_FUNDERS),
        "revenue_settlement_patterns": list(DEFAULT_SETTLEMENT_PATTERNS),
        "revenue_exclusion_patterns": {k: list(v) for k, v in DEFAULT_REVENUE_EXCLUSIONS.items()},
        "nsf_patterns": list(DEFAULT_NSF_PATTERNS),
        "overdraft_patterns": list(DEFAULT_OVERDRAFT_PATTERNS),
        "recurring_exclusion_patterns": list(DEFAULT_RECURRING_EXCLUSIONS),
        "recurring_min_amount": "25.00",
        "recurring_min_daily_occurrences": 5,
        "recurring_min_weekly_occurrences": 4,
    }

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        statements: list[Statement] = []
        unreadable: list[dict[str, Any]] = []
        pages = 0
        for doc in documents:
            if ctx.remaining() <= 0:
                raise TemporaryProcessorError("DEADLINE_EXCEEDED",
                                              "ran out of time between statements")
            if not self.can_read(doc):
                # Extraction already failed upstream: report it, analyse the others. A scan
                # (no text layer) is read here, by OCR.
                unreadable.append({"document_id": doc.document_id, "name": doc.name,
                                   "error": doc.extraction_error})
                ctx.trace("parse_statement", "skip", f"{doc.name}: {doc.extraction_error}",
                          input_data={"document_id": doc.document_id})
                continue
            if doc.content is None:
                raise StatementParseError("STATEMENT_CONTENT_MISSING",
                                          f"{doc.document_id}: no content was fetched")
            started = time.monotonic()
            parsed = parse_statements(doc.content, doc.name,
                                      max_pages=int(ctx.config.get("max_pages", DEFAULT_MAX_PAGES)),
                                      document_id=doc.document_id)
            elapsed_ms = int((time.monotonic() - started) * 1000)
            for statement in parsed:
                pages += statement.page_count
                statements.append(statement)
                summary = statement.summary()
                ctx.trace("parse_statement", "parsed",
                          f"{doc.name}: {len(statement.transactions)} transactions "
                          f"({statement.format}, {statement.page_count} page(s))",
                          input_data={"document_id": doc.document_id, "name": doc.name},
                          output_data={k: summary[k] for k in (
                              "period_start", "period_end", "transaction_count",
                              "opening_balance", "closing_balance", "layout",
                              "pending_excluded")},
                          duration_ms=elapsed_ms)
                verdict = {True: "reconciles", False: "does_not_reconcile",
                           None: "cannot_be_judged"}[statement.reconciles]
                ctx.trace("reconciliation", verdict, statement.reconciliation_note,
                          input_data={"source": statement.source},
                          output_data={"difference": statement.reconciliation_difference})
                ctx.add_evidence("statement_reconciliation", {
                    "document_id": doc.document_id, **{k: summary[k] for k in (
                        "source", "period_start", "period_end", "opening_balance",
                        "closing_balance", "total_credits", "total_debits", "reconciles",
                        "reconciliation_difference", "reconciliation_note", "layout",
                        "pending_excluded", "warnings")}},
                    source=doc.name, confidence_score=1.0 if statement.reconciles else 0.5)
        if not statements:
            raise StatementParseError("STATEMENT_NONE_READABLE",
                                      "no bank statement could be read: " + ", ".join(
                                          f"{u['name']} ({u['error']})" for u in unreadable))
        output = analyze_statements(statements, ctx.config)
        output["unreadable_documents"] = unreadable
        _record_stacking(ctx, output["factors"])
        rate = int(ctx.config.get("cost_cents_per_page", 0))
        factors = output["factors"]
        confidence, reasons = statement_confidence(statements)
        output["review_reasons"] = reasons
        if reasons:
            ctx.trace("statement_confidence", f"{confidence:.2f}", "; ".join(reasons),
                      output_data={"reasons": reasons})
        return ProcessOutcome(output=output, factors=factors, cost_cents=pages * rate,
                              confidence=confidence)

    @classmethod
    def consolidate(cls, outputs: Sequence[Mapping[str, Any]],
                    config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Merge executions: statements pooled, duplicate statements and overlapping
        transactions dropped, factors recomputed over the whole set under the lender's
        rules (`config`), as each execution computed its own."""
        seen: set[tuple[Any, ...]] = set()
        statements: list[Statement] = []
        for output in outputs:
            for data in output.get("statements", []):
                statement = Statement.from_dict(data)
                identity = (statement.source, statement.account_id, statement.period_start,
                            statement.period_end, len(statement.transactions),
                            statement.closing_balance)
                if identity in seen:  # the same file analysed by two executions
                    continue
                seen.add(identity)
                statements.append(statement)
        if not statements:
            return super().consolidate(outputs, config)
        return compute_factors(build_ledger(statements), rules_for(config))


def _record_stacking(ctx: ExecutionContext, factors: Mapping[str, Any]) -> None:
    positions = factors["bank_stacking_positions"]
    ctx.trace("stacking", f"{len(positions)} position(s)",
              ", ".join(p["name"] for p in positions) or "no funder debits or fixed series",
              output_data={"monthly_amount": factors["bank_stacking_monthly_amount"]})
    for position in positions:
        ctx.add_evidence("stacking_position", dict(position), source="bank_statement")
