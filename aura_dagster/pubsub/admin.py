"""Idempotent topic / subscription management (demo, tests, local set-up).

Production topics and subscriptions are provisioned outside this engine.
"""

from __future__ import annotations

import contextlib

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

_ADMIN_TIMEOUT = 10.0  # seconds; admin calls are rare and should fail loudly, not hang


def ensure_topic(publisher: pubsub_v1.PublisherClient, project_id: str, topic: str) -> str:
    """Create the topic if missing; return its path."""
    path = publisher.topic_path(project_id, topic)
    with contextlib.suppress(gexc.AlreadyExists):
        publisher.create_topic(request={"name": path}, timeout=_ADMIN_TIMEOUT)
    return path


def ensure_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    project_id: str,
    subscription: str,
    topic: str,
    *,
    ack_deadline_seconds: int = 30,
) -> str:
    """Create a pull subscription on `topic` if missing; return its path.

    An existing subscription is left as it is (its ack deadline is not changed).
    """
    path = subscriber.subscription_path(project_id, subscription)
    topic_path = pubsub_v1.PublisherClient.topic_path(project_id, topic)
    with contextlib.suppress(gexc.AlreadyExists):
        subscriber.create_subscription(
            request={
                "name": path,
                "topic": topic_path,
                "ack_deadline_seconds": ack_deadline_seconds,
            },
            timeout=_ADMIN_TIMEOUT,
        )
    return path


def delete_topic(publisher: pubsub_v1.PublisherClient, project_id: str, topic: str) -> None:
    with contextlib.suppress(gexc.NotFound):
        publisher.delete_topic(
            request={"topic": publisher.topic_path(project_id, topic)}, timeout=_ADMIN_TIMEOUT
        )


def delete_subscription(
    subscriber: pubsub_v1.SubscriberClient, project_id: str, subscription: str
) -> None:
    with contextlib.suppress(gexc.NotFound):
        subscriber.delete_subscription(
            request={"subscription": subscriber.subscription_path(project_id, subscription)},
            timeout=_ADMIN_TIMEOUT,
        )
