"""Lender rules: knock-outs and review triggers on factor values, as data.

A rule is a name, a condition over factors (a safe expression language, conditions.py), an
action (`park` or `decline`) and a reason. `evaluate` judges one case's factors by a rule
set; an organization without rules of its own is judged by DEFAULT_RULES.
"""

from aura_dagster.domain.rules.conditions import (
    Condition,
    ConditionError,
    compile_condition,
    dictionary_processors,
    dictionary_types,
)
from aura_dagster.domain.rules.defaults import DEFAULT_RULES
from aura_dagster.domain.rules.evaluate import evaluate
from aura_dagster.domain.rules.model import (
    RULE_ACTIONS,
    FiredRule,
    Rule,
    RuleAction,
    RuleSetError,
    Verdict,
    VerdictAction,
    overall_action,
)
from aura_dagster.domain.rules.ruleset import rules_as_data, rules_from_data, rules_from_text

__all__ = [
    "DEFAULT_RULES",
    "RULE_ACTIONS",
    "Condition",
    "ConditionError",
    "FiredRule",
    "Rule",
    "RuleAction",
    "RuleSetError",
    "Verdict",
    "VerdictAction",
    "compile_condition",
    "dictionary_processors",
    "dictionary_types",
    "evaluate",
    "overall_action",
    "rules_as_data",
    "rules_from_data",
    "rules_from_text",
]
