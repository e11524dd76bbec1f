"""Storage fixtures: a migrated `Database` on SQLite and on PostgreSQL for every test.

Migrating per test would dominate the suite's time, so each backend is migrated once per
session: SQLite into a template file copied per test, PostgreSQL into one database whose
tables are truncated before each test. Migration tests themselves use fresh databases.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from aura_dagster.storage import Database, Stores
from aura_dagster.storage.schema import metadata


class FakeBankStatement:
    PROCESSOR_ID = "p_bank_statement"
    NAME = "Bank statements"
    VERSION = "1.2.0"
    REQUIRED_DOCUMENT_TYPES: ClassVar[frozenset[str]] = frozenset({"bank_statement"})
    API_POOL = None
    CONFIG: ClassVar[dict[str, Any]] = {
        "timeout_seconds": 60.0, "cost_cents": 50,
        "thresholds": {"nsf_max": 3, "min_balance": 1000, "weights": {"a": 1, "b": 2}},
        "lookback_months": 6,
    }


class FakeSecretaryOfState:
    PROCESSOR_ID = "p_secretary_of_state"
    NAME = "Secretary of State"
    VERSION = "0.3.1"
    REQUIRED_DOCUMENT_TYPES: ClassVar[frozenset[str]] = frozenset()
    API_POOL = "opencorporates"
    CONFIG: ClassVar[dict[str, Any]] = {"timeout_seconds": 30.0, "cost_cents": 25}


class FakeTaxReturn:
    PROCESSOR_ID = "p_tax_return"
    NAME = "Tax returns"
    VERSION = "2.0.0"
    REQUIRED_DOCUMENT_TYPES: ClassVar[frozenset[str]] = frozenset({"tax_return"})
    API_POOL = None
    CONFIG: ClassVar[dict[str, Any]] = {"timeout_seconds": 60.0, "cost_cents": 0}


CATALOG = {cls.PROCESSOR_ID: cls for cls in (FakeBankStatement, FakeSecretaryOfState,
                                             FakeTaxReturn)}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite_template") / "aura.sqlite3"
    db = Database(f"sqlite+pysqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_migrated_url(postgres_databases: Any) -> str:
    url: str = postgres_databases.create("aura_storage")
    db = Database(url)
    db.upgrade()
    db.dispose()
    return url


def _truncate_all(db: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL for this test on the chosen backend."""
    if backend == "sqlite":
        target = tmp_path / "aura.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+pysqlite:///{target}"
    url: str = request.getfixturevalue("postgres_migrated_url")
    db = Database(url)
    _truncate_all(db)
    db.dispose()
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def stores(db: Database) -> Stores:
    return Stores(db, catalog=CATALOG)


@pytest.fixture
def provisioned(stores: Stores) -> dict[str, Any]:
    """org_1 bought bank statements (nested config) and secretary of state; uw_1 provisioned."""
    stores.underwritings.upsert_underwriting("uw_1", "org_1", "Acme LLC", "CA")
    bank = stores.processors.create_purchased_processor(
        "org_1", "p_bank_statement", config={"thresholds": {"nsf_max": 5}}, price_amount=50)
    sos = stores.processors.create_purchased_processor("org_1", "p_secretary_of_state",
                                                       auto=False)
    ups = stores.processors.provision_underwriting_processors("uw_1", "org_1")
    by_processor = {up["processor"]: up for up in ups}
    return {"bank_purchase": bank, "sos_purchase": sos,
            "bank_up": by_processor["p_bank_statement"],
            "sos_up": by_processor["p_secretary_of_state"]}
