"""The one place that reads the environment: typed settings for the engine and every command.

Precedence, field by field: an environment variable, else the running local stack's state
file (`<data dir>/stack.json`, written by `aura-dagster demo` while its stack runs), else
the embedded default. So `aura-dagster approve|reject|review list|status`, typed in another
shell with nothing set, finds the same store, Pub/Sub emulator and Dagster home as the
engine the stack started. `domain/` and `storage/` never read the environment: they are
handed values from here.

No Dagster import: the storage CLI and plain-Python services use this too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

EMBEDDED = "embedded"
PRODUCTION = "production"

STACK_FILE = "stack.json"
STORE_FILE = "aura.db"
WAREHOUSE_FILE = "warehouse.db"

# Topic and subscription names shared by the embedded default and the demo.
UNDERWRITING_CREATED_TOPIC = "underwriting-created"
UNDERWRITING_CREATED_SUBSCRIPTION = "aura-engine-underwriting-created"
DEAD_LETTER_TOPIC = "underwriting-created-dead-letter"
PROCESSING_COMPLETED_TOPIC = "processing-completed"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8787"
DEFAULT_EMULATOR_HOST = "127.0.0.1:8085"
DEFAULT_PUBSUB_PROJECT = "aura-local"


class SettingsError(ValueError):
    """The environment (or the stack state file) holds a value that cannot be used."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class StackState(BaseModel):
    """What a running local stack tells the commands typed in other shells."""

    model_config = ConfigDict(extra="ignore")

    pid: int
    data_dir: str
    dagster_home: str
    pubsub_emulator_host: str
    pubsub_project_id: str
    database_url: str
    sandbox_url: str | None = None
    webserver_url: str | None = None

    def write(self, data_dir: Path) -> Path:
        path = data_dir / STACK_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)  # readers never see half a file
        return path

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's live process
            return True
        return True


def read_stack_state(data_dir: Path) -> StackState | None:
    """The state file of a stack that is still running, else None (absent, stale, garbled)."""
    path = data_dir / STACK_FILE
    try:
        state = StackState.model_validate_json(path.read_text())
    except (OSError, ValidationError):
        return None
    return state if state.alive else None


# Environment variable -> settings field.
ENV_FIELDS: dict[str, str] = {
    "AURA_ENV": "environment",
    "AURA_DATA_DIR": "data_dir",
    "DAGSTER_HOME": "dagster_home",
    "AURA_DATABASE_URL": "database_url",
    "AURA_WAREHOUSE": "warehouse",
    "AURA_WAREHOUSE_URL": "warehouse_url",
    "AURA_WAREHOUSE_SCHEMA": "warehouse_schema",
    "AURA_DOCUMENTS_ROOT": "documents_root",
    "AURA_SANDBOX_URL": "sandbox_url",
    "PUBSUB_EMULATOR_HOST": "pubsub_emulator_host",
    "PUBSUB_PROJECT_ID": "pubsub_project_id",
    "AURA_UNDERWRITING_CREATED_TOPIC": "underwriting_created_topic",
    "AURA_UNDERWRITING_CREATED_SUBSCRIPTION": "underwriting_created_subscription",
    "AURA_DEAD_LETTER_TOPIC": "dead_letter_topic",
    "AURA_PROCESSING_COMPLETED_TOPIC": "processing_completed_topic",
    "AURA_SMTP_HOST": "smtp_host",
    "AURA_SMTP_PORT": "smtp_port",
    "AURA_NOTIFY_TO": "notify_to",
    "AURA_WEBSERVER_PORT": "webserver_port",
}
FIELD_ENV = {field: env for env, field in ENV_FIELDS.items()}


class Settings(BaseModel):
    """Resolved settings. `from_sources` records which fields came from the environment (the
    engine references those through Dagster's EnvVar, so their values stay out of its config)."""

    model_config = ConfigDict(frozen=True)

    environment: Literal["embedded", "production"] = EMBEDDED
    data_dir: Path
    dagster_home: Path | None = None
    database_url: str | None = None
    warehouse: Literal["postgres", "bigquery"] = "postgres"
    warehouse_url: str | None = None
    warehouse_schema: str | None = None
    documents_root: str | None = None
    sandbox_url: str = DEFAULT_SANDBOX_URL
    pubsub_emulator_host: str | None = None
    pubsub_project_id: str = DEFAULT_PUBSUB_PROJECT
    underwriting_created_topic: str = UNDERWRITING_CREATED_TOPIC
    underwriting_created_subscription: str = UNDERWRITING_CREATED_SUBSCRIPTION
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    processing_completed_topic: str = PROCESSING_COMPLETED_TOPIC
    smtp_host: str = ""
    smtp_port: int = 25
    notify_to: str = ""
    webserver_port: int = 3000
    stack: StackState | None = None
    from_env: frozenset[str] = Field(default_factory=frozenset)

    # -- derived ---------------------------------------------------------------------------
    @property
    def store_url(self) -> str:
        """The operational store: AURA_DATABASE_URL, else the SQLite file in the data dir."""
        return self.database_url or sqlite_url(self.data_dir / STORE_FILE)

    @property
    def store_path(self) -> Path | None:
        """The SQLite file behind the store, when it is one."""
        url = self.store_url
        return Path(url.split(":///", 1)[1]) if url.startswith("sqlite") else None

    @property
    def warehouse_store_url(self) -> str:
        return self.warehouse_url or sqlite_url(self.data_dir / WAREHOUSE_FILE)

    @property
    def documents_path(self) -> str:
        return self.documents_root or str(self.data_dir / "documents")

    @property
    def emulator_host(self) -> str | None:
        """Where Pub/Sub is: the emulator (embedded default 127.0.0.1:8085) or Google (None)."""
        if self.pubsub_emulator_host:
            return self.pubsub_emulator_host
        return DEFAULT_EMULATOR_HOST if self.environment == EMBEDDED else None

    def env_name(self, field: str) -> str | None:
        """The variable that set `field`, when the environment did."""
        name = FIELD_ENV.get(field)
        return name if name in self.from_env else None

    def environ(self) -> dict[str, str]:
        """These settings as environment variables for child processes (daemon, runs)."""
        values = {
            "AURA_ENV": self.environment, "AURA_DATA_DIR": str(self.data_dir),
            "AURA_DATABASE_URL": self.store_url,
            "AURA_WAREHOUSE_URL": self.warehouse_store_url,
            "AURA_DOCUMENTS_ROOT": self.documents_path,
            "PUBSUB_PROJECT_ID": self.pubsub_project_id,
            "AURA_SANDBOX_URL": self.sandbox_url,
        }
        if self.warehouse_schema:
            values["AURA_WAREHOUSE_SCHEMA"] = self.warehouse_schema
        if self.dagster_home is not None:
            values["DAGSTER_HOME"] = str(self.dagster_home)
        if self.emulator_host:
            values["PUBSUB_EMULATOR_HOST"] = self.emulator_host
        return values


def load_settings(environ: Mapping[str, str] | None = None, *,
                  use_stack: bool = True) -> Settings:
    """Settings from `environ` (default os.environ), then the running stack's state file."""
    env = os.environ if environ is None else environ
    environment = env.get("AURA_ENV") or EMBEDDED
    if environment not in (EMBEDDED, PRODUCTION):
        raise SettingsError(
            f"AURA_ENV must be {EMBEDDED!r} or {PRODUCTION!r}, not {environment!r}")
    values: dict[str, Any] = {}
    for name, field in ENV_FIELDS.items():
        value = env.get(name)
        if value not in (None, ""):
            values[field] = value
    from_env = frozenset(name for name in ENV_FIELDS if env.get(name) not in (None, ""))
    data_dir = Path(values.get("data_dir") or Path.cwd() / ".data").resolve()
    values["data_dir"] = data_dir
    stack = read_stack_state(data_dir) if use_stack else None
    if stack is not None:
        for field, value in (("dagster_home", stack.dagster_home),
                             ("pubsub_emulator_host", stack.pubsub_emulator_host),
                             ("pubsub_project_id", stack.pubsub_project_id),
                             ("database_url", stack.database_url),
                             ("sandbox_url", stack.sandbox_url)):
            if value and field not in values:
                values[field] = value
    try:
        return Settings(**values, stack=stack, from_env=from_env)
    except ValidationError as exc:
        problems = "; ".join(
            f"{FIELD_ENV.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None

