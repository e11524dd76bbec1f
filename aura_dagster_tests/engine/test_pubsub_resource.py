"""PubSubResource and PubSubEmulator against the real Pub/Sub emulator."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aura_dagster.domain.events import ProcessingCompleted, ProcessorFailure, ProcessorRef
from aura_dagster.pubsub import PubSubEmulator, PubSubEmulatorError
from aura_dagster.resources.pubsub import PubSubResource, ReceivedMessage
from aura_dagster_tests.fixtures.pubsub import is_acked, probe_subscription


def test_emulator_started_once_for_the_session(pubsub_emulator: PubSubEmulator) -> None:
    assert pubsub_emulator.running
    assert pubsub_emulator.host.startswith("127.0.0.1:")
    assert pubsub_emulator.env()["PUBSUB_EMULATOR_HOST"] == pubsub_emulator.host
    assert pubsub_emulator.startup_seconds is not None and pubsub_emulator.startup_seconds < 30
    print(f"emulator start-up: {pubsub_emulator.startup_seconds:.2f}s")


def test_emulator_reports_a_missing_launcher(tmp_path: Path) -> None:
    with pytest.raises(PubSubEmulatorError, match="launcher not found"):
        PubSubEmulator(script=tmp_path / "no-such-emulator").start()


def test_emulator_reports_missing_java(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no java on it
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(PubSubEmulatorError, match="Java is not installed"):
        PubSubEmulator().start()


def test_emulator_reports_a_crash_with_the_log_tail(tmp_path: Path) -> None:
    script = tmp_path / "broken-emulator"
    script.write_text("#!/bin/sh\necho 'Address already in use' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(PubSubEmulatorError, match="exited with code 3(.|\n)*already in use"):
        PubSubEmulator(script=script, startup_timeout=10).start()


def test_ensure_topology_is_idempotent(pubsub_topology: PubSubResource) -> None:
    pubsub_topology.ensure_topology()
    pubsub_topology.ensure_topology()


def test_publish_pull_ack(pubsub_topology: PubSubResource) -> None:
    pubsub = pubsub_topology
    message_id = pubsub.publish(pubsub.underwriting_created_topic, {"hello": "world"},
                                {"event": "greeting"})
    messages = pubsub.pull()
    assert len(messages) == 1
    message = messages[0]
    assert message.message_id == message_id
    assert json.loads(message.data) == {"hello": "world"}
    assert message.attributes == {"event": "greeting"}
    assert message.publish_time is not None
    # Leased, not acked: a second pull sees nothing; a nack brings it back.
    assert pubsub.pull(return_immediately=True) == []
    assert not is_acked(pubsub, message.ack_id)
    again = pubsub.pull()
    assert [m.message_id for m in again] == [message_id]
    pubsub.acknowledge([again[0].ack_id])
    assert is_acked(pubsub, again[0].ack_id)


def test_pull_on_an_empty_subscription_returns_nothing(pubsub_topology: PubSubResource) -> None:
    assert pubsub_topology.pull() == []


def test_extend_keeps_the_lease_and_zero_redelivers(pubsub_topology: PubSubResource) -> None:
    pubsub = pubsub_topology
    pubsub.publish(pubsub.underwriting_created_topic, b"raw bytes")
    [message] = pubsub.pull()
    pubsub.extend([message.ack_id], 120)
    assert pubsub.pull(return_immediately=True) == []
    pubsub.extend([message.ack_id], 0)
    [back] = pubsub.pull()
    assert back.data == b"raw bytes"
    pubsub.acknowledge([back.ack_id])


def test_an_invalid_ack_id_does_not_block_the_valid_ones(pubsub_topology: PubSubResource) -> None:
    pubsub = pubsub_topology
    for n in range(3):
        pubsub.publish(pubsub.underwriting_created_topic, {"n": n})
    messages = pubsub.pull()
    assert len(messages) == 3
    pubsub.acknowledge(["not-an-ack-id", *(m.ack_id for m in messages)])
    assert all(is_acked(pubsub, m.ack_id) for m in messages)


def test_publish_dead_letter_keeps_the_reason_and_the_original(
    pubsub_topology: PubSubResource,
) -> None:
    pubsub = pubsub_topology
    original = ReceivedMessage(
        ack_id="unused", message_id="42", data=b"\xffnot json",
        attributes={"event": "underwriting.created"},
        publish_time=datetime(2024, 1, 15, tzinfo=UTC),
    )
    pubsub.publish_dead_letter(original, "message data is not UTF-8" + "!" * 2000)
    probe = probe_subscription(pubsub.dead_letter_topic)
    [dead] = pubsub.pull(subscription=probe)
    assert dead.attributes["reason"].startswith("message data is not UTF-8")
    assert len(dead.attributes["reason"].encode()) <= 1024  # Pub/Sub attribute limit
    assert dead.attributes["original_message_id"] == "42"
    assert dead.attributes["original_event"] == "underwriting.created"
    body = json.loads(dead.data)
    assert body["reason"].startswith("message data is not UTF-8") and len(body["reason"]) > 2000
    assert body["original_data"] is None  # not UTF-8 ...
    assert body["original_data_base64"] == "/25vdCBqc29u"  # ... but kept byte-exact
    assert body["original_attributes"] == {"event": "underwriting.created"}
    assert body["source_subscription"] == pubsub.underwriting_created_subscription
    pubsub.acknowledge([dead.ack_id], subscription=probe)


def test_publish_completed(pubsub_topology: PubSubResource) -> None:
    pubsub = pubsub_topology
    event = ProcessingCompleted.build(
        underwriting_id="uw_1", organization_id="org_1", run_id="run-1",
        completed=[ProcessorRef(processor_id="bank_stmt_v1", execution_id="e1")],
        failed=[ProcessorFailure(processor_id="p2", execution_id="e2", error_message="x")],
        total_execution_time=1.5,
    )
    pubsub.publish_completed(event)
    [message] = pubsub.pull(subscription=probe_subscription(pubsub.completed_topic))
    assert message.attributes == {"event": "processing.completed", "underwriting_id": "uw_1",
                                  "run_id": "run-1", "organization_id": "org_1"}
    assert json.loads(message.data) == event.to_payload()


def test_clients_are_cached_per_process_and_endpoint(
    pubsub_topology: PubSubResource, pubsub_emulator: PubSubEmulator
) -> None:
    before = dict(os.environ)
    other = PubSubResource(project_id="another", emulator_host=pubsub_emulator.host)
    assert other.clients is pubsub_topology.clients
    assert dict(os.environ) == before  # clients are pointed explicitly: env untouched
