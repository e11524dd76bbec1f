"""Rule conditions: a small typed expression language over factor values (rule-engine).

Never Python `eval`: rule-engine has its own grammar (comparisons, and/or/not, arithmetic,
regex match, `$any` / `$max` / ... over lists, attribute access such as `.values` and
`.length`) and no way to reach Python objects. Each factor is a symbol typed from the factor
dictionary, so a condition naming an unknown factor or comparing a number with text is
refused when it is compiled, not when a case is judged.

    bank_months_covered < 3
    biz_active_bankruptcy == true
    $max(bank_nsf_count_by_month.values) > 3
    $any([n > 3 for n in bank_nsf_count_by_month.values])
    sos_entity_status in ["dissolved", "inactive"]
    dl_expiration_date < d"2025-01-01"
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import rule_engine

from aura_dagster.domain.factors import FactorType

FactorTypes = Mapping[str, FactorType]

_D = rule_engine.DataType
_TYPES: dict[FactorType, Any] = {
    FactorType.NUMBER: _D.FLOAT,  # rule-engine has one number type (Decimal)
    FactorType.INTEGER: _D.FLOAT,
    FactorType.BOOLEAN: _D.BOOLEAN,
    FactorType.STRING: _D.STRING,
    FactorType.DATE: _D.DATETIME,  # ISO text in the store, a date when evaluated
    FactorType.LIST: _D.ARRAY(_D.UNDEFINED),
    FactorType.OBJECT: _D.MAPPING(_D.STRING, _D.UNDEFINED),
}
# What people coming from Python or SQL type for the language's literals.
_LITERAL_HINTS = {
    "True": "true",
    "False": "false",
    "None": "null",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "nil": "null",
}


class ConditionError(ValueError):
    """A condition that does not compile: syntax, unknown factor, type mismatch."""


@dataclass(frozen=True)
class Condition:
    text: str
    factors: tuple[str, ...]  # the factors it reads, in order of first use
    _rule: Any  # rule_engine.Rule

    def evaluate(self, values: Mapping[str, Any], types: FactorTypes) -> Any:
        """The condition's value; raises rule_engine.EngineError when it cannot be computed."""
        return self._rule.evaluate(
            {name: _python_value(values[name], types[name]) for name in self.factors}
        )


def _python_value(value: Any, factor_type: FactorType) -> Any:
    if factor_type is FactorType.DATE and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def suggest(name: str, known: FactorTypes) -> list[str]:
    return difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)


def compile_condition(text: str, types: FactorTypes) -> Condition:
    """Parse and type-check `text` against the factors in `types`; ConditionError says why not."""
    seen: list[str] = []

    def resolve(name: str) -> Any:
        if name not in types:
            raise rule_engine.SymbolResolutionError(name)
        if name not in seen:
            seen.append(name)
        return _TYPES.get(types[name], _D.UNDEFINED)

    context = rule_engine.Context(type_resolver=resolve, default_timezone=dt.UTC)
    try:
        rule = rule_engine.Rule(text, context=context)
    except rule_engine.SymbolResolutionError as exc:
        raise ConditionError(_unknown_factor(exc.symbol_name, types)) from None
    except rule_engine.RuleSyntaxError as exc:
        raise ConditionError(_syntax(text, exc)) from None
    except rule_engine.EngineError as exc:  # type errors found while compiling
        named = ", ".join(f"{n} is {types[n].value}" for n in seen)
        raise ConditionError(f"{exc.message}" + (f" ({named})" if named else "")) from None
    result = rule.statement.expression.result_type
    if result not in (_D.BOOLEAN, _D.UNDEFINED):
        kind = {"FLOAT": "number"}.get(result.name, result.name.lower())
        raise ConditionError(
            f"the condition is a {kind}, not true/false: compare it (e.g. `> 3`, `== true`)"
        )
    if not seen:
        raise ConditionError("the condition names no factor")
    return Condition(text, tuple(seen), rule)


def _unknown_factor(name: str, types: FactorTypes) -> str:
    if name in _LITERAL_HINTS:
        return f"unknown factor {name!r}: write {_LITERAL_HINTS[name]} in lower case"
    close = suggest(name, types)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown factor {name!r}{hint}"


def _syntax(text: str, exc: Any) -> str:
    token = getattr(exc, "token", None)
    if token is None:
        return f"syntax error: {text!r} ends too early"
    position = int(token.lexpos)
    return (
        f"syntax error at character {position + 1} of {text!r} "
        f"(near {text[position : position + 12]!r})"
    )


@lru_cache(maxsize=1)
def dictionary_types() -> dict[str, FactorType]:
    """Every declared factor's type (the factor dictionary)."""
    from aura_dagster.domain.factor_dictionary import factor_dictionary

    return {e.name: e.type for e in factor_dictionary()}


@lru_cache(maxsize=1)
def dictionary_processors() -> dict[str, str]:
    """factor name -> the processor that produces it."""
    from aura_dagster.domain.factor_dictionary import factor_dictionary

    return {e.name: e.processor for e in factor_dictionary()}
