"""The data team's view, on a demo-sized store made by real runs (SQLite and PostgreSQL):
every SQL query and pandas example of the README's "Querying the factors" section runs as
written and returns rows; the factor matrix equals the long table; produced factors are the
declared ones; materializations carry row counts, the organization and business, and the
provenance links; ids have one form across the store, the warehouse, events and the UI."""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterEventType, DagsterInstance, JobExecutionResult

from aura_dagster.assets.catalog import catalog
from aura_dagster.definitions import build_definitions
from aura_dagster.demo_cases import ACME, build_demo_cases
from aura_dagster.domain.factor_dictionary import factor_dictionary
from aura_dagster.domain.factors import FactorSpec, value_matches
from aura_dagster.environments import embedded_resources
from aura_dagster.pubsub import PubSubEmulator
from aura_dagster.resources.store import open_stores
from aura_dagster.sandbox import SandboxServer
from aura_dagster.storage import Stores
from aura_dagster.tags import JOB_NAME, ORGANIZATION_ID_TAG
from aura_dagster_tests.conftest import PostgresDatabases

README = Path(__file__).resolve().parents[1] / "README.md"
# The demo's five underwritings are registered; two run (every processor, the classifier).
RUN_CASES = ("uw_demo_1001", "uw_demo_1002")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DICTIONARY = {e.name: e for e in factor_dictionary()}


@dataclass
class DemoStore:
    backend: str
    workdir: Path  # holds .data/ like the demo's working directory
    store_url: str
    warehouse_url: str  # PostgreSQL: the same database, search_path = warehouse
    stores: Stores
    instance: DagsterInstance
    runs: dict[str, list[JobExecutionResult]]

    def store(self) -> sa.Engine:
        return sa.create_engine(self.store_url)

    def warehouse(self) -> sa.Engine:
        return sa.create_engine(self.warehouse_url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, pubsub_emulator: PubSubEmulator,
         sandbox_server: SandboxServer, postgres_databases: PostgresDatabases,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStore]:
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp(f"demo_{backend}")
    data = workdir / ".data"
    data.mkdir()
    suffix = uuid.uuid4().hex[:8]
    env = {"AURA_ENV": "embedded", "AURA_DATA_DIR": str(data),
           "AURA_SANDBOX_URL": sandbox_server.base_url,
           "PUBSUB_EMULATOR_HOST": pubsub_emulator.host,
           "PUBSUB_PROJECT_ID": pubsub_emulator.project_id,
           "AURA_UNDERWRITING_CREATED_TOPIC": f"readme-created-{suffix}",
           "AURA_UNDERWRITING_CREATED_SUBSCRIPTION": f"readme-created-sub-{suffix}",
           "AURA_DEAD_LETTER_TOPIC": f"readme-dead-{suffix}",
           "AURA_PROCESSING_COMPLETED_TOPIC": f"readme-completed-{suffix}"}
    if backend == "sqlite":  # the demo's own layout: .data/aura.db and .data/warehouse.db
        store_url = f"sqlite:///{data / 'aura.db'}"
        warehouse_url = f"sqlite:///{data / 'warehouse.db'}"
    else:  # production's layout: the warehouse is a schema of the store's database
        store_url = postgres_databases.create("aura_readme")
        env.update(AURA_DATABASE_URL=store_url, AURA_WAREHOUSE_URL=store_url,
                   AURA_WAREHOUSE_SCHEMA="warehouse")
        warehouse_url = f"{store_url}?options=-csearch_path%3Dwarehouse"
    with pytest.MonkeyPatch.context() as patch:
        for key in ("AURA_DATABASE_URL", "AURA_WAREHOUSE_URL", "AURA_WAREHOUSE_SCHEMA",
                    "AURA_DOCUMENTS_ROOT", "AURA_SMTP_HOST"):
            patch.delenv(key, raising=False)
        for key, value in env.items():
            patch.setenv(key, value)
        # Plain values (not EnvVars): the test also uses the resources directly.
        resources = embedded_resources(env_vars=False)
        resources["pubsub"].ensure_topology()
        defs = build_definitions(resources)
        stores = open_stores(store_url, migrate=True)
        build_demo_cases(stores, data / "documents")
        job = defs.resolve_job_def(JOB_NAME)
        runs: dict[str, list[JobExecutionResult]] = {}
        with DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions("underwriting", list(RUN_CASES))
            # uw_demo_1001 twice: the second run reuses every execution.
            for underwriting_id in (*RUN_CASES, RUN_CASES[0]):
                organization = stores.underwritings.get_underwriting(underwriting_id)
                result = job.execute_in_process(
                    partition_key=underwriting_id, instance=instance, run_config=QUIET,
                    tags={ORGANIZATION_ID_TAG: organization["organization_id"]})
                assert result.success, underwriting_id
                runs.setdefault(underwriting_id, []).append(result)
            yield DemoStore(backend, workdir, store_url, warehouse_url, stores, instance, runs)


# -- the README, as written ----------------------------------------------------------------
def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Querying the factors")
    return text[start:text.index("\n## ", start + 1)]


def readme_sql() -> list[tuple[str, str | None, str]]:
    """(target, dialect or None, statement) for every SQL statement of the section."""
    out = []
    for block in re.findall(r"```sql\n(.*?)```", _section(), re.S):
        header = block.splitlines()[0]
        match = re.match(r"-- (store|warehouse)(?: \((SQLite|PostgreSQL)\))?", header)
        assert match, f"SQL block must start with -- store|warehouse: {header!r}"
        dialect = {"SQLite": "sqlite", "PostgreSQL": "postgresql"}.get(match.group(2) or "")
        for statement in re.split(r";\s*\n", block):
            body = "\n".join(line for line in statement.splitlines()
                             if not line.startswith("--")).strip()
            if body:
                out.append((match.group(1), dialect, body))
    return out


def readme_python() -> list[str]:
    return re.findall(r"```python\n(.*?)```", _section(), re.S)


def test_the_readme_section_has_queries_for_each_thing_the_data_team_asks() -> None:
    statements = [s for _, _, s in readme_sql()]
    assert len(statements) >= 9 and len(readme_python()) >= 2
    text = "\n".join(statements)
    for needle in ("underwriting_factor_matrix", "t.request_id = e.id", "completed_at",
                   "computed_run_id", "document_revision_ids"):
        assert needle in text
    assert ".data/aura.db" in _section() and ".data/warehouse.db" in _section()
    assert ".data/demo" not in _section()


def test_every_readme_query_runs_as_written_and_returns_rows(demo: DemoStore) -> None:
    ran = 0
    for target, dialect, statement in readme_sql():
        if dialect not in (None, demo.backend):
            continue
        engine = demo.store() if target == "store" else demo.warehouse()
        with engine.connect() as conn:
            rows = conn.execute(sa.text(statement)).all()
        engine.dispose()
        assert rows, f"no rows on {demo.backend}:\n{statement}"
        ran += 1
    assert ran == len([1 for _, d, _ in readme_sql() if d in (None, demo.backend)])


def test_every_readme_pandas_example_runs(demo: DemoStore) -> None:
    cwd = Path.cwd()
    os.chdir(demo.workdir)  # the README's relative .data/ paths
    try:
        for example in readme_python():
            if demo.backend == "postgresql":
                example = (example.replace("sqlite:///.data/aura.db", demo.store_url)
                           .replace("sqlite:///.data/warehouse.db", demo.warehouse_url))
            scope: dict[str, Any] = {}
            exec(compile(example, "README.md", "exec"), scope)  # noqa: S102
            frames = [v for v in scope.values() if isinstance(v, pd.DataFrame)]
            assert frames and all(len(f) for f in frames), example
            if "long" in scope:
                assert scope["long"]["value_numeric"].dtype == "float64"
                assert all(isinstance(v, float) for v in scope["long"]["value_numeric"])
            if "matrix" in scope:
                assert scope["matrix"]["underwriting_id"].is_unique
    finally:
        os.chdir(cwd)


# -- the tables ------------------------------------------------------------------------------
def _cell_equals(entry: FactorSpec | Any, expected: Any, actual: Any) -> bool:
    kind = entry.type.value
    if expected is None:
        return actual is None or actual is pd.NA or (isinstance(actual, float)
                                                     and math.isnan(actual)) or actual is pd.NaT
    if kind in ("list", "object"):
        return json.loads(actual) == expected
    if kind == "date":
        return str(actual)[:10] == expected
    if kind == "boolean":
        return bool(actual) is expected
    if kind == "number":
        return math.isclose(float(actual), float(expected), rel_tol=1e-12)
    return actual == expected


def test_factor_matrix_has_one_row_per_underwriting_with_the_long_values(
        demo: DemoStore) -> None:
    with demo.warehouse().connect() as conn:
        table = pd.read_sql(sa.text("SELECT * FROM underwriting_factor_matrix"), conn)
        long = pd.read_sql(sa.text("SELECT underwriting_id, factor_name, value_json "
                                   "FROM underwriting_factors"), conn)
    assert sorted(table["underwriting_id"]) == sorted(RUN_CASES)  # one row each, no repeats
    view = demo.stores.factors.factor_matrix_frame()
    assert view["underwriting_id"].is_unique and set(RUN_CASES) <= set(view["underwriting_id"])
    assert len(long) > 100
    for matrix in (table.set_index("underwriting_id"), view.set_index("underwriting_id")):
        for row in long.itertuples():
            entry = DICTIONARY.get(row.factor_name)
            if entry is None:
                continue
            expected = json.loads(row.value_json)
            actual = matrix.loc[row.underwriting_id, row.factor_name]
            assert _cell_equals(entry, expected, actual), (row.underwriting_id,
                                                           row.factor_name, expected, actual)
    assert view["bank_revenue"].dtype == "float64"
    assert view["dl_expired"].dtype == "boolean"


def test_produced_factors_are_declared_with_their_types(demo: DemoStore) -> None:
    rows = demo.stores.factors.factor_records()
    produced = {r["factor_name"] for r in rows}
    assert produced - set(DICTIONARY) == set(), "undeclared factors: add them to FACTORS"
    for row in rows:
        entry = DICTIONARY[row["factor_name"]]
        assert row["processor"] == entry.processor
        assert value_matches(FactorSpec(entry.name, entry.type, ""), row["value"]), row
        assert row["processor_version"] == entry.processor_version
        assert row["document_revision_ids"] is not None


def test_completion_time_status_and_run_ids(demo: DemoStore) -> None:
    # The adverse case (active bankruptcy) is declined by the default lender rules.
    expected = {"uw_demo_1001": "completed", "uw_demo_1002": "declined"}
    for underwriting_id in RUN_CASES:
        row = demo.stores.underwritings.get_underwriting(underwriting_id)
        assert row["status"] == expected[underwriting_id] and row["completed_at"] is not None
    first, second = demo.runs["uw_demo_1001"]
    with demo.warehouse().connect() as conn:
        frame = pd.read_sql(sa.text("SELECT * FROM processor_executions "
                                    "WHERE underwriting_id = 'uw_demo_1001'"), conn)
    assert set(frame["materialized_run_id"]) == {second.run_id}
    assert set(frame["computed_run_id"]) == {first.run_id}
    assert frame["reused"].astype(bool).all()
    for execution_id in frame["execution_id"]:
        stored = demo.stores.executions.get_execution_by_id(execution_id)
        assert stored["run_id"] == first.run_id


def test_ids_have_one_form_in_store_warehouse_events_and_ui(demo: DemoStore) -> None:
    (result,) = demo.runs["uw_demo_1002"]
    with demo.warehouse().connect() as conn:
        event = json.loads(conn.execute(sa.text(
            "SELECT event_json FROM processing_completed "
            "WHERE underwriting_id = 'uw_demo_1002'")).scalar_one())
        warehouse_ids = set(pd.read_sql(sa.text(
            "SELECT execution_id FROM processor_executions "
            "WHERE underwriting_id = 'uw_demo_1002'"), conn)["execution_id"])
    with demo.store().connect() as conn:
        store_ids = {str(i) for i in conn.execute(sa.text(
            "SELECT id FROM processor_executions WHERE underwriting_id = 'uw_demo_1002'"))
            .scalars()}
    event_ids = {p["execution_id"] for key in ("completed_processors", "failed_processors",
                                               "timeout_processors") for p in event[key]}
    ui_ids = set(_metadata(demo, result, "processor_executions")["execution_ids"].value)
    assert store_ids == warehouse_ids == ui_ids == event_ids
    assert all(i == str(uuid.UUID(i)) for i in store_ids)


# -- the catalog at run time -----------------------------------------------------------------
def _metadata(demo: DemoStore, result: JobExecutionResult, key: str) -> dict[str, Any]:
    (record,) = [e for e in demo.instance.all_logs(
        result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        if e.dagster_event.asset_key == AssetKey(key)]
    return record.dagster_event.materialization.metadata


def test_materializations_carry_row_counts_partition_names_and_provenance(
        demo: DemoStore) -> None:
    (result,) = demo.runs["uw_demo_1002"]
    underwriting = demo.stores.underwritings.get_underwriting("uw_demo_1002")
    for key in (*catalog(), ):
        metadata = _metadata(demo, result, key)
        assert metadata["dagster/row_count"].value >= 1, key
        assert metadata["organization_id"].value == ACME, key
        assert metadata["business_name"].value == underwriting["business_name"], key
    documents = _metadata(demo, result, "underwriting_documents")
    stored = demo.stores.underwritings.get_documents("uw_demo_1002")
    assert documents["document_revision_ids"].value == [d["revision_id"] for d in stored]
    assert set(documents["document_types"].value.values()) >= {"bank_statement", "tax_return"}
    assert documents["classification_confidence"].value  # classifier typed them
    factors = _metadata(demo, result, "underwriting_factors")
    sources = {r.data["factor_name"]: r.data for r in factors["factor_sources"].value.records}
    long = {r["factor_name"]: r for r in demo.stores.factors.get_factors("uw_demo_1002")}
    assert set(sources) == set(long)
    for name, source in sources.items():
        assert source["execution_id"] == long[name]["execution_id"]
        assert source["processor_version"] == long[name]["processor_version"]
    assert factors["executions"].value == (
        "/assets/processor_executions?view=partitions&partition=uw_demo_1002")
    executions = _metadata(demo, result, "processor_executions")
    assert executions["documents"].value.endswith("underwriting_documents?view=partitions"
                                                 "&partition=uw_demo_1002")
    assert {r.data["execution_id"] for r in executions["execution_sources"].value.records} \
        >= {s["execution_id"] for s in sources.values()}
    checks = [e.dagster_event.event_specific_data for e in demo.instance.all_logs(
        result.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
    assert len(checks) == 5  # each result names its partition (the UI mixes partitions)
    for check in checks:
        assert check.metadata["underwriting_id"].value == "uw_demo_1002"
        assert check.description.startswith("uw_demo_1002: ")
