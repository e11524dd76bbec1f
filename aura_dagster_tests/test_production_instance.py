"""The production instance (deploy/production/dagster.yaml) on a real PostgreSQL database of
this test's own: one connection pool per process, survives its backends being terminated,
never shares a connection across a fork; compute logs captured without helper processes;
the queue dequeues every half second with the per-lender limits intact."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, RunsFilter, job, op

from aura_dagster.commands.production_stack import DAGSTER_PG_URL_ENV, INSTANCE_YAML
from aura_dagster.compute_logs import FileComputeLogManager
from aura_dagster.instance_storage import (
    PooledEventLogStorage,
    PooledPostgresStorage,
    application_name,
)
from aura_dagster.run_coordinator import FastQueuedRunCoordinator
from aura_dagster_tests.conftest import PG_HOST, PG_PORT, PG_USER

MARKER = "printed by an op, read back from its compute log"


@pytest.fixture
def production_home(tmp_path: Path, postgres_url: str,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A DAGSTER_HOME holding the production dagster.yaml, on a fresh database."""
    dbname = postgres_url.rsplit("/", 1)[1]
    monkeypatch.setenv(DAGSTER_PG_URL_ENV,
                       f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}")
    monkeypatch.setenv("AURA_CELERY_BROKER", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("AURA_CELERY_BACKEND", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    shutil.copy(INSTANCE_YAML, tmp_path / "dagster.yaml")
    yield tmp_path, dbname


def _backends(dbname: str) -> list[tuple[int, str]]:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                         autocommit=True) as conn:
        return conn.execute("SELECT pid, application_name FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()",
                            [dbname]).fetchall()


def _terminate_backends(dbname: str) -> int:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                         autocommit=True) as conn:
        # With a timeout: returns once the backends are gone (their FATAL sent).
        return len(conn.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()",
                                [dbname]).fetchall())


@op
def say_something() -> int:
    print(MARKER, flush=True)
    # Dagster's default manager mirrors output through `tail` and a watcher process.
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    names = [Path(f"/proc/{pid}/comm").read_text().strip() for pid in children
             if Path(f"/proc/{pid}/comm").exists()]
    assert "tail" not in names, names
    return 1


@job
def say_something_job() -> None:
    say_something()


def test_one_pool_per_process_across_instances_and_events(
        production_home: tuple[Path, str]) -> None:
    home, dbname = production_home
    instances = [DagsterInstance.get() for _ in range(3)]  # the code server builds many
    try:
        storages = [i.event_log_storage for i in instances]
        assert all(isinstance(s, PooledEventLogStorage) for s in storages)
        engines = {id(s._engine) for s in storages}  # noqa: SLF001
        assert len(engines) == 1
        for _ in range(4):
            result = say_something_job.execute_in_process(instance=instances[0])
            assert result.success
        connections = _backends(dbname)
        # Each event used to open (and close) a connection; the pool keeps at most a few.
        assert 1 <= len(connections) <= 2 + 8
        assert {name for _, name in connections} == {application_name()}
        runs = instances[1].get_runs(RunsFilter(job_name="say_something_job"))
        assert len(runs) == 4
        events = instances[2].all_logs(runs[0].run_id)
        assert any(e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_SUCCESS"
                   for e in events)
    finally:
        for instance in instances:
            instance.dispose()


def test_terminated_backends_are_replaced_before_the_next_write(
        production_home: tuple[Path, str]) -> None:
    """A database restart or a DBA killing connections: pooled connections are checked on
    checkout (pinged when their socket says they may be dead), so the next run writes
    every event."""
    _, dbname = production_home
    with DagsterInstance.get() as instance:
        assert say_something_job.execute_in_process(instance=instance).success
        assert _terminate_backends(dbname) >= 1
        result = say_something_job.execute_in_process(instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id).is_success


def test_partitions_are_remembered_once_seen_and_forgotten_when_deleted(
        production_home: tuple[Path, str]) -> None:
    """Dagster checks the run's partition for every input and output of every step; the
    pooled storage looks it up once. A partition this process deletes is gone at once."""
    with DagsterInstance.get() as instance:
        assert not instance.has_dynamic_partition("underwriting", "uw_1")
        instance.add_dynamic_partitions("underwriting", ["uw_1"])
        assert instance.has_dynamic_partition("underwriting", "uw_1")  # a miss is not kept
        statements: list[str] = []
        engine = instance.event_log_storage._engine  # type: ignore[attr-defined]  # noqa: SLF001

        def listener(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            for _ in range(20):
                assert instance.has_dynamic_partition("underwriting", "uw_1")
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        assert [s for s in statements if "dynamic_partitions" in s] == []
        instance.delete_dynamic_partition("underwriting", "uw_1")
        assert not instance.has_dynamic_partition("underwriting", "uw_1")


def test_events_are_inserted_with_every_column_dagster_gives_them(
        production_home: tuple[Path, str]) -> None:
    """The event INSERT is written out in SQL: it must name every column Dagster's own row
    has (a Dagster upgrade that adds one fails here, not silently)."""
    from aura_dagster.instance_storage import _EVENT_COLUMNS

    with DagsterInstance.get() as instance:
        result = say_something_job.execute_in_process(instance=instance)
        storage = instance.event_log_storage
        for record in instance.all_logs(result.run_id):
            assert set(storage._event_to_row(record)) == set(_EVENT_COLUMNS)  # noqa: SLF001
        assert instance.get_run_by_id(result.run_id).is_success


def test_a_forked_child_opens_its_own_connections(production_home: tuple[Path, str]) -> None:
    """Celery's prefork pool forks the worker: a child must never write on the parent's
    socket (two processes on one PostgreSQL connection corrupt each other's replies)."""
    with DagsterInstance.get() as instance:
        assert say_something_job.execute_in_process(instance=instance).success
        pid = os.fork()
        if pid == 0:  # the child: a new instance, its own pool, then a whole run
            code = 1
            try:
                with DagsterInstance.get() as child:
                    code = 0 if say_something_job.execute_in_process(instance=child).success \
                        else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's pooled connection still works after the child wrote and exited.
        assert say_something_job.execute_in_process(instance=instance).success
        assert len(instance.get_runs(RunsFilter(job_name="say_something_job"))) == 3


def test_compute_logs_are_captured_without_helper_processes(
        production_home: tuple[Path, str]) -> None:
    home, _ = production_home
    with DagsterInstance.get() as instance:
        manager = instance.compute_log_manager
        assert isinstance(manager, FileComputeLogManager)
        result = say_something_job.execute_in_process(instance=instance)
        assert result.success  # the op asserts no `tail` child runs while it prints
        captured = [p for p in (home / "storage").rglob("*.out")]
        assert any(MARKER in p.read_text() for p in captured), captured


def test_the_queue_dequeues_every_half_second_with_the_lender_limits(
        production_home: tuple[Path, str]) -> None:
    with DagsterInstance.get() as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, FastQueuedRunCoordinator)
        assert coordinator.dequeue_interval_seconds == 0.5
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 8
        assert queue.tag_concurrency_limits == [
            {"key": "aura/organization_id", "value": {"applyLimitPerUniqueValue": True},
             "limit": 3}]
        assert instance.python_log_level == "INFO"


def test_runs_racing_to_create_a_pool_limit_all_succeed(
        production_home: tuple[Path, str]) -> None:
    """A fresh instance's first burst: every run's first vendor step initializes the pool's
    limit at once. On PostgreSQL the losers' transactions aborted and their runs failed."""
    pools = [f"vendor_{i}" for i in range(4)]
    with DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def first_claim(pool: str) -> None:
            start.wait()
            try:
                assert storage.initialize_concurrency_limit_to_default(pool)
            except BaseException as exc:  # noqa: BLE001 - collected, asserted below
                errors.append(exc)

        threads = [threading.Thread(target=first_claim, args=(pool,))
                   for pool in pools for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        limits = {pool.name: pool.limit for pool in storage.get_pool_limits()}
        assert all(limits[pool] == 4 for pool in pools), limits
        assert all(storage.get_concurrency_info(pool).slot_count == 4 for pool in pools)


def test_token_auth_is_refused_with_a_clear_error() -> None:
    """dagster-postgres's cloud token auth is not pooled here: say so at instance load."""
    with pytest.raises(ValueError, match="password auth only"):
        PooledPostgresStorage.from_config_value(None, {
            "postgres_url": "postgresql+psycopg2://u@h/db", "auth_provider": {"gcp_wif": {}}})
