"""Intake faults (issue 8), on the real emulator, PostgreSQL and Dagster sensor evaluation:
poison payloads, a backlog over gRPC's default 4 MB, and well-formed events for an unknown
organization, underwriting or document (answered with status "failed", never silence).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from dagster import DagsterEventType, build_sensor_context

from aura_dagster.domain.events import UnderwritingCreated, run_key_for
from aura_dagster.pubsub import delete_topic, ensure_topic
from aura_dagster.resources.pubsub import PubSubResource, ReceivedMessage
from aura_dagster.resources.store import StoreResource
from aura_dagster.sample_data.bad_documents import BAD_DOCUMENTS
from aura_dagster.sensors.underwriting_created import (
    SensorCursor,
    ValidMessage,
    screen,
    underwriting_created_sensor,
)
from aura_dagster.services.rejections import AUDIT_EVENT, NO_ORGANIZATION
from aura_dagster_tests.engine.conftest import Engine

pytestmark = pytest.mark.faults


def _publish_raw(engine: Engine, data: bytes | dict[str, Any]) -> str:
    return engine.pubsub.publish(engine.pubsub.underwriting_created_topic, data,
                                 {"event": "underwriting.created"})


def _dead_letters(engine: Engine, expected: int, timeout: float = 15.0) -> dict[str, Any]:
    """original message id -> dead-letter message, once `expected` have arrived."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        messages = engine.pubsub.pull(subscription=engine.dead_letters, max_messages=20,
                                      timeout=2.0)
        if messages:
            engine.pubsub.acknowledge([m.ack_id for m in messages],
                                      subscription=engine.dead_letters)
        found.update({m.attributes["original_message_id"]: m for m in messages})
    return found


def _completions_for(engine: Engine, underwriting_ids: set[str],
                     settle: float = 3.0) -> list[dict[str, Any]]:
    """Every processing.completed for these underwritings (others' kept for their tests)."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        messages = engine.pubsub.pull(subscription=engine.listener, max_messages=50,
                                      timeout=1.0)
        if messages:
            engine.pubsub.acknowledge([m.ack_id for m in messages],
                                      subscription=engine.listener)
        for message in messages:
            event = json.loads(message.data)
            if event["underwriting_id"] in underwriting_ids:
                events.append(event)
            else:
                engine.received[event["underwriting_id"]] = event
    return events




def _assert_nothing_left(engine: Engine) -> None:
    assert engine.pubsub.pull(return_immediately=True) == []


def test_poison_payloads_are_dead_lettered_and_the_event_behind_them_runs(
        engine: Engine) -> None:
    spec = engine.tax_return_case()
    big_int = b'{"event": "underwriting.created", "data": {"underwriting_id": "uw_x", ' \
              b'"documents": [], "n": ' + b"7" * 5000 + b"}}"
    deep = b"[" * 100_000 + b"]" * 100_000
    poison = {_publish_raw(engine, big_int): "number", _publish_raw(engine, deep): "nested"}
    engine.publish(spec)

    result = engine.wait_for_requests(1)

    [request] = result.run_requests
    assert request.partition_key == spec.underwriting_id
    dead = _dead_letters(engine, 2)
    assert set(dead) == set(poison)
    for message_id, word in poison.items():
        assert word in dead[message_id].attributes["reason"]
    assert engine.launch(request).success
    engine.tick()  # acks the good event now that its run exists
    _assert_nothing_left(engine)
    assert engine.completion_for(spec.underwriting_id)["status"] == "completed"


def test_a_backlog_over_four_megabytes_is_drained_and_the_event_behind_it_runs(
        engine: Engine) -> None:
    spec = engine.tax_return_case()
    payload = b'{"event": "underwriting.created", "data": "' + b"x" * (1024 * 1024) + b'"}'
    bad = [_publish_raw(engine, payload) for _ in range(5)]
    engine.publish(spec)

    result = engine.wait_for_requests(1)

    assert [r.partition_key for r in result.run_requests] == [spec.underwriting_id]
    dead = _dead_letters(engine, 5)
    assert set(dead) == set(bad)
    for message in dead.values():
        assert "above the limit" in message.attributes["reason"]
        body = json.loads(message.data)
        assert body["original_size_bytes"] == len(payload)
    assert engine.launch(result.run_requests[0]).success
    engine.tick()
    _assert_nothing_left(engine)


def test_events_for_unknown_cases_are_answered_failed_without_a_run(engine: Engine) -> None:
    good = engine.tax_return_case()
    org = good.organization_id
    known = engine.tax_return_case()  # exists, but the event names a document it does not have
    nobody, ghost = engine.new_id("org"), engine.new_id()
    events = {
        "organization": {"underwriting_id": engine.new_id(), "organization_id": nobody,
                         "documents": []},
        "underwriting": {"underwriting_id": ghost, "organization_id": org, "documents": []},
        "document": {"underwriting_id": known.underwriting_id,
                     "organization_id": known.organization_id,
                     "documents": [known.documents[0].document_id, "doc_nowhere"]},
    }
    for data in events.values():
        _publish_raw(engine, {"event": "underwriting.created", "data": data})
    _publish_raw(engine, {"event": "underwriting.created", "data": events["underwriting"]})
    engine.publish(good)

    result = engine.wait_for_requests(1)
    engine.tick()  # anything the first pull missed

    assert [r.partition_key for r in result.run_requests] == [good.underwriting_id]
    partitions = set(engine.instance.get_dynamic_partitions("underwriting"))
    rejected_ids = {data["underwriting_id"] for data in events.values()}
    assert not rejected_ids & partitions
    answers = _completions_for(engine, rejected_ids)
    by_id = {e["underwriting_id"]: e for e in answers}
    assert len(answers) == 3  # the duplicate event got no second answer
    for event in answers:
        assert event["status"] == "failed" and event["run_id"] == ""
        assert event["summary"]["total_processors"] == 0
    assert by_id[events["organization"]["underwriting_id"]]["reason"] == \
        f"organization {nobody!r} is not known"
    assert "does not exist" in by_id[ghost]["reason"]
    assert "doc_nowhere" in by_id[known.underwriting_id]["reason"]
    # Audited; the known underwriting is failed with the reason; others' are untouched.
    row = engine.stores.underwritings.get_underwriting(known.underwriting_id)
    assert row["status"] == "failed" and "doc_nowhere" in row["review_reason"]
    audit = engine.stores.audit.list_for_underwriting(known.underwriting_id,
                                                      known.organization_id)
    assert [(a["event"], a["detail"]["code"]) for a in audit] == [
        (AUDIT_EVENT, "UNKNOWN_DOCUMENT")]
    assert engine.stores.audit.list_for_underwriting(ghost, org)[0]["detail"]["code"] == \
        "UNKNOWN_UNDERWRITING"
    assert engine.stores.audit.list_for_underwriting(
        events["organization"]["underwriting_id"], nobody)[0]["detail"]["code"] == \
        "UNKNOWN_ORGANIZATION"
    # Rejected messages were acked; the good one is held until its run exists.
    assert engine.launch(result.run_requests[0]).success
    engine.tick()
    _assert_nothing_left(engine)


def test_a_run_for_an_unknown_case_publishes_failed_and_stops(engine: Engine) -> None:
    """Runs the sensor did not vet (a phantom partition added by hand, a run from the UI)
    are checked at their first step: answered, audited, and failed without retries."""
    phantom = engine.new_id()

    outcome = engine.materialize(phantom)

    assert not outcome.success
    failures = engine.instance.all_logs(outcome.run_id, of_type=DagsterEventType.STEP_FAILURE)
    assert [f.step_key for f in failures] == ["underwriting_processing.load_underwriting"]
    [event] = _completions_for(engine, {phantom})
    assert event["status"] == "failed" and event["run_id"] == outcome.run_id
    assert "does not exist" in event["reason"] and event["organization_id"] is None
    [audit] = engine.stores.audit.list_for_underwriting(phantom, NO_ORGANIZATION)
    assert audit["run_id"] == outcome.run_id and audit["detail"]["code"] == \
        "UNKNOWN_UNDERWRITING"

    # A known underwriting run with a document it does not have: failed, with the reason.
    spec = engine.tax_return_case()
    engine.instance.add_dynamic_partitions("underwriting", [spec.underwriting_id])
    outcome = engine.execute({"dagster/partition": spec.underwriting_id,
                              "aura/document_ids": json.dumps(["doc_gone"])})
    assert not outcome.success
    [event] = _completions_for(engine, {spec.underwriting_id})
    assert event["status"] == "failed" and "doc_gone" in event["reason"]
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "failed"


def test_unreadable_statements_fail_the_processor_and_park_the_case(engine: Engine) -> None:
    """The five ways a statement upload cannot be read, in one case: the bank statement
    processor is FAILED (not a skip) with the typed code, the case waits for a person with
    the reason, and the completion after approval lists the failure."""
    org = engine.tenant({"p_bank_statement": None, "p_tax_return": None})
    folder = engine.documents_root / engine.new_id("bad")
    folder.mkdir()
    docs = []
    for kind, (make, _code) in sorted(BAD_DOCUMENTS.items()):
        path = folder / f"statement_{kind}.pdf"
        path.write_bytes(make())
        docs.append((path, "bank_statement"))
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA",
                               [*docs, (engine.samples["tax_return.pdf"], "tax_return")])

    outcome = engine.process_event(spec)

    assert outcome.success
    [bank] = engine.executions(spec.underwriting_id, "p_bank_statement")
    first_kind = sorted(BAD_DOCUMENTS)[0]
    assert bank["status"] == "failed" and bank["error_class"] == "permanent"
    assert bank["failed_code"] == BAD_DOCUMENTS[first_kind][1]
    for _make, code in BAD_DOCUMENTS.values():
        assert code in bank["failed_reason"]
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "awaiting_review"
    assert "p_bank_statement failed: CORRUPT_DOCUMENT" in row["review_reason"]
    assert _completions_for(engine, {spec.underwriting_id}, settle=1.0) == []  # held

    assert engine.review(spec.underwriting_id, decision="approve", reviewer="ops").success
    event = engine.completion_for(spec.underwriting_id)
    assert [p["processor_id"] for p in event["failed_processors"]] == ["p_bank_statement"]
    assert "ENCRYPTED_DOCUMENT" in event["failed_processors"][0]["error_message"]
    assert [p["processor_id"] for p in event["completed_processors"]] == ["p_tax_return"]


def test_a_rejected_event_is_acked_only_once_its_failure_is_published(engine: Engine) -> None:
    """The completed topic is missing (a real NotFound from the emulator): nothing is acked
    or audited, so the message comes back; once the topic is there, it is answered."""
    org = engine.tenant({"p_tax_return": None})
    ghost = engine.new_id()
    event = UnderwritingCreated.model_validate(
        {"data": {"underwriting_id": ghost, "organization_id": org, "documents": []}})
    item = ValidMessage(ReceivedMessage("ack-1", "msg-1", b"{}"), event, run_key_for(event))
    context = build_sensor_context(instance=engine.instance)
    missing = engine.new_id("gone-topic")
    broken = PubSubResource(**{**engine.pubsub.model_dump(), "completed_topic": missing,
                               "publish_timeout_seconds": 5.0})

    accepted, acked = screen([item], lambda key: False, engine.stores, broken, context)

    assert accepted == [] and acked == []
    assert engine.stores.audit.list_for_underwriting(ghost, org) == []
    ensure_topic(broken.clients.publisher, broken.project_id, missing)
    accepted, acked = screen([item], lambda key: False, engine.stores, broken, context)
    assert accepted == [] and acked == ["ack-1"]
    assert [a["detail"]["code"] for a in engine.stores.audit.list_for_underwriting(ghost, org)] \
        == ["UNKNOWN_UNDERWRITING"]
    delete_topic(broken.clients.publisher, broken.project_id, missing)


def test_with_the_store_unreachable_the_sensor_lets_the_run_check(engine: Engine) -> None:
    """A store the sensor cannot reach (a database that is not there) stops no event: the
    run is requested, and its first step does the check (test above)."""
    org = engine.tenant({"p_tax_return": None})
    ghost = engine.new_id()
    _publish_raw(engine, {"event": "underwriting.created",
                          "data": {"underwriting_id": ghost, "organization_id": org,
                                   "documents": []}})
    url = engine.stores.db.url.set(database=engine.new_id("aura_absent"))
    unreachable = StoreResource(database_url=url.render_as_string(hide_password=False))
    context = build_sensor_context(instance=engine.instance, cursor=engine.cursor,
                                   resources={"pubsub": engine.pubsub, "store": unreachable})

    result = underwriting_created_sensor(context)

    assert [r.partition_key for r in result.run_requests] == [ghost]
    # Not answered here; hand the held message back so later tests start clean.
    held = SensorCursor.from_json(result.cursor).held
    engine.pubsub.acknowledge([h.ack_id for h in held])
    assert _completions_for(engine, {ghost}, settle=1.0) == []
