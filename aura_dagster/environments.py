"""The one place that picks the environment: embedded default or production.

AURA_ENV=embedded (default): SQLite files under AURA_DATA_DIR (.data/), the Pub/Sub
emulator, the sandbox vendor server, documents in a local folder. Nothing to set up.
AURA_ENV=production: every endpoint and secret comes from the environment (EnvVar),
read when a run starts, never stored in Dagster's config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import EnvVar

from aura_dagster.resources.documents import DocumentSourceResource
from aura_dagster.resources.notifier import NotifierResource
from aura_dagster.resources.processors import ProcessorsResource
from aura_dagster.resources.pubsub import PubSubResource
from aura_dagster.resources.store import StoreResource
from aura_dagster.resources.warehouse import SqlWarehouseIOManager

EMBEDDED = "embedded"
PRODUCTION = "production"

# Topic and subscription names shared by the embedded default and the demo.
UNDERWRITING_CREATED_TOPIC = "underwriting-created"
UNDERWRITING_CREATED_SUBSCRIPTION = "aura-engine-underwriting-created"
DEAD_LETTER_TOPIC = "underwriting-created-dead-letter"
PROCESSING_COMPLETED_TOPIC = "processing-completed"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8787"


def current_environment() -> str:
    env = os.environ.get("AURA_ENV", EMBEDDED)
    if env not in (EMBEDDED, PRODUCTION):
        raise ValueError(f"AURA_ENV must be {EMBEDDED!r} or {PRODUCTION!r}, not {env!r}")
    return env


def data_dir() -> Path:
    return Path(os.environ.get("AURA_DATA_DIR", ".data")).resolve()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def embedded_resources() -> dict[str, Any]:
    data = data_dir()
    env = os.environ
    sandbox = env.get("AURA_SANDBOX_URL", DEFAULT_SANDBOX_URL)
    return {
        "store": StoreResource(database_url=env.get("AURA_DATABASE_URL")
                               or sqlite_url(data / "aura.db"), auto_migrate=True),
        # On PostgreSQL the warehouse tables live in their own schema, away from the store's.
        "warehouse_io_manager": SqlWarehouseIOManager(
            url=env.get("AURA_WAREHOUSE_URL") or sqlite_url(data / "warehouse.db"),
            schema_name=env.get("AURA_WAREHOUSE_SCHEMA") or None),
        "document_source": DocumentSourceResource(
            root=env.get("AURA_DOCUMENTS_ROOT") or str(data / "documents")),
        "processors": ProcessorsResource(opencorporates_base_url=sandbox, clear_base_url=sandbox),
        "pubsub": PubSubResource(
            project_id=env.get("PUBSUB_PROJECT_ID", "aura-local"),
            emulator_host=env.get("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"),
            underwriting_created_topic=env.get("AURA_UNDERWRITING_CREATED_TOPIC",
                                               UNDERWRITING_CREATED_TOPIC),
            underwriting_created_subscription=env.get("AURA_UNDERWRITING_CREATED_SUBSCRIPTION",
                                                      UNDERWRITING_CREATED_SUBSCRIPTION),
            dead_letter_topic=env.get("AURA_DEAD_LETTER_TOPIC", DEAD_LETTER_TOPIC),
            completed_topic=env.get("AURA_PROCESSING_COMPLETED_TOPIC", PROCESSING_COMPLETED_TOPIC),
        ),
        "notifier": NotifierResource(smtp_host=env.get("AURA_SMTP_HOST", ""),
                                     smtp_port=int(env.get("AURA_SMTP_PORT", "25")),
                                     recipients=env.get("AURA_NOTIFY_TO", "")),
    }


def production_resources() -> dict[str, Any]:
    warehouse: Any
    if os.environ.get("AURA_WAREHOUSE", "postgres") == "bigquery":
        # Imported only here: dagster-gcp-pandas (~0.25 s) is not needed anywhere else.
        from dagster_gcp_pandas import BigQueryPandasIOManager

        warehouse = BigQueryPandasIOManager(project=EnvVar("GCP_PROJECT"),
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
    return production_resources() if environment == PRODUCTION else embedded_resources()
