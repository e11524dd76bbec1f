"""Reading a rule set (JSON or TOML, or already-parsed data) and refusing a bad one whole.

    {"rules": [{"name": "active_bankruptcy", "condition": "biz_active_bankruptcy == true",
                "action": "decline", "reason": "the business has an active bankruptcy"}]}

    [[rules]]
    name = "active_bankruptcy"
    condition = "biz_active_bankruptcy == true"
    action = "decline"
    reason = "the business has an active bankruptcy"

Every problem is reported at once (a lender fixing a file wants the whole list).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from aura_dagster.domain.rules.conditions import (
    ConditionError,
    FactorTypes,
    compile_condition,
    dictionary_types,
)
from aura_dagster.domain.rules.model import RULE_ACTIONS, Rule, RuleSetError

RULE_FIELDS = ("name", "condition", "action", "reason")
# What `rules show --json` prints beside `rules`: ignored, so its output can be edited and
# set again (the version and author come from the new change, never from the file).
SHOWN_KEYS = frozenset({"organization_id", "version", "source", "changed_by", "changed_at", "note"})
# Names show in reasons, run metadata and events: keep them short and plain.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def rules_from_text(text: str, fmt: str) -> tuple[Rule, ...]:
    """Parse `text` as `json` or `toml` into checked rules; RuleSetError says what is wrong."""
    try:
        data: Any = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleSetError([f"not valid JSON: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetError([f"not valid TOML: {exc}"]) from None
    return rules_from_data(data)


def rules_from_data(data: Any, *, factor_types: FactorTypes | None = None) -> tuple[Rule, ...]:
    """`{"rules": [...]}` or a bare list of rule objects -> checked rules."""
    types = dictionary_types() if factor_types is None else factor_types
    if isinstance(data, Mapping):
        extra = sorted(set(data) - {"rules"} - SHOWN_KEYS)
        if extra:
            raise RuleSetError(
                [f"unknown top-level key(s) {', '.join(extra)}: a rule set holds `rules` only"]
            )
        data = data.get("rules")
    if not isinstance(data, list):
        raise RuleSetError([f"expected a list of rules (`rules`), got {type(data).__name__}"])
    if not data:
        raise RuleSetError(
            [
                "the rule set has no rule (an organization always has rules in "
                "force; copy the defaults from `aura-dagster rules show` and edit "
                "them)"
            ]
        )
    problems: list[str] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(data, start=1):
        rule, item_problems = _rule(index, item, types)
        problems += item_problems
        name = item.get("name") if isinstance(item, Mapping) else None
        if isinstance(name, str) and name.strip():
            if name.strip() in seen:
                problems.append(f"rule {index} ({name}): the name {name!r} is used twice")
            seen.add(name.strip())
        if rule is not None:
            rules.append(rule)
    if problems:
        raise RuleSetError(problems)
    return tuple(rules)


def _rule(index: int, item: Any, types: FactorTypes) -> tuple[Rule | None, list[str]]:
    if not isinstance(item, Mapping):
        return None, [f"rule {index}: expected an object with {', '.join(RULE_FIELDS)}"]
    name = item.get("name")
    label = f"rule {index}" + (f" ({name})" if isinstance(name, str) and name else "")
    problems: list[str] = []
    extra = sorted(set(item) - set(RULE_FIELDS))
    if extra:
        problems.append(
            f"{label}: unknown field(s) {', '.join(map(str, extra))} "
            f"(a rule has {', '.join(RULE_FIELDS)})"
        )
    given = {}
    for field in RULE_FIELDS:
        value = item.get(field)
        if isinstance(value, str) and value.strip():
            given[field] = value.strip()
        else:
            problems.append(f"{label}: `{field}` is required (text)")
    if "name" in given and not _NAME.match(given["name"]):
        problems.append(f"{label}: the name may hold letters, digits, _ . - (at most 64)")
    if "action" in given and given["action"] not in RULE_ACTIONS:
        problems.append(
            f"{label}: unknown action {given['action']!r}; one of {', '.join(RULE_ACTIONS)}"
        )
    if "condition" in given:
        try:
            compile_condition(given["condition"], types)
        except ConditionError as exc:
            problems.append(f"{label}: {exc}")
    if problems:
        return None, problems
    return Rule(given["name"], given["condition"], given["action"], given["reason"]), []


def rules_as_data(rules: tuple[Rule, ...] | list[Rule]) -> list[dict[str, str]]:
    """The stored (and `rules show --json`) form: what rules_from_data reads back."""
    return [r.as_dict() for r in rules]
