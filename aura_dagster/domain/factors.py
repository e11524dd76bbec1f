"""How a processor declares the factors it produces: name, type, unit and meaning.

Every processor lists its factors in `FACTORS`; the factor dictionary (`docs/factors.md`),
the catalog's column descriptions and the typed factor matrix are generated from these
declarations, so they never drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FactorType(StrEnum):
    NUMBER = "number"  # decimal amount or ratio (JSON number)
    INTEGER = "integer"  # count (JSON integer)
    BOOLEAN = "boolean"  # true / false; null when it cannot be judged
    STRING = "string"
    DATE = "date"  # ISO date text, YYYY-MM-DD
    LIST = "list"  # JSON array
    OBJECT = "object"  # JSON object

    @property
    def is_json(self) -> bool:
        return self in (FactorType.LIST, FactorType.OBJECT)


@dataclass(frozen=True)
class FactorSpec:
    name: str
    type: FactorType
    description: str
    unit: str | None = None


def factor(name: str, type_: str, description: str, unit: str | None = None) -> FactorSpec:
    return FactorSpec(name, FactorType(type_), description, unit)


def value_matches(spec: FactorSpec, value: object) -> bool:
    """Whether a JSON value (as stored) fits the declared type; null fits every type."""
    if value is None:
        return True
    checks = {
        FactorType.NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
        FactorType.INTEGER: isinstance(value, int) and not isinstance(value, bool),
        FactorType.BOOLEAN: isinstance(value, bool),
        FactorType.STRING: isinstance(value, str),
        FactorType.DATE: isinstance(value, str) and len(value) == 10 and value[4] == "-",
        FactorType.LIST: isinstance(value, list),
        FactorType.OBJECT: isinstance(value, dict),
    }
    return checks[spec.type]
