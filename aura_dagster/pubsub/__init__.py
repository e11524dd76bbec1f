"""Google Pub/Sub plumbing without Dagster: clients, topology helpers and the local emulator."""

from aura_dagster.pubsub.admin import (
    delete_subscription,
    delete_topic,
    ensure_subscription,
    ensure_topic,
)
from aura_dagster.pubsub.clients import PubSubClients, get_clients
from aura_dagster.pubsub.emulator import EMULATOR_SCRIPT, PubSubEmulator, PubSubEmulatorError

__all__ = [
    "EMULATOR_SCRIPT",
    "PubSubClients",
    "PubSubEmulator",
    "PubSubEmulatorError",
    "delete_subscription",
    "delete_topic",
    "ensure_subscription",
    "ensure_topic",
    "get_clients",
]
