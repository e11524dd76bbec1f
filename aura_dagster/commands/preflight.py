"""What a command checks before it claims anything or changes state.

Each check turns a missing or unreachable part into a `CommandError` that says what is
wrong and how to fix it, instead of a traceback halfway through (or an empty store created
on the way).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from aura_dagster.services.organizations import known_organization
from aura_dagster.settings import Settings
from aura_dagster.storage import Stores

START_HINT = ("start the engine with `aura-dagster demo --keep` (it writes "
              "<data dir>/stack.json), or set the variable in this shell")


class CommandError(Exception):
    """A command cannot run: the message says why and what to do."""


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def open_store(settings: Settings) -> Stores:
    """The engine's store, never a new empty one: a missing SQLite file or an unreachable or
    unmigrated database is an error."""
    from aura_dagster.resources.store import open_stores

    path = settings.store_path
    if path is not None and not path.is_file():
        raise CommandError(f"no store at {path} (data dir {settings.data_dir}): "
                           f"{START_HINT} (AURA_DATA_DIR or AURA_DATABASE_URL)")
    stores = open_stores(settings.store_url)
    if not stores.db.health_check():
        raise CommandError(f"the store {_redacted(settings.store_url)} is not reachable")
    if stores.db.current_revision() is None:
        raise CommandError(f"the store {_redacted(settings.store_url)} has no schema: "
                           "run `python -m aura_dagster.storage upgrade` first")
    return stores


def require_known_organization(stores: Stores, organization_id: str) -> None:
    """A mistyped --org is an error, not an empty answer."""
    if not known_organization(stores, organization_id):
        raise CommandError(f"organization {organization_id!r} is not known")


def load_instance(settings: Settings) -> Any:  # DagsterInstance
    """The engine's Dagster instance (DAGSTER_HOME, else the running stack's)."""
    from dagster import DagsterInstance

    home = settings.dagster_home
    if home is None:
        raise CommandError(f"DAGSTER_HOME is not set and no running stack was found in "
                           f"{settings.data_dir}: {START_HINT} (DAGSTER_HOME)")
    home = Path(home)
    if not home.is_dir():
        raise CommandError(f"DAGSTER_HOME {home} does not exist")
    try:
        return DagsterInstance.from_config(str(home))
    except Exception as exc:
        raise CommandError(f"the Dagster instance in {home} does not load: "
                           f"{type(exc).__name__}: {exc}") from exc


def check_pubsub(settings: Settings, timeout: float = 5.0) -> None:
    """Pub/Sub answers and has the processing.completed topic the resumed run publishes to."""
    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1

    from aura_dagster.pubsub.clients import get_clients

    where = settings.emulator_host or "Google Pub/Sub"
    topic = pubsub_v1.PublisherClient.topic_path(settings.pubsub_project_id,
                                                 settings.processing_completed_topic)
    if settings.emulator_host:
        # gRPC waits for a closed port to open (retrying UNAVAILABLE): ask TCP first.
        host, _, port = settings.emulator_host.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except (OSError, ValueError):
            raise CommandError(f"Pub/Sub at {where} is not reachable: "
                               f"{START_HINT} (PUBSUB_EMULATOR_HOST)") from None
    try:
        get_clients(settings.emulator_host).publisher.get_topic(
            request={"topic": topic}, timeout=timeout, retry=None)
    except gexc.NotFound:
        raise CommandError(f"Pub/Sub at {where} has no topic {topic}") from None
    except Exception as exc:
        raise CommandError(f"Pub/Sub at {where} is not reachable ({type(exc).__name__}): "
                           f"{START_HINT} (PUBSUB_EMULATOR_HOST)") from None
