"""Factor validation and the review gate (seed 004: validate, review).

Three checks run on an underwriting's consolidated factors; their results become
Dagster asset checks, and the review gate parks an underwriting for a person when
a check fails or a processor's confidence is below `auto_approve_above`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_AUTO_APPROVE_ABOVE = 0.70

# Factors a completed (not skipped) processor must have produced.
REQUIRED_FACTORS: dict[str, tuple[str, ...]] = {
    "p_bank_statement": (
        "bank_total_deposits", "bank_revenue", "bank_average_daily_balance",
        "bank_nsf_count", "bank_months_covered", "bank_all_statements_reconcile",
    ),
    "p_secretary_of_state": ("sos_registered",),
    "p_clear_business_report": ("biz_report_found",),
    "p_tax_return": ("tax_year", "tax_gross_receipts"),
    "p_drivers_license": ("dl_state", "dl_expired"),
}

# Inclusive bounds for numeric factors; None leaves a side open.
FACTOR_RANGES: dict[str, tuple[float | None, float | None]] = {
    "bank_total_deposits": (0, None),
    "bank_revenue": (0, None),
    "bank_nsf_count": (0, None),
    "bank_overdraft_count": (0, None),
    "bank_negative_balance_days": (0, None),
    "bank_deposit_count": (0, None),
    "bank_largest_deposit_share": (0, 1),
    "bank_months_covered": (0, 120),
    "sos_time_in_business_months": (0, 2400),
    "biz_open_lien_count": (0, None),
    "biz_open_lien_amount": (0, None),
    "biz_judgment_count": (0, None),
    "biz_bankruptcy_count": (0, None),
    "biz_active_ucc_count": (0, None),
    "tax_year": (1990, 2100),
    "tax_gross_receipts": (0, None),
    "dl_holder_age": (16, 120),
}


@dataclass(frozen=True)
class FactorCheck:
    name: str
    passed: bool
    description: str
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewDecision:
    needs_review: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_required_factors(factors: Mapping[str, Any], completed: Sequence[str]) -> FactorCheck:
    # Present, even as null: a null verdict ("cannot be judged") is an answer.
    missing = [f"{p}: {name}" for p in completed for name in REQUIRED_FACTORS.get(p, ())
               if name not in factors]
    return FactorCheck("required_factors_present", not missing,
                       "every completed processor produced its required factors", tuple(missing))


def check_factor_ranges(factors: Mapping[str, Any]) -> FactorCheck:
    failures = []
    for name, value in sorted(factors.items()):
        if _is_number(value) and not math.isfinite(value):
            failures.append(f"{name}={value} is not finite")
            continue
        low, high = FACTOR_RANGES.get(name, (None, None))
        if not _is_number(value):
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            failures.append(f"{name}={value} outside [{low}, {high}]")
    return FactorCheck("factor_values_in_range", not failures,
                       "numeric factors are finite and inside their bounds", tuple(failures))


def check_statements_reconcile(factors: Mapping[str, Any]) -> FactorCheck:
    """Unreconciled statements fail; no statements (or OFX-only, not judgeable) pass with a note."""
    verdict = factors.get("bank_all_statements_reconcile")
    unreconciled = factors.get("bank_unreconciled_statement_count") or 0
    if verdict is False or (_is_number(unreconciled) and unreconciled > 0):
        return FactorCheck("statements_reconcile", False,
                           "opening + credits - debits equals closing on every statement",
                           (f"{unreconciled} statement(s) do not reconcile",))
    return FactorCheck("statements_reconcile", True,
                       "opening + credits - debits equals closing on every statement")


def validate_factors(factors: Mapping[str, Any], completed: Sequence[str]) -> list[FactorCheck]:
    return [
        check_required_factors(factors, completed),
        check_factor_ranges(factors),
        check_statements_reconcile(factors),
    ]


def review_decision(checks: Sequence[FactorCheck], confidences: Mapping[str, float | None],
                    auto_approve_above: float = DEFAULT_AUTO_APPROVE_ABOVE,
                    failed: Mapping[str, str] | None = None) -> ReviewDecision:
    """Park for a person when a check fails, a processor failed (`failed`: processor -> why,
    e.g. its only bank statement is unreadable) or a processor is not confident enough."""
    reasons = [f"check {c.name} failed: {'; '.join(c.failures)}" for c in checks if not c.passed]
    reasons += [f"{p} failed: {why}" for p, why in sorted((failed or {}).items())]
    reasons += [f"{p} confidence {c:.2f} below {auto_approve_above:.2f}"
                for p, c in sorted(confidences.items())
                if c is not None and c < auto_approve_above]
    return ReviewDecision(bool(reasons), tuple(reasons))
