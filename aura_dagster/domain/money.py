"""Money is Decimal rounded to cents; floats appear only when values leave for JSON."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def to_cents(value: Decimal | int | str) -> Decimal:
    """Round a monetary amount to cents (half up, as banks print it)."""
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def jsonable(value: Any) -> Any:
    """Turn domain values (Decimal, dates, tuples, enums) into JSON-ready ones, recursively."""
    if isinstance(value, Decimal):
        # Integral decimals stay ints so counts do not become 3.0.
        integral = value == value.to_integral_value() and value.as_tuple().exponent >= 0
        return int(value) if integral else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # StrEnum
        return value.value
    return value


def canonical_json(value: Any) -> str:
    """Stable JSON text for hashing: sorted keys, no whitespace."""
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"))
