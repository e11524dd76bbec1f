"""The event contracts: parsing underwriting.created, run keys, processing.completed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from aura_dagster.domain.events import (
    MalformedEventError,
    ProcessingCompleted,
    ProcessorFailure,
    ProcessorRef,
    UnderwritingCreated,
    event_fingerprint,
    parse_underwriting_created,
    run_key_for,
)

CONTRACT_EXAMPLE = {
    "event": "underwriting.created",
    "data": {"underwriting_id": "uw_12345", "organization_id": "org_456",
             "documents": ["doc_001", "doc_002", "doc_003"], "priority": "normal"},
}


_DROP = object()  # marks a field to leave out of the example


def encode(payload: object) -> bytes:
    return json.dumps(payload).encode()


def with_data(**changes: object) -> dict:
    data = {**CONTRACT_EXAMPLE["data"], **changes}
    return {"event": "underwriting.created", "data": {k: v for k, v in data.items()
                                                      if v is not _DROP}}



def test_parses_the_contract_example() -> None:
    event = parse_underwriting_created(encode(CONTRACT_EXAMPLE), {"event": "underwriting.created"})
    assert event.underwriting_id == "uw_12345"
    assert event.data.organization_id == "org_456"
    assert event.data.documents == ["doc_001", "doc_002", "doc_003"]
    assert event.data.priority == "normal"


def test_seed_example_without_organization_or_priority_and_extra_fields_ignored() -> None:
    payload = {"event": "underwriting.created", "trace_id": "abc",
               "data": {"underwriting_id": "uw_1", "documents": [], "source": "portal"}}
    event = parse_underwriting_created(encode(payload), {})
    assert event.data.organization_id is None
    assert event.data.priority == "normal"
    assert event.data.documents == []
    assert event_fingerprint(event) == event_fingerprint(
        parse_underwriting_created(
            encode({"event": "underwriting.created",
                    "data": {"underwriting_id": "uw_1", "documents": [], "priority": None}}),
            {},
        )
    )


@pytest.mark.parametrize(
    ("data", "attributes", "reason_part"),
    [
        (b"{not json", {}, "not valid JSON"),
        (b"\xff\xfe", {}, "not UTF-8"),
        (b"[1, 2]", {}, "must be a JSON object"),
        (encode({**CONTRACT_EXAMPLE, "event": "underwriting.deleted"}), {},
         "unknown event type 'underwriting.deleted'"),
        (encode({"data": CONTRACT_EXAMPLE["data"]}), {}, "unknown event type None"),
        (encode(CONTRACT_EXAMPLE), {"event": "underwriting.updated"}, "does not match"),
        (encode(with_data(underwriting_id=_DROP)), {}, "data.underwriting_id: Field required"),
        (encode(with_data(underwriting_id=12345)), {}, "data.underwriting_id"),
        (encode(with_data(underwriting_id="")), {}, "data.underwriting_id"),
        (encode(with_data(underwriting_id="uw 1; drop")), {}, "data.underwriting_id"),
        (encode(with_data(documents="doc_001")), {}, "data.documents"),
        (encode(with_data(documents=["doc_001", 7])), {}, "data.documents.1"),
        (encode(with_data(documents=_DROP)), {}, "data.documents: Field required"),
        (encode(with_data(priority="asap")), {}, "data.priority"),
        (encode(with_data(organization_id=456)), {}, "data.organization_id"),
        (encode({"event": "underwriting.created"}), {}, "data: Field required"),
    ],
)
def test_malformed_events_raise_with_a_readable_reason(
    data: bytes, attributes: dict[str, str], reason_part: str
) -> None:
    with pytest.raises(MalformedEventError) as raised:
        parse_underwriting_created(data, attributes)
    assert reason_part in raised.value.reason
    assert str(raised.value) == raised.value.reason


def test_fingerprint_is_stable_and_content_based() -> None:
    event = UnderwritingCreated.model_validate(CONTRACT_EXAMPLE)
    fingerprint = event_fingerprint(event)
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    # Same content in another key order / document order / whitespace: same fingerprint.
    reordered = json.dumps({"data": {**CONTRACT_EXAMPLE["data"],
                                     "documents": ["doc_003", "doc_001", "doc_002"]},
                            "event": "underwriting.created"}, indent=2).encode()
    assert event_fingerprint(parse_underwriting_created(reordered, {})) == fingerprint
    assert run_key_for(event) == f"uw_12345:{fingerprint}"
    # Different content: different run key.
    for changed in (with_data(documents=["doc_001"]), with_data(priority="urgent"),
                    with_data(organization_id="org_999")):
        assert run_key_for(UnderwritingCreated.model_validate(changed)) != run_key_for(event)


def _seed_step7_event() -> ProcessingCompleted:
    return ProcessingCompleted.build(
        underwriting_id="uw_12345",
        organization_id="org_456",
        run_id="run-1",
        completed=[ProcessorRef(processor_id="bank_stmt_v1", execution_id="e1"),
                   ProcessorRef(processor_id="secretary_of_state_v1", execution_id="e2")],
        failed=[ProcessorFailure(processor_id="clear_business_report_v1", execution_id="e3",
                                 error_message="External API timeout")],
        total_execution_time=269.7,
        completed_at=datetime(2024, 1, 15, 10, 35, tzinfo=UTC),
    )


def test_processing_completed_has_the_seed_shape_plus_extensions() -> None:
    payload = _seed_step7_event().to_payload()
    assert payload == {
        "event": "processing.completed",
        "status": "completed",
        "reason": None,
        "underwriting_id": "uw_12345",
        "organization_id": "org_456",
        "run_id": "run-1",
        "completed_at": "2024-01-15T10:35:00Z",
        "summary": {"total_processors": 3, "completed_count": 2, "failed_count": 1,
                    "timeout_count": 0, "total_execution_time": 269.7},
        "completed_processors": [
            {"processor_id": "bank_stmt_v1", "execution_id": "e1"},
            {"processor_id": "secretary_of_state_v1", "execution_id": "e2"},
        ],
        "failed_processors": [
            {"processor_id": "clear_business_report_v1", "execution_id": "e3",
             "error_message": "External API timeout"},
        ],
        "timeout_processors": [],
    }
    assert ProcessingCompleted.model_validate(payload) == _seed_step7_event()  # round trip


def test_processing_completed_counts_timeouts_separately_and_in_utc() -> None:
    event = ProcessingCompleted.build(
        underwriting_id="uw_1", run_id="r", completed=[],
        timed_out=[ProcessorFailure(processor_id="p", execution_id="e",
                                    error_message="timed out after 30s")],
        total_execution_time=30.0,
        completed_at=datetime(2024, 1, 15, 12, 35, tzinfo=timezone(timedelta(hours=2))),
    )
    payload = event.to_payload()
    assert payload["summary"]["total_processors"] == 1
    assert payload["summary"]["timeout_count"] == 1 and payload["summary"]["failed_count"] == 0
    assert payload["completed_at"] == "2024-01-15T10:35:00Z"


def test_processing_completed_rejects_inconsistent_summaries() -> None:
    payload = _seed_step7_event().to_payload()
    payload["summary"]["failed_count"] = 0
    with pytest.raises(ValidationError, match="do not match"):
        ProcessingCompleted.model_validate(payload)
    payload = _seed_step7_event().to_payload()
    payload["summary"]["total_processors"] = 5
    with pytest.raises(ValidationError, match="total_processors"):
        ProcessingCompleted.model_validate(payload)
    with pytest.raises(ValidationError, match="timezone-aware"):
        ProcessingCompleted.model_validate(
            {**_seed_step7_event().to_payload(), "completed_at": "2024-01-15T10:35:00"}
        )
