"""JSON decoding with bounds checked BEFORE the parser sees the bytes.

Python's `json` raises `ValueError` (not `JSONDecodeError`) on integers over 4,300 digits
and `RecursionError` on deep nesting, and happily reads a body of any size. An event bus
hands us bytes from outside, so the size, the nesting depth and the length of every number
are bounded first, and anything the parser still raises is reported as one error type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# A JSON string literal (escapes included). Unambiguous alternation: linear time.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


@dataclass(frozen=True)
class JsonLimits:
    max_bytes: int = 256 * 1024  # a large underwriting.created is a few KiB
    max_depth: int = 32
    max_number_chars: int = 40  # digits, sign, point and exponent of one number


DEFAULT_LIMITS = JsonLimits()


class JsonBoundsError(ValueError):
    """The bytes are over a bound, or are not JSON; the message says which."""


def _max_depth(skeleton: bytes, stop_above: int) -> int:
    """Deepest nesting, or the first depth over `stop_above` (no need to read further)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(skeleton):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_above:
                break
        else:
            depth -= 1
    return deepest


def load_bounded_json(data: bytes, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """Decode UTF-8 JSON within `limits`, or raise `JsonBoundsError(reason)`."""
    if len(data) > limits.max_bytes:
        raise JsonBoundsError(f"message data is {len(data)} bytes, above the limit of "
                              f"{limits.max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonBoundsError(f"message data is not UTF-8: {exc}") from exc
    # Strings removed, what is left is structure, numbers and literals.
    skeleton = _STRING.sub(b'""', data)
    if _max_depth(skeleton, limits.max_depth) > limits.max_depth:
        raise JsonBoundsError(f"JSON nested more than {limits.max_depth} deep")
    longest = max((len(m.group()) for m in re.finditer(rb"[-+0-9.eE]+", skeleton)), default=0)
    if longest > limits.max_number_chars:
        raise JsonBoundsError(f"a JSON number of {longest} characters, above the limit of "
                              f"{limits.max_number_chars}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonBoundsError(f"message data is not valid JSON: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # what the bounds above should already stop
        raise JsonBoundsError(f"message data cannot be decoded: {type(exc).__name__}: "
                              f"{exc}") from exc
