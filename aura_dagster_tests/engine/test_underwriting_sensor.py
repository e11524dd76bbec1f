"""The underwriting.created sensor against the real emulator and a real Dagster instance.

Between ticks, `launch_like_the_daemon` does what the sensor daemon does with a tick's
result: add the dynamic partitions, then create one run per request tagged with its run
key and the sensor name (here by executing a stand-in `process_underwriting` job).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from dagster import (
    DagsterInstance,
    RunsFilter,
    SensorResult,
    build_sensor_context,
    job,
    op,
)

from aura_dagster.domain.events import UnderwritingCreated, run_key_for
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.sensors.underwriting_created import (
    RUN_KEY_TAG,
    SENSOR_NAME_TAG,
    HeldMessage,
    SensorCursor,
    plan_tick,
    underwriting_created_sensor,
)
from aura_dagster.tags import JOB_NAME
from aura_dagster_tests.conftest import PostgresDatabases
from aura_dagster_tests.fixtures.pubsub import is_acked, probe_subscription


@op
def stand_in_step() -> None:
    """The real graph is the lead's; the sensor only needs a partitioned job of that name."""


@job(name=JOB_NAME, partitions_def=underwriting_partitions)
def process_underwriting_stand_in() -> None:
    stand_in_step()


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as instance:
        yield instance


# The sensor answers events for unknown cases itself (test_intake_faults.py); the cases these
# tests send events for exist in this store.
KNOWN_CASES: dict[str, list[str]] = {
    **{uw: [f"{uw}_doc_1", f"{uw}_doc_2"]
       for uw in ("uw_12345", "uw_good", "uw_latency", "uw_listen")},
    "uw_dup": ["doc_9", "doc_10"], "uw_plain": []}
_store: list[StoreResource] = []


@pytest.fixture(scope="module", autouse=True)
def known_cases(postgres_databases: PostgresDatabases) -> StoreResource:
    store = StoreResource(database_url=postgres_databases.create("aura_sensor"),
                          auto_migrate=True)
    repos = store.open()
    for underwriting_id, documents in KNOWN_CASES.items():
        repos.underwritings.upsert_underwriting(underwriting_id, "org_456")
        for document_id in documents:
            repos.underwritings.upsert_document(document_id, underwriting_id)
    _store[:] = [store]
    return store


def event_payload(underwriting_id: str = "uw_12345", **data: object) -> dict:
    return {"event": "underwriting.created",
            "data": {"underwriting_id": underwriting_id, "organization_id": "org_456",
                     "documents": KNOWN_CASES[underwriting_id], **data}}


def publish_event(pubsub: PubSubResource, payload: dict | bytes) -> str:
    return pubsub.publish(pubsub.underwriting_created_topic, payload,
                          {"event": "underwriting.created"})


def tick(instance: DagsterInstance, pubsub: PubSubResource, cursor: str | None) -> SensorResult:
    context = build_sensor_context(instance=instance, cursor=cursor,
                                   resources={"pubsub": pubsub, "store": _store[0]})
    result = underwriting_created_sensor(context)
    assert isinstance(result, SensorResult)
    return result


def launch_like_the_daemon(instance: DagsterInstance, result: SensorResult) -> None:
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    for run_request in result.run_requests or []:
        outcome = process_underwriting_stand_in.execute_in_process(
            instance=instance,
            partition_key=run_request.partition_key,
            tags={**run_request.tags, RUN_KEY_TAG: run_request.run_key,
                  SENSOR_NAME_TAG: underwriting_created_sensor.name},
        )
        assert outcome.success


def held(result: SensorResult) -> list[HeldMessage]:
    return list(SensorCursor.from_json(result.cursor).held)


def runs_with_key(instance: DagsterInstance, run_key: str) -> int:
    return len(instance.get_runs(filters=RunsFilter(tags={RUN_KEY_TAG: run_key})))


def test_sensor_definition() -> None:
    assert underwriting_created_sensor.name == "underwriting_created_sensor"
    assert underwriting_created_sensor.job_name == JOB_NAME
    assert underwriting_created_sensor.minimum_interval_seconds == 1
    assert underwriting_created_sensor.required_resource_keys == {"pubsub", "store"}


def test_valid_event_requests_one_run_and_acks_only_once_it_exists(
    instance: DagsterInstance, pubsub_topology: PubSubResource
) -> None:
    pubsub = pubsub_topology
    payload = event_payload(priority="urgent")
    message_id = publish_event(pubsub, payload)
    run_key = run_key_for(UnderwritingCreated.model_validate(payload))

    first = tick(instance, pubsub, None)
    [request] = first.run_requests
    assert request.partition_key == "uw_12345"
    assert request.run_key == run_key
    assert request.tags == {
        "aura/underwriting_id": "uw_12345",
        "aura/organization_id": "org_456",
        "aura/document_ids": '["uw_12345_doc_1", "uw_12345_doc_2"]',
        "aura/event_id": message_id,
        "dagster/priority": "10",
    }
    [partitions] = first.dynamic_partitions_requests
    assert partitions.partitions_def_name == "underwriting"
    assert list(partitions.partition_keys) == ["uw_12345"]
    [held_message] = held(first)
    assert held_message.run_key == run_key and held_message.message_id == message_id

    # The daemon has not created the run yet: still held, lease extended, not acked.
    second = tick(instance, pubsub, first.cursor)
    assert second.run_requests == []
    assert [h.ack_id for h in held(second)] == [held_message.ack_id]
    assert not is_acked(pubsub, held_message.ack_id)  # (puts it back: redelivered next pull)

    # Redelivered while held (the nack above): the same run key is requested again, which
    # the daemon's run-key dedup makes harmless; both deliveries stay held.
    third = tick(instance, pubsub, second.cursor)
    assert [r.run_key for r in third.run_requests] == [run_key]
    assert {h.run_key for h in held(third)} == {run_key}

    launch_like_the_daemon(instance, first)
    fourth = tick(instance, pubsub, third.cursor)
    assert fourth.run_requests == []
    assert held(fourth) == []
    assert all(is_acked(pubsub, h.ack_id) for h in held(third))
    assert pubsub.pull(return_immediately=True) == []
    assert runs_with_key(instance, run_key) == 1


def test_duplicates_and_redeliveries_start_one_run(
    instance: DagsterInstance, pubsub_topology: PubSubResource
) -> None:
    pubsub = pubsub_topology
    payload = event_payload("uw_dup", documents=["doc_9"])
    run_key = run_key_for(UnderwritingCreated.model_validate(payload))
    publish_event(pubsub, payload)
    # The same event republished, with a different key order and an extra field.
    publish_event(pubsub, json.dumps({"data": payload["data"], "event": payload["event"],
                                      "sent_at": "2024-01-15T10:00:00Z"}).encode())

    first = tick(instance, pubsub, None)
    assert [r.run_key for r in first.run_requests] == [run_key]
    assert len(held(first)) == 2  # both deliveries held until the run exists
    launch_like_the_daemon(instance, first)

    second = tick(instance, pubsub, first.cursor)
    assert second.run_requests == [] and held(second) == []
    assert all(is_acked(pubsub, h.ack_id) for h in held(first))

    # Republished once more later: acked at once, no new request.
    publish_event(pubsub, payload)
    third = tick(instance, pubsub, second.cursor)
    assert third.run_requests == [] and held(third) == []
    assert third.dynamic_partitions_requests == []

    # A redelivery after the cursor was lost (sensor reset): the run exists, ack at once.
    publish_event(pubsub, payload)
    [leased] = pubsub.pull()
    pubsub.extend([leased.ack_id], 0)  # lease lapses -> redelivered
    fourth = tick(instance, pubsub, None)
    assert fourth.run_requests == [] and held(fourth) == []
    assert pubsub.pull(return_immediately=True) == []
    assert runs_with_key(instance, run_key) == 1

    # Different content for the same underwriting is a new event: a new run.
    publish_event(pubsub, event_payload("uw_dup", documents=["doc_9", "doc_10"]))
    fifth = tick(instance, pubsub, fourth.cursor)
    assert [r.partition_key for r in fifth.run_requests] == ["uw_dup"]
    assert fifth.run_requests[0].run_key != run_key
    assert fifth.dynamic_partitions_requests == []  # the partition already exists


def test_malformed_events_are_dead_lettered_and_acked(
    instance: DagsterInstance, pubsub_topology: PubSubResource
) -> None:
    pubsub = pubsub_topology
    bad = {
        "bad-json": b"{not json",
        "missing-id": json.dumps({"event": "underwriting.created",
                                  "data": {"documents": []}}).encode(),
        "wrong-type": json.dumps(event_payload(documents="doc_001")).encode(),
        "unknown-event": json.dumps({**event_payload(), "event": "underwriting.deleted"}
                                    ).encode(),
    }
    ids = {name: publish_event(pubsub, data) for name, data in bad.items()}
    good_id = publish_event(pubsub, event_payload("uw_good", priority="high"))

    result = tick(instance, pubsub, None)
    # The sensor keeps going: the valid event in the same pull still gets its run.
    [request] = result.run_requests
    assert request.partition_key == "uw_good" and request.tags["dagster/priority"] == "5"
    assert request.tags["aura/event_id"] == good_id
    assert [h.message_id for h in held(result)] == [good_id]

    probe = probe_subscription(pubsub.dead_letter_topic)
    dead = pubsub.pull(subscription=probe, max_messages=10)
    reasons = {m.attributes["original_message_id"]: m.attributes["reason"] for m in dead}
    assert set(reasons) == set(ids.values())
    assert "not valid JSON" in reasons[ids["bad-json"]]
    assert "data.underwriting_id: Field required" in reasons[ids["missing-id"]]
    assert "data.documents" in reasons[ids["wrong-type"]]
    assert "unknown event type 'underwriting.deleted'" in reasons[ids["unknown-event"]]
    for message in dead:
        body = json.loads(message.data)
        assert body["reason"] == message.attributes["reason"]
        original = bad[next(k for k, v in ids.items() if v == body["original_message_id"])]
        assert body["original_data"] == original.decode()
    pubsub.acknowledge([m.ack_id for m in dead], subscription=probe)

    # Malformed ones were acked (nothing but the held valid message remains).
    for h in held(result):
        pubsub.extend([h.ack_id], 0)
    assert [m.message_id for m in pubsub.pull(max_messages=10)] == [good_id]


def test_priority_defaults_to_normal_and_organization_tag_is_optional(
    instance: DagsterInstance, pubsub_topology: PubSubResource
) -> None:
    pubsub = pubsub_topology
    publish_event(pubsub, {"event": "underwriting.created",
                           "data": {"underwriting_id": "uw_plain", "documents": []}})
    [request] = tick(instance, pubsub, None).run_requests
    assert request.tags["dagster/priority"] == "0"
    assert request.tags["aura/document_ids"] == "[]"
    assert "aura/organization_id" not in request.tags


def test_publish_to_run_request_latency(
    instance: DagsterInstance, pubsub_topology: PubSubResource
) -> None:
    """Publish -> RunRequest inside one tick (the daemon adds its tick interval, 1 s)."""
    pubsub = pubsub_topology
    started = time.perf_counter()
    publish_event(pubsub, event_payload("uw_latency"))
    result = tick(instance, pubsub, None)
    elapsed = time.perf_counter() - started
    assert [r.partition_key for r in result.run_requests] == ["uw_latency"]
    print(f"publish -> run request in one sensor tick: {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0


def test_a_hold_that_never_gets_its_run_is_released_for_redelivery() -> None:
    """Pure planning: a request that was lost must not pin its message forever."""
    old = HeldMessage(ack_id="a1", run_key="uw_1:abc", message_id="1", held_since=0.0)
    fresh = HeldMessage(ack_id="a2", run_key="uw_2:def", message_id="2", held_since=990.0)
    done = HeldMessage(ack_id="a3", run_key="uw_3:123", message_id="3", held_since=0.0)
    plan = plan_tick([old, fresh, done], [], run_exists=lambda key: key == "uw_3:123",
                     partition_exists=lambda key: True, now=1000.0, max_hold_seconds=300)
    assert plan.released == [old]
    assert plan.held == [fresh]
    assert plan.ack_ids == ["a3"]
    assert plan.run_requests == []


def test_cursor_round_trip_and_garbage() -> None:
    cursor = SensorCursor((HeldMessage("a", "uw:1", "m", 1.5),))
    assert SensorCursor.from_json(cursor.to_json()) == cursor
    assert SensorCursor.from_json(None) == SensorCursor()
    assert SensorCursor.from_json("not json") == SensorCursor()


def test_a_tick_listens_so_an_event_published_during_it_is_requested_at_once(
    instance: DagsterInstance, pubsub_topology: PubSubResource
) -> None:
    pubsub = PubSubResource(**{**pubsub_topology.model_dump(), "listen_seconds": 5.0})
    published_at: list[float] = []

    def publish_later() -> None:
        time.sleep(1.5)  # past the emulator's ~1 s idle answer: the tick must pull again
        published_at.append(time.perf_counter())
        publish_event(pubsub, event_payload("uw_listen"))

    publisher = threading.Thread(target=publish_later)
    publisher.start()
    result = tick(instance, pubsub, None)
    returned_at = time.perf_counter()
    publisher.join()
    assert [r.partition_key for r in result.run_requests] == ["uw_listen"]
    latency = returned_at - published_at[0]
    print(f"publish during a listening tick -> run request: {latency * 1000:.0f} ms")
    assert latency < 1.5
