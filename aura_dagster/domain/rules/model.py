"""Lender rules and their outcome: plain values, no storage and no evaluation here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

RuleAction = Literal["park", "decline"]
VerdictAction = Literal["decline", "park", "none"]
RULE_ACTIONS: tuple[RuleAction, ...] = ("park", "decline")
# Higher wins: one declining rule declines the case whatever parks it as well.
_SEVERITY: dict[str, int] = {"none": 0, "park": 1, "decline": 2}


@dataclass(frozen=True)
class Rule:
    """When `condition` (an expression over factor values) is true, `action` the case."""

    name: str
    condition: str
    action: RuleAction
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "condition": self.condition,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FiredRule:
    """A rule that acted on the case. `missing`: the factors it needed that were null or
    absent (then the action is `park` whatever the rule's own action: it could not judge)."""

    name: str
    action: RuleAction
    reason: str
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "reason": self.reason,
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class Verdict:
    fired: tuple[FiredRule, ...] = field(default_factory=tuple)

    @property
    def action(self) -> VerdictAction:
        """decline beats park beats none."""
        return overall_action(f.action for f in self.fired)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{f.name}: {f.reason}" for f in self.fired)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reasons": list(self.reasons),
            "fired": [f.as_dict() for f in self.fired],
        }


def overall_action(actions: Iterable[str]) -> VerdictAction:
    worst: VerdictAction = "none"
    for action in actions:
        if _SEVERITY[action] > _SEVERITY[worst]:
            worst = action  # type: ignore[assignment]  # checked by the table above
    return worst


class RuleSetError(ValueError):
    """A rule set that cannot be used; `problems` lists every one found (not just the first)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "; ".join(self.problems)
            if len(self.problems) == 1
            else "\n".join(f"- {p}" for p in self.problems)
        )
