"""The one place that picks the environment: embedded default or production.

AURA_ENV=embedded (default): SQLite files under AURA_DATA_DIR (.data/), the Pub/Sub
emulator, the sandbox vendor server, documents in a local folder. Nothing to set up.
Values come from aura_dagster.settings; whatever the environment sets is referenced
through EnvVar, so the launchpad and run configs never carry it (database URLs included).
AURA_ENV=production: every endpoint and secret comes from the environment (EnvVar),
read when a run starts, never stored in Dagster's config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import EnvVar

from aura_dagster.resources.documents import DocumentSourceResource
from aura_dagster.resources.notifier import NotifierResource
from aura_dagster.resources.processors import ProcessorsResource
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.resources.warehouse import SqlWarehouseIOManager
from aura_dagster.settings import (  # noqa: F401  (re-exported: older imports use these)
    DEAD_LETTER_TOPIC,
    DEFAULT_SANDBOX_URL,
    EMBEDDED,
    PROCESSING_COMPLETED_TOPIC,
    PRODUCTION,
    UNDERWRITING_CREATED_SUBSCRIPTION,
    UNDERWRITING_CREATED_TOPIC,
    Settings,
    SettingsError,
    load_settings,
    sqlite_url,
)


def current_environment() -> str:
    try:
        return load_settings(use_stack=False).environment
    except SettingsError as exc:
        raise ValueError(str(exc)) from None


def data_dir() -> Path:
    return load_settings(use_stack=False).data_dir


def embedded_resources(settings: Settings | None = None, *,
                       env_vars: bool = True) -> dict[str, Any]:
    """The embedded default's resources. With `env_vars` (what Dagster loads), a value the
    environment set is an EnvVar, resolved when a run starts, so it never shows in the
    launchpad or a run's config; defaults (local paths and ports) are plain values.
    `env_vars=False` gives plain values throughout, for code that uses the resources
    directly, outside a run (the local stack, tests)."""
    s = settings or load_settings()

    def _from_env(settings: Settings, field: str, value: Any) -> Any:
        name = settings.env_name(field) if env_vars else None
        if name is None:
            return value
        return EnvVar.int(name) if isinstance(value, int) else EnvVar(name)

    sandbox = _from_env(s, "sandbox_url", s.sandbox_url)
    return {
        "store": StoreResource(database_url=_from_env(s, "database_url", s.store_url),
                               auto_migrate=True),
        # On PostgreSQL the warehouse tables live in their own schema, away from the store's.
        "warehouse_io_manager": SqlWarehouseIOManager(
            url=_from_env(s, "warehouse_url", s.warehouse_store_url),
            schema_name=_from_env(s, "warehouse_schema", s.warehouse_schema)),
        "document_source": DocumentSourceResource(
            root=_from_env(s, "documents_root", s.documents_path)),
        "processors": ProcessorsResource(opencorporates_base_url=sandbox, clear_base_url=sandbox),
        "pubsub": PubSubResource(
            project_id=_from_env(s, "pubsub_project_id", s.pubsub_project_id),
            emulator_host=_from_env(s, "pubsub_emulator_host", s.emulator_host),
            underwriting_created_topic=_from_env(s, "underwriting_created_topic",
                                                 s.underwriting_created_topic),
            underwriting_created_subscription=_from_env(
                s, "underwriting_created_subscription", s.underwriting_created_subscription),
            dead_letter_topic=_from_env(s, "dead_letter_topic", s.dead_letter_topic),
            completed_topic=_from_env(s, "processing_completed_topic",
                                      s.processing_completed_topic),
        ),
        "notifier": NotifierResource(smtp_host=_from_env(s, "smtp_host", s.smtp_host),
                                     smtp_port=_from_env(s, "smtp_port", s.smtp_port),
                                     recipients=_from_env(s, "notify_to", s.notify_to)),
    }


def production_resources() -> dict[str, Any]:
    warehouse: Any
    if load_settings(use_stack=False).warehouse == "bigquery":
        from aura_dagster.resources.bigquery_warehouse import BigQueryWarehouseIOManager

        warehouse = BigQueryWarehouseIOManager(project=EnvVar("GCP_PROJECT"),
                                               dataset=EnvVar("AURA_BIGQUERY_DATASET"))
    else:
        warehouse = SqlWarehouseIOManager(url=EnvVar("AURA_DATABASE_URL"),
                                          schema_name="warehouse")
    return {
        "store": StoreResource(database_url=EnvVar("AURA_DATABASE_URL")),
        "warehouse_io_manager": warehouse,
        "document_source": DocumentSourceResource(root=EnvVar("AURA_DOCUMENTS_ROOT")),
        "processors": ProcessorsResource(
            opencorporates_base_url=EnvVar("AURA_OPENCORPORATES_BASE_URL"),
            opencorporates_api_key=EnvVar("AURA_OPENCORPORATES_API_KEY"),
            clear_base_url=EnvVar("AURA_CLEAR_BASE_URL"),
            clear_api_key=EnvVar("AURA_CLEAR_API_KEY"),
        ),
        "pubsub": PubSubResource(
            project_id=EnvVar("GCP_PROJECT"),
            underwriting_created_topic=EnvVar("AURA_UNDERWRITING_CREATED_TOPIC"),
            underwriting_created_subscription=EnvVar("AURA_UNDERWRITING_CREATED_SUBSCRIPTION"),
            dead_letter_topic=EnvVar("AURA_DEAD_LETTER_TOPIC"),
            completed_topic=EnvVar("AURA_PROCESSING_COMPLETED_TOPIC"),
        ),
        "notifier": NotifierResource(smtp_host=EnvVar("AURA_SMTP_HOST"),
                                     smtp_port=EnvVar.int("AURA_SMTP_PORT"),
                                     recipients=EnvVar("AURA_NOTIFY_TO")),
    }


def resources_for(environment: str | None = None) -> dict[str, Any]:
    environment = environment or current_environment()
    if environment == PRODUCTION:
        return production_resources()
    return embedded_resources()
