"""evaluate(rules, factor_values) -> Verdict: which rules fire, and the case's action."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import rule_engine

from aura_dagster.domain.rules.conditions import (
    Condition,
    ConditionError,
    FactorTypes,
    compile_condition,
    dictionary_types,
)
from aura_dagster.domain.rules.model import FiredRule, Rule, Verdict


def evaluate(
    rules: Iterable[Rule],
    factor_values: Mapping[str, Any],
    *,
    factor_types: FactorTypes | None = None,
) -> Verdict:
    """Judge the factors by every rule. A rule that cannot judge (a factor it reads is null
    or absent, or its condition fails on the values) parks the case naming why: a rule never
    passes silently. Rules keep their order in the verdict."""
    types = dictionary_types() if factor_types is None else factor_types
    fired: list[FiredRule] = []
    for rule in rules:
        outcome = _judge(rule, factor_values, types)
        if outcome is not None:
            fired.append(outcome)
    return Verdict(tuple(fired))


def _judge(rule: Rule, values: Mapping[str, Any], types: FactorTypes) -> FiredRule | None:
    try:
        condition = compile_condition(rule.condition, types)
    except ConditionError as exc:  # stored rules were checked; the dictionary may have changed
        return FiredRule(rule.name, "park", f"condition cannot be used: {exc}")
    missing = tuple(name for name in condition.factors if values.get(name) is None)
    if missing:
        return FiredRule(
            rule.name,
            "park",
            f"factor {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            f"missing, so the rule cannot judge ({rule.action} when: "
            f"{rule.reason})",
            missing,
        )
    result = _value(condition, values, types)
    if isinstance(result, str):
        return FiredRule(
            rule.name,
            "park",
            f"{result}, so the rule cannot judge ({rule.action} when: {rule.reason})",
        )
    return FiredRule(rule.name, rule.action, rule.reason) if result else None


def _value(condition: Condition, values: Mapping[str, Any], types: FactorTypes) -> bool | str:
    """The condition's truth, or a message saying why it has none."""
    try:
        result = condition.evaluate(values, types)
    except (rule_engine.EngineError, ValueError, TypeError) as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        read = ", ".join(f"{n}={_short(values[n])}" for n in condition.factors)
        return f"condition {condition.text!r} failed on {read}: {message}"
    if not isinstance(result, bool):
        return f"condition {condition.text!r} gave {result!r}, not true/false"
    return result


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
