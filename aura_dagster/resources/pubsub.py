"""Pub/Sub as a Dagster resource: pull / ack / extend for the sensor, publish for ops.

Production wiring:

    PubSubResource(project_id=EnvVar("GOOGLE_CLOUD_PROJECT"),
                   emulator_host=EnvVar("PUBSUB_EMULATOR_HOST"))   # unset in production

Clients are cached per process and endpoint (see aura_dagster.pubsub.clients), so a
resource rebuilt on every sensor tick reuses the same gRPC channels.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource
from pydantic import Field

from aura_dagster.domain.events import (
    EVENT_ATTRIBUTE,
    PROCESSING_COMPLETED,
    ProcessingCompleted,
)

# google-cloud-pubsub (~0.3 s) is imported where it is used, not by `import definitions`.
if TYPE_CHECKING:
    from aura_dagster.pubsub.clients import PubSubClients

log = logging.getLogger(__name__)

MAX_ACK_DEADLINE_SECONDS = 600  # Pub/Sub's limit for modifyAckDeadline
_ACK_BATCH = 1000  # stay well under the request size limit for ack / modack
_ATTRIBUTE_VALUE_LIMIT = 1024  # bytes, Pub/Sub's limit for one attribute value
_DEAD_LETTER_BODY_LIMIT = 2 * 1024 * 1024  # text + base64 of it stay well under 10 MB
_DEAD_LETTER_KEEP_BYTES = 64 * 1024  # what is kept of a body over that limit


@dataclass(frozen=True)
class ReceivedMessage:
    """A pulled message, decoupled from the protobuf types."""

    ack_id: str
    message_id: str
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    publish_time: datetime | None = None
    delivery_attempt: int = 0


def _truncate_attribute(value: str) -> str:
    encoded = value.encode("utf-8")
    if len(encoded) <= _ATTRIBUTE_VALUE_LIMIT:
        return value
    return encoded[: _ATTRIBUTE_VALUE_LIMIT - 3].decode("utf-8", errors="ignore") + "..."


def dead_letter_payload(
    original: ReceivedMessage, reason: str, source_subscription: str
) -> dict[str, Any]:
    """Body of a dead-letter message: the reason and the original message, byte-exact up to
    `_DEAD_LETTER_BODY_LIMIT` (a larger body is cut, with its size and sha256 kept, so the
    dead letter itself stays under Pub/Sub's 10 MB and can always be published)."""
    data = original.data
    truncated = len(data) > _DEAD_LETTER_BODY_LIMIT
    if truncated:
        data = data[:_DEAD_LETTER_KEEP_BYTES]
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "reason": reason,
        "source_subscription": source_subscription,
        "dead_lettered_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "original_message_id": original.message_id,
        "original_publish_time": (
            original.publish_time.isoformat() if original.publish_time else None
        ),
        "original_attributes": dict(original.attributes),
        "original_data": text,  # null when the bytes are not UTF-8
        "original_data_base64": base64.b64encode(data).decode("ascii"),
        "original_size_bytes": len(original.data),
        "original_sha256": hashlib.sha256(original.data).hexdigest(),
        "original_truncated": truncated,
    }


class PubSubResource(ConfigurableResource):
    """Google Pub/Sub (or its emulator when `emulator_host` is set)."""

    project_id: str = Field(description="Google Cloud project that owns the topics.")
    emulator_host: str | None = Field(
        default=None,
        description="host:port of the Pub/Sub emulator (PUBSUB_EMULATOR_HOST); None = Google.",
    )
    underwriting_created_topic: str = Field(
        default="underwriting.created",
        description="Topic the platform publishes underwriting.created on (ensure_topology).",
    )
    underwriting_created_subscription: str = Field(
        default="aura-dagster.underwriting-created",
        description="Pull subscription the sensor reads underwriting.created from.",
    )
    dead_letter_topic: str = Field(
        default="underwriting.created.dead-letter",
        description="Where malformed underwriting.created messages go, with the reason.",
    )
    completed_topic: str = Field(
        default="processing.completed", description="Topic for processing.completed."
    )
    max_messages: int = Field(default=100, ge=1, le=1000, description="Messages per pull.")
    pull_timeout_seconds: float = Field(
        default=2.0, gt=0,
        description="Longest a pull waits for messages (it returns as soon as some arrive).",
    )
    listen_seconds: float = Field(
        default=2.5, ge=0,
        description=(
            "How long one sensor tick keeps pulling while nothing arrives. Dagster's "
            "sensor daemon evaluates sensors at most every 5 s whatever "
            "minimum_interval_seconds says, so listening for part of that window is what "
            "brings publish -> run down to well under a second. 0 = a single pull."
        ),
    )
    ack_extension_seconds: int = Field(
        default=60, ge=10, le=MAX_ACK_DEADLINE_SECONDS,
        description="Lease the sensor puts on a message it holds until its run exists.",
    )
    subscription_ack_deadline_seconds: int = Field(
        default=30, ge=10, le=MAX_ACK_DEADLINE_SECONDS,
        description="Ack deadline given to subscriptions created by ensure_topology().",
    )
    publish_timeout_seconds: float = Field(default=30.0, gt=0)

    # --- clients and names --------------------------------------------------------

    @property
    def clients(self) -> PubSubClients:
        from aura_dagster.pubsub.clients import get_clients

        return get_clients(self.emulator_host)

    def topic_path(self, topic: str) -> str:
        from google.cloud import pubsub_v1

        return pubsub_v1.PublisherClient.topic_path(self.project_id, topic)

    @property
    def subscription_path(self) -> str:
        from google.cloud import pubsub_v1

        return pubsub_v1.SubscriberClient.subscription_path(
            self.project_id, self.underwriting_created_subscription
        )

    def ensure_topology(self) -> None:
        """Create the topics and the subscription if missing (demo, tests, local runs)."""
        from aura_dagster.pubsub.admin import ensure_subscription, ensure_topic

        publisher, subscriber = self.clients.publisher, self.clients.subscriber
        for topic in (self.underwriting_created_topic, self.dead_letter_topic,
                      self.completed_topic):
            ensure_topic(publisher, self.project_id, topic)
        ensure_subscription(
            subscriber, self.project_id, self.underwriting_created_subscription,
            self.underwriting_created_topic,
            ack_deadline_seconds=self.subscription_ack_deadline_seconds,
        )

    # --- consuming ----------------------------------------------------------------

    def pull(
        self,
        max_messages: int | None = None,
        timeout: float | None = None,
        *,
        subscription: str | None = None,
        return_immediately: bool = False,
    ) -> list[ReceivedMessage]:
        """One synchronous pull from `subscription` (default: the underwriting.created one).

        Waits at most `timeout` seconds; an empty subscription gives an empty list.
        `return_immediately` is deprecated by Google (may miss available messages) but
        handy in tests that want to assert "nothing there" quickly. An unreachable Pub/Sub
        raises once `timeout` has passed (google.api_core RetryError): the client's default
        retry would keep trying for a minute, and a daemon asked to stop waits for the
        sensor tick in that call.
        """
        from google.api_core import exceptions as gexc
        from google.api_core import retry as gretry
        from google.cloud import pubsub_v1

        path = (
            pubsub_v1.SubscriberClient.subscription_path(self.project_id, subscription)
            if subscription else self.subscription_path
        )
        request: dict[str, Any] = {
            "subscription": path,
            "max_messages": max_messages or self.max_messages,
        }
        if return_immediately:
            request["return_immediately"] = True
        wait = timeout or self.pull_timeout_seconds
        # The client's default retry of a pull (the same errors), kept within `wait`.
        retry = gretry.Retry(initial=0.1, maximum=1.0, multiplier=1.3, timeout=wait,
                             predicate=gretry.if_exception_type(
                                 gexc.Aborted, gexc.InternalServerError,
                                 gexc.ServiceUnavailable, gexc.Unknown))
        while True:
            try:
                response = self.clients.subscriber.pull(request=request, timeout=wait,
                                                        retry=retry)
                break
            except gexc.DeadlineExceeded:
                return []
            except gexc.ResourceExhausted as exc:
                # The response was over the channel's size limit (large messages): ask for
                # fewer. The lost response's messages come back after their ack deadline.
                if request["max_messages"] <= 1:
                    raise
                request["max_messages"] = max(1, request["max_messages"] // 4)
                log.warning("pull response too large (%s); pulling %d at a time",
                            exc.message, request["max_messages"])
        return [
            ReceivedMessage(
                ack_id=received.ack_id,
                message_id=received.message.message_id,
                data=bytes(received.message.data),
                attributes=dict(received.message.attributes),
                publish_time=received.message.publish_time,
                delivery_attempt=received.delivery_attempt,
            )
            for received in response.received_messages
        ]

    def pull_waiting(self, listen_seconds: float | None = None) -> list[ReceivedMessage]:
        """Pull until some messages arrive or `listen_seconds` have passed.

        Every pull gets the full `pull_timeout_seconds` (a pull cut short by the client can
        leave messages leased to nobody until their ack deadline), so a call may last up to
        listen_seconds + pull_timeout_seconds.
        """
        listen = self.listen_seconds if listen_seconds is None else listen_seconds
        deadline = time.monotonic() + listen
        while True:
            messages = self.pull()
            if messages or time.monotonic() >= deadline:
                return messages

    def acknowledge(self, ack_ids: Sequence[str], *, subscription: str | None = None) -> None:
        self._for_ack_ids(ack_ids, subscription, deadline=None)

    def extend(
        self, ack_ids: Sequence[str], seconds: int | None = None, *,
        subscription: str | None = None,
    ) -> None:
        """Push the ack deadline of held messages `seconds` from now (0 = redeliver now)."""
        seconds = self.ack_extension_seconds if seconds is None else seconds
        self._for_ack_ids(ack_ids, subscription,
                          deadline=max(0, min(seconds, MAX_ACK_DEADLINE_SECONDS)))

    def _for_ack_ids(
        self, ack_ids: Sequence[str], subscription: str | None, *, deadline: int | None
    ) -> None:
        """Ack (deadline None) or modify the deadline of `ack_ids`, in batches.

        One invalid ack id fails a whole batch (INVALID_ARGUMENT); then the batch is
        retried id by id so the valid ones still go through, and the invalid ones are
        logged and dropped (an invalid id can only come from a stale cursor).
        """
        from google.api_core import exceptions as gexc
        from google.cloud import pubsub_v1

        path = (
            pubsub_v1.SubscriberClient.subscription_path(self.project_id, subscription)
            if subscription else self.subscription_path
        )
        ids = list(dict.fromkeys(ack_ids))  # de-duplicated, order kept
        for start in range(0, len(ids), _ACK_BATCH):
            batch = ids[start:start + _ACK_BATCH]
            try:
                self._ack_call(path, batch, deadline)
            except gexc.InvalidArgument:
                for ack_id in batch:
                    try:
                        self._ack_call(path, [ack_id], deadline)
                    except gexc.InvalidArgument as exc:
                        log.warning("dropping invalid ack id %.40s...: %s", ack_id, exc)

    def _ack_call(self, path: str, ack_ids: list[str], deadline: int | None) -> None:
        subscriber = self.clients.subscriber
        if deadline is None:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": ack_ids})
        else:
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": ack_ids,
                         "ack_deadline_seconds": deadline}
            )

    # --- producing ----------------------------------------------------------------

    def publish(
        self, topic: str, payload: Mapping[str, Any] | bytes,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """Publish JSON (or raw bytes) to `topic` and wait until the server accepted it."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        future = self.clients.publisher.publish(
            self.topic_path(topic), data, **dict(attributes or {})
        )
        return str(future.result(timeout=self.publish_timeout_seconds))

    def publish_dead_letter(self, original: ReceivedMessage, reason: str) -> str:
        attributes = {
            "reason": _truncate_attribute(reason),
            "original_message_id": original.message_id,
            "source_subscription": self.underwriting_created_subscription,
        }
        if EVENT_ATTRIBUTE in original.attributes:
            attributes["original_event"] = _truncate_attribute(
                original.attributes[EVENT_ATTRIBUTE]
            )
        return self.publish(
            self.dead_letter_topic,
            dead_letter_payload(original, reason, self.underwriting_created_subscription),
            attributes,
        )

    def publish_completed(self, event: ProcessingCompleted) -> str:
        attributes = {EVENT_ATTRIBUTE: PROCESSING_COMPLETED,
                      "underwriting_id": event.underwriting_id, "run_id": event.run_id}
        if event.organization_id:
            attributes["organization_id"] = event.organization_id
        return self.publish(self.completed_topic, event.to_payload(), attributes)
