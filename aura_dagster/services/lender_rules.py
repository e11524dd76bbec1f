"""Lender rules of an organization: which are in force, changing them, judging a case.

    judgement = judge_case(stores, "org_1", {"biz_active_bankruptcy": True, ...})
    judgement.action   # "decline" | "park" | "none"
    judgement.as_dict()  # for run metadata and the audit log

An organization without rules of its own is judged by the defaults (version 0). A default
rule reads factors of one processor; it applies when the organization bought that processor
(active purchase): a lender who does not buy driver's licence checks is not parked on every
case for a missing `dl_expired`. The rules skipped that way are listed in the judgement
(`not_applicable`), never dropped silently. An organization's own rules always apply: a
factor one needs that is null or absent parks the case naming it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aura_dagster.domain.rules import (
    DEFAULT_RULES,
    ConditionError,
    FiredRule,
    Rule,
    RuleSetError,
    VerdictAction,
    compile_condition,
    dictionary_processors,
    dictionary_types,
    evaluate,
    overall_action,
    rules_as_data,
    rules_from_data,
)
from aura_dagster.services.organizations import known_organization
from aura_dagster.storage import Stores
from aura_dagster.storage.repositories.rules import DEFAULTS_VERSION

RulesSource = Literal["defaults", "organization"]


class UnknownOrganizationError(LookupError):
    """No processor bought and no underwriting: nothing to judge, so no rules to keep."""


@dataclass(frozen=True)
class RuleSetInForce:
    organization_id: str
    version: int  # 0: the defaults
    source: RulesSource
    rules: tuple[Rule, ...]
    changed_by: str | None = None
    changed_at: dt.datetime | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "version": self.version,
            "source": self.source,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "note": self.note,
            "rules": rules_as_data(self.rules),
        }


@dataclass(frozen=True)
class RulesJudgement:
    """What the rules say about one case: the version used, the rules that fired, the
    action (decline beats park beats none) and the reasons to publish or show."""

    organization_id: str
    version: int
    source: RulesSource
    fired: tuple[FiredRule, ...]
    not_applicable: tuple[str, ...] = ()  # default rules for processors not bought

    @property
    def action(self) -> VerdictAction:
        return overall_action(f.action for f in self.fired)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{f.name}: {f.reason}" for f in self.fired)

    @property
    def decline_reasons(self) -> tuple[str, ...]:
        """The declining rules' reasons: a `declined` event's `reason` (docs/events.md)."""
        return tuple(f"{f.name}: {f.reason}" for f in self.fired if f.action == "decline")

    @property
    def declined(self) -> bool:
        return self.action == "decline"

    @property
    def parked(self) -> bool:
        return self.action == "park"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (run metadata, audit detail)."""
        return {
            "organization_id": self.organization_id,
            "rules_version": self.version,
            "rules_source": self.source,
            "action": self.action,
            "reasons": list(self.reasons),
            "fired": [f.as_dict() for f in self.fired],
            "not_applicable": list(self.not_applicable),
        }


@dataclass(frozen=True)
class RulesChange:
    """A stored change: the new rule set, and warnings that did not stop it."""

    rule_set: RuleSetInForce
    warnings: tuple[str, ...] = ()


def _require_known(stores: Stores, organization_id: str) -> None:
    if not known_organization(stores, organization_id):
        raise UnknownOrganizationError(
            f"organization {organization_id!r} is not known (it has bought no processor and "
            "has no underwriting)"
        )


def _from_row(row: Mapping[str, Any]) -> RuleSetInForce:
    # Stored rules were checked when set; they are not re-checked here, so a factor renamed
    # since parks the cases (evaluate) instead of failing every judgement.
    rules = tuple(Rule(r["name"], r["condition"], r["action"], r["reason"]) for r in row["rules"])
    return RuleSetInForce(
        row["organization_id"],
        int(row["version"]),
        "organization",
        rules,
        row["changed_by"],
        row["changed_at"],
        row.get("note"),
    )


def _defaults(organization_id: str) -> RuleSetInForce:
    return RuleSetInForce(organization_id, DEFAULTS_VERSION, "defaults", DEFAULT_RULES)


def rules_in_force(stores: Stores, organization_id: str) -> RuleSetInForce:
    """The rules a case of the organization is judged by now (the defaults when it has none)."""
    row = stores.rules.current(organization_id)
    return _from_row(row) if row is not None else _defaults(organization_id)


def rule_set(
    stores: Stores, organization_id: str, version: int | None = None, *, require_known: bool = True
) -> RuleSetInForce:
    """A version of the organization's rules (None: the one in force; 0: the defaults).
    Raises UnknownOrganizationError, or LookupError for a version it never had."""
    if require_known:
        _require_known(stores, organization_id)
    if version is None:
        return rules_in_force(stores, organization_id)
    if version == DEFAULTS_VERSION:
        return _defaults(organization_id)
    row = stores.rules.get_version(organization_id, version)
    if row is None:
        latest = stores.rules.current(organization_id)
        have = f"versions 1-{latest['version']}" if latest else "no version of its own"
        raise LookupError(
            f"organization {organization_id!r} has no rules version {version} "
            f"({have}; 0 is the defaults)"
        )
    return _from_row(row)


def rule_history(stores: Stores, organization_id: str) -> list[RuleSetInForce]:
    """Every version the organization set, newest first (empty: it uses the defaults)."""
    _require_known(stores, organization_id)
    return [_from_row(row) for row in stores.rules.history(organization_id)]


def set_rules(
    stores: Stores, organization_id: str, data: Any, *, changed_by: str, note: str | None = None
) -> RulesChange:
    """Check `data` (`{"rules": [...]}` or a list of rule objects) and store it as the
    organization's next version. Nothing is stored unless everything is valid: raises
    RuleSetError (every problem), UnknownOrganizationError or ValueError (no author)."""
    if not (changed_by or "").strip():
        raise ValueError("who changes the rules is required (--by)")
    _require_known(stores, organization_id)
    rules = rules_from_data(data)
    row = stores.rules.add_version(
        organization_id,
        rules_as_data(rules),
        changed_by=changed_by.strip(),
        note=(note or "").strip() or None,
    )
    return RulesChange(_from_row(row), _unbought_warnings(stores, organization_id, rules))


def _processors_read(rule: Rule) -> set[str] | None:
    """The processors producing the factors the rule reads; None if it does not compile."""
    try:
        factors = compile_condition(rule.condition, dictionary_types()).factors
    except ConditionError:
        return None
    producers = dictionary_processors()
    return {producers[f] for f in factors}


def _unbought_warnings(
    stores: Stores, organization_id: str, rules: Sequence[Rule]
) -> tuple[str, ...]:
    bought = _bought(stores, organization_id)
    warnings = []
    for rule in rules:
        missing = sorted((_processors_read(rule) or set()) - bought)
        if missing:
            warnings.append(
                f"rule {rule.name} reads factors of {', '.join(missing)}, which "
                f"{organization_id} has not bought: its cases will park for the "
                "missing factors"
            )
    return tuple(warnings)


def _bought(stores: Stores, organization_id: str) -> set[str]:
    return {
        p["processor"]
        for p in stores.processors.get_purchased_processors_by_organization(
            organization_id, enabled_only=True
        )
    }


def judge_case(
    stores: Stores, organization_id: str, factor_values: Mapping[str, Any]
) -> RulesJudgement:
    """Judge one case's factor values (name -> value) by the organization's rules in force."""
    in_force = rules_in_force(stores, organization_id)
    rules = in_force.rules
    skipped: list[str] = []
    if in_force.source == "defaults":
        bought = _bought(stores, organization_id)
        applicable = []
        for rule in rules:
            needed = _processors_read(rule)
            if needed is not None and not needed <= bought:
                skipped.append(
                    f"{rule.name} (needs {', '.join(sorted(needed - bought))}, not bought)"
                )
            else:
                applicable.append(rule)
        rules = tuple(applicable)
    verdict = evaluate(rules, factor_values)
    return RulesJudgement(
        organization_id, in_force.version, in_force.source, verdict.fired, tuple(skipped)
    )


__all__ = [
    "RuleSetError",
    "RuleSetInForce",
    "RulesChange",
    "RulesJudgement",
    "UnknownOrganizationError",
    "judge_case",
    "rule_history",
    "rule_set",
    "rules_in_force",
    "set_rules",
]
