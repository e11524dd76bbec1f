"""Bounded JSON decoding: bounds are checked before the parser runs (issue 8, poison events)."""

from __future__ import annotations

import json

import pytest

from aura_dagster.domain.bounded_json import JsonBoundsError, JsonLimits, load_bounded_json
from aura_dagster.domain.events import MalformedEventError, parse_underwriting_created
from aura_dagster.resources.pubsub import ReceivedMessage
from aura_dagster.sensors.underwriting_created import decode


@pytest.mark.parametrize(("data", "reason"), [
    (b'{"n": ' + b"9" * 5000 + b"}", "a JSON number of 5000 characters"),
    (b'{"n": -1.' + b"5" * 100 + b"e10}", "a JSON number of 106 characters"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON nested more than 32 deep"),
    (b'{"a": "' + b"x" * 300_000 + b'"}', "above the limit of 262144"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"a": ', "not valid JSON"),
])
def test_poison_is_refused_before_parsing(data: bytes, reason: str) -> None:
    with pytest.raises(JsonBoundsError, match=reason):
        load_bounded_json(data)


def test_what_is_inside_strings_does_not_count() -> None:
    payload = {"id": "9" * 100, "note": '[[[[ {{{{ \\" ' * 20, "n": 12345, "x": -1.5e-3,
               "ok": [True, False, None]}
    assert load_bounded_json(json.dumps(payload).encode()) == payload
    assert load_bounded_json(b"[[[1]]]", JsonLimits(max_depth=3)) == [[[1]]]
    with pytest.raises(JsonBoundsError):
        load_bounded_json(b"[[[[1]]]]", JsonLimits(max_depth=3))


def test_event_parsing_reports_poison_as_malformed() -> None:
    with pytest.raises(MalformedEventError, match="nested"):
        parse_underwriting_created(b'{"event": ' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_whatever_a_message_raises_while_decoding_dead_letters_it_by_class() -> None:
    """The guard around the per-message decode: an unexpected exception is a malformed
    message (reason: the exception's class), and the next message still decodes."""
    good = json.dumps({"event": "underwriting.created",
                       "data": {"underwriting_id": "uw_1", "documents": []}}).encode()
    odd = ReceivedMessage("a1", "m1", "not bytes")  # type: ignore[arg-type]
    valid, malformed = decode([odd, ReceivedMessage("a2", "m2", good)])
    assert [m.message.message_id for m in malformed] == ["m1"]
    assert malformed[0].reason.startswith("AttributeError while decoding")
    assert [v.event.underwriting_id for v in valid] == ["uw_1"]
