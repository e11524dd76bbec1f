"""Publisher / subscriber clients, cached per process and per endpoint.

For the emulator we hand the clients an explicit insecure gRPC channel instead of
setting PUBSUB_EMULATOR_HOST: the library reads that variable at construction time,
and mutating the process environment would redirect every other client too. An
explicit transport wins over the variable (checked with google-cloud-pubsub 2.44).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import grpc
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport


@dataclass(frozen=True)
class PubSubClients:
    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient


# Keyed by (pid, emulator host or None for Google). gRPC channels do not survive fork,
# so a forked child (multiprocess executor) builds its own.
_cache: dict[tuple[int, str | None], PubSubClients] = {}
_lock = threading.Lock()


# gRPC's default receive limit is 4 MB, and one pull of a few large messages is over it
# (ResourceExhausted, and the whole pull is lost). Pub/Sub allows 10 MB per message and
# 10 MB per publish request; the pull is bounded by `max_messages` (resources/pubsub.py).
MAX_GRPC_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_GRPC_MESSAGE_BYTES),
)


def emulator_channel(emulator_host: str) -> grpc.Channel:
    """An insecure channel to the emulator with Pub/Sub-sized message limits."""
    return grpc.insecure_channel(emulator_host, options=list(CHANNEL_OPTIONS))


def _build(emulator_host: str | None) -> PubSubClients:
    if emulator_host:
        return PubSubClients(
            publisher=pubsub_v1.PublisherClient(
                transport=PublisherGrpcTransport(channel=emulator_channel(emulator_host))
            ),
            subscriber=pubsub_v1.SubscriberClient(
                transport=SubscriberGrpcTransport(channel=emulator_channel(emulator_host))
            ),
        )
    # Production: application default credentials.
    return PubSubClients(publisher=pubsub_v1.PublisherClient(),
                         subscriber=pubsub_v1.SubscriberClient())


def get_clients(emulator_host: str | None = None) -> PubSubClients:
    """The process-wide clients for Google Pub/Sub, or for the emulator at `emulator_host`."""
    key = (os.getpid(), emulator_host or None)
    clients = _cache.get(key)
    if clients is not None:
        return clients
    with _lock:
        clients = _cache.get(key)
        if clients is None:
            clients = _build(emulator_host)
            _cache[key] = clients
        return clients
