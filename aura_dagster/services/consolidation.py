"""Consolidate each processor's active executions into the underwriting's factor set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from aura_dagster.domain.processors.base import BaseProcessor
from aura_dagster.services.case import CaseFile
from aura_dagster.services.executions import ExecutionSummary

ProcessorLookup = Callable[[str], type[BaseProcessor] | None]


def consolidate_factors(store: Any, case: CaseFile, summaries: Sequence[ExecutionSummary],
                        lookup: ProcessorLookup) -> list[dict[str, Any]]:
    """Merge active executions per processor and replace the underwriting's factors at once.

    Active executions (enabled, in the current list, completed) are what counts: a failed
    execution this run leaves the previous good result in force (seed 001 pattern 4).
    """
    computed_at = dt.datetime.now(dt.UTC)
    rows: list[dict[str, Any]] = []
    for summary in sorted(summaries, key=lambda s: s.processor_id):
        processor_cls = lookup(summary.processor_id)
        if processor_cls is None:
            continue
        active = store.executions.get_active_executions(summary.underwriting_processor_id)
        outputs = [e for e in active if not (e.get("output") or {}).get("skipped")]
        if not outputs:
            continue
        latest = max(outputs, key=lambda e: str(e.get("completed_at") or ""))
        # Recomputed factors follow the lender's rules that the latest execution ran with.
        config = (latest.get("payload") or {}).get("config")
        factors = processor_cls.consolidate([e["output"] for e in outputs], config)
        # Every active execution's documents fed the merged factors.
        revisions = sorted({r for e in outputs for r in e.get("document_revision_ids") or ()})
        for name, value in sorted(factors.items()):
            rows.append({
                "underwriting_id": case.underwriting_id,
                "organization_id": case.organization_id,
                "factor_name": name,
                "value": value,
                "processor": summary.processor_id,
                "execution_id": str(latest["id"]),
                "processor_version": latest.get("processor_version"),
                "document_revision_ids": revisions,
                "computed_at": computed_at,
            })
    store.factors.replace_factors(case.underwriting_id, case.organization_id, rows)
    return rows
