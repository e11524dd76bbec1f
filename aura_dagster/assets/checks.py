"""The asset checks, evaluated inside the op that produces what they check (`check_specs`).

A check as a step of its own costs a step start, an input load through the warehouse IO
manager and a dozen event-log commits; evaluated where the frames are already in memory it
costs nothing of that. Names, descriptions, severities and metadata are those the UI, the
README queries and the review flow read.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    OpExecutionContext,
    PreviewWarning,
)

from aura_dagster.assets.run_tags import add_run_tags
from aura_dagster.domain.validation import (
    FactorCheck,
    check_factor_ranges,
    check_required_factors,
    check_statements_reconcile,
)
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.tags import FAILED_PROCESSORS_TAG

UNSUCCESSFUL = ("failed", "timeout", "cancelled")


def _spec(name: str, asset: str, description: str, **kwargs: Any) -> AssetCheckSpec:
    # Checks per underwriting partition are a deliberate choice; the preview notice would
    # otherwise open the log of every process that imports the definitions.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return AssetCheckSpec(name, asset=asset, description=description,
                              partitions_def=underwriting_partitions, **kwargs)


REQUIRED_FACTORS = _spec("required_factors_present", "underwriting_factors",
                         "Every completed processor produced its required factors.",
                         additional_deps=["processor_executions"])
FACTOR_RANGES = _spec("factor_values_in_range", "underwriting_factors",
                      "Numeric factors are finite and inside their bounds.")
STATEMENTS_RECONCILE = _spec("statements_reconcile", "underwriting_factors",
                             "Opening balance + credits - debits equals closing on every "
                             "statement.")
PROCESSORS_SUCCEEDED = _spec("processors_succeeded", "processor_executions",
                             "Every processor completed (WARN naming those that failed or "
                             "timed out; also the run tag aura/failed_processors).")
REVIEW_CLEARED = _spec("review_cleared", "underwriting_review",
                       "The case is not waiting for a person (WARN while it is parked).")
FACTOR_CHECK_SPECS = (REQUIRED_FACTORS, FACTOR_RANGES, STATEMENTS_RECONCILE,
                      PROCESSORS_SUCCEEDED)


def output_name(spec: AssetCheckSpec) -> str:
    """The output a graph-backed asset maps the check to (Dagster's naming)."""
    return spec.get_python_identifier()


def factor_values(factors: pd.DataFrame) -> dict[str, Any]:
    return {row.factor_name: json.loads(row.value_json) for row in factors.itertuples()}


def completed_processors(executions: pd.DataFrame) -> list[str]:
    done = executions[(executions["status"] == "completed") & (~executions["skipped"].astype(bool))]
    return sorted(done["processor"].tolist())


def partition_result(context: OpExecutionContext, spec: AssetCheckSpec, *, passed: bool,
                     severity: AssetCheckSeverity, description: str,
                     metadata: dict[str, Any]) -> AssetCheckResult:
    # Partitioned checks: the UI's check list sums up every partition while "latest
    # execution" is whichever partition ran last, so each result names its partition.
    partition = context.partition_key if context.has_partition_key else ""
    return AssetCheckResult(
        asset_key=spec.asset_key, check_name=spec.name, passed=passed, severity=severity,
        description=f"{partition}: {description}" if partition else description,
        metadata={**metadata, "underwriting_id": partition})


def _factor_result(context: OpExecutionContext, spec: AssetCheckSpec,
                   evaluate: Callable[[], FactorCheck],
                   severity: AssetCheckSeverity) -> AssetCheckResult:
    """The check's result; a check that cannot be evaluated fails (it is shown, and the
    review gate decides on the same factors) instead of failing the step."""
    try:
        check = evaluate()
    except Exception as exc:
        return partition_result(
            context, spec, passed=False, severity=AssetCheckSeverity.ERROR,
            description=f"could not evaluate: {type(exc).__name__}: {exc}", metadata={})
    return partition_result(context, spec, passed=check.passed, severity=severity,
                            description=check.description,
                            metadata={"failures": MetadataValue.json(list(check.failures))})


def processors_succeeded(context: OpExecutionContext,
                         executions: pd.DataFrame) -> AssetCheckResult:
    bad = executions[executions["status"].isin(UNSUCCESSFUL)]
    failures = {r.processor: r.status for r in bad.itertuples()}
    if failures:
        add_run_tags(context, {FAILED_PROCESSORS_TAG: ",".join(
            f"{p}:{s}" for p, s in sorted(failures.items()))}, replace=True)
    errors = {r.processor: str(r.error_message or r.error_code or r.status)
              for r in bad.itertuples()}
    return partition_result(
        context, PROCESSORS_SUCCEEDED, passed=not failures, severity=AssetCheckSeverity.WARN,
        description=("every processor completed" if not failures else
                     f"{len(failures)} processor(s) did not complete: "
                     + ", ".join(f"{p} ({s})" for p, s in sorted(failures.items()))),
        metadata={"failed": MetadataValue.json(sorted(p for p, s in failures.items()
                                                      if s != "timeout")),
                  "timed_out": MetadataValue.json(sorted(p for p, s in failures.items()
                                                         if s == "timeout")),
                  "errors": MetadataValue.json(errors)})


def factor_checks(context: OpExecutionContext, factors: pd.DataFrame,
                  executions: pd.DataFrame) -> dict[str, AssetCheckResult]:
    """Every check on the executions and factors, by output name (FACTOR_CHECK_SPECS)."""
    results = [
        _factor_result(context, REQUIRED_FACTORS, lambda: check_required_factors(
            factor_values(factors), completed_processors(executions)),
            AssetCheckSeverity.ERROR),
        _factor_result(context, FACTOR_RANGES,
                       lambda: check_factor_ranges(factor_values(factors)),
                       AssetCheckSeverity.ERROR),
        _factor_result(context, STATEMENTS_RECONCILE,
                       lambda: check_statements_reconcile(factor_values(factors)),
                       AssetCheckSeverity.WARN),
        processors_succeeded(context, executions),
    ]
    return {output_name(spec): result
            for spec, result in zip(FACTOR_CHECK_SPECS, results, strict=True)}


def review_cleared(context: OpExecutionContext, review: pd.DataFrame) -> AssetCheckResult:
    row = review.iloc[0]
    status = str(row["status"])
    parked = status == "awaiting_review"
    return partition_result(
        context, REVIEW_CLEARED, passed=not parked, severity=AssetCheckSeverity.WARN,
        description=("parked: approve or reject it with resume_after_review" if parked
                     else f"cleared: {status}"),
        metadata={"status": status, "reasons": MetadataValue.json(json.loads(row["reasons"])),
                  "reviewed_by": str(row["reviewed_by"] or "")})
