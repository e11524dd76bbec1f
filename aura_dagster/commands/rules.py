"""`aura-dagster rules list | show | set | factors`: an organization's lender rules.

`set` checks the whole file before anything is stored (unknown factor, condition that does
not parse, unknown action, duplicate name, missing author) and stores it as a new version
with an audit row; `list` and `show` read the rules in force and their history. An
organization is known once it bought a processor or has an underwriting; the others are
refused (a typo in --org must not start a rule set nobody uses).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from aura_dagster.commands.preflight import CommandError, open_store
from aura_dagster.domain.rules import Rule, RuleSetError, rules_from_text
from aura_dagster.services.lender_rules import (
    RuleSetInForce,
    UnknownOrganizationError,
    rule_history,
    rule_set,
    set_rules,
)
from aura_dagster.settings import load_settings
from aura_dagster.storage import Stores

FORMATS = {".json": "json", ".toml": "toml"}
FACTORS_HINT = "the factor names: `aura-dagster rules factors` or docs/factors.md"


class RulesError(CommandError):
    """Rules refused, or asked of an unknown organization or version."""


def run(
    args: argparse.Namespace, *, stores: Stores | None = None, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    if args.rules_command == "factors":
        _print_factors(out)
        return 0
    stores = stores or open_store(load_settings())
    try:
        if args.rules_command == "list":
            return _list(stores, args.org, args.json, out)
        if args.rules_command == "show":
            shown = rule_set(stores, args.org, args.version)
            if args.json:
                print(json.dumps(shown.as_dict(), indent=2), file=out)
            else:
                _print_rule_set(shown, out)
            return 0
        return _set(stores, args.org, args.file, args.by, args.note, out)
    except UnknownOrganizationError as exc:
        raise RulesError(f"{exc}: check --org") from None
    except LookupError as exc:
        raise RulesError(str(exc)) from None


def read_rules_file(path: Path) -> tuple[Rule, ...]:
    """The file's rules, checked; RulesError lists every problem."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RulesError(f"{path}: a rules file is .json or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read {path}: {exc}") from None
    try:
        return rules_from_text(text, fmt)
    except RuleSetError as exc:
        raise _refused(path, exc) from None


def _refused(path: Path, exc: RuleSetError) -> RulesError:
    hint = f"\n({FACTORS_HINT})" if any("unknown factor" in p for p in exc.problems) else ""
    return RulesError(
        f"{path}: rules refused, nothing was stored:\n"
        + "\n".join(f"- {p}" for p in exc.problems)
        + hint
    )


def _set(
    stores: Stores, organization_id: str, path: Path, by: str, note: str | None, out: TextIO
) -> int:
    if not by.strip():
        raise RulesError("--by must name who changes the rules")
    rules = read_rules_file(path)  # checked before the organization: all problems at once
    try:
        change = set_rules(
            stores, organization_id, [r.as_dict() for r in rules], changed_by=by, note=note
        )
    except RuleSetError as exc:
        raise _refused(path, exc) from None
    except ValueError as exc:
        raise RulesError(str(exc)) from None
    stored = change.rule_set
    print(
        f"{organization_id}: rules version {stored.version} stored ({len(stored.rules)} "
        f"rules, by {stored.changed_by}); new cases are judged by it",
        file=out,
    )
    for warning in change.warnings:
        print(f"warning: {warning}", file=out)
    return 0


def _list(stores: Stores, organization_id: str, as_json: bool, out: TextIO) -> int:
    history = rule_history(stores, organization_id)
    in_force = history[0] if history else rule_set(stores, organization_id)
    if as_json:
        print(
            json.dumps(
                {"in_force": in_force.as_dict(), "history": [_summary(v) for v in history]},
                indent=2,
            ),
            file=out,
        )
        return 0
    _print_rule_set(in_force, out)
    if history:
        print("\nhistory:", file=out)
        for version in history:
            s = _summary(version)
            print(
                f"  v{s['version']:<4} {s['changed_at']}  {s['changed_by']}  "
                f"{len(version.rules)} rules" + (f"  {s['note']}" if s["note"] else ""),
                file=out,
            )
    return 0


def _summary(rule_set_: RuleSetInForce) -> dict[str, Any]:
    return {
        "version": rule_set_.version,
        "changed_by": rule_set_.changed_by,
        "changed_at": rule_set_.changed_at.isoformat(timespec="seconds")
        if rule_set_.changed_at
        else None,
        "note": rule_set_.note,
    }


def _print_rule_set(shown: RuleSetInForce, out: TextIO) -> None:
    if shown.source == "defaults":
        print(f"{shown.organization_id}: the defaults (version 0; no rules of its own)", file=out)
    else:
        when = shown.changed_at.isoformat(timespec="seconds") if shown.changed_at else "?"
        note = f" — {shown.note}" if shown.note else ""
        print(
            f"{shown.organization_id}: rules version {shown.version}, set by "
            f"{shown.changed_by} at {when}{note}",
            file=out,
        )
    width = max((len(r.name) for r in shown.rules), default=4)
    for rule in shown.rules:
        print(f"  {rule.name:<{width}}  {rule.action:<7}  {rule.condition}", file=out)
        print(f"  {'':<{width}}           {rule.reason}", file=out)


def _print_factors(out: TextIO) -> None:
    from aura_dagster.domain.factor_dictionary import factor_dictionary

    for entry in factor_dictionary():
        print(f"{entry.name:<40} {entry.type.value:<8} {entry.processor}", file=out)
