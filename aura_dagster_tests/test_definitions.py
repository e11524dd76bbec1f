"""The one Definitions object: what `dagster dev` loads, per environment.

`aura_dagster.definitions` builds its resources from the environment when it is imported,
and `aura-dagster approve` reuses that module-level object. These tests import a fresh
copy under their own environment and put back whatever copy was there before, so the
engine tests (which import it under theirs) never see the one made here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from dagster import (
    AssetKey,
    ConfigurableIOManager,
    ConfigurableResource,
    Definitions,
    EnvVar,
    OpDefinition,
)
from dagster_gcp_pandas import BigQueryPandasIOManager

from aura_dagster.domain.processors.registry import CATALOG
from aura_dagster.environments import (
    current_environment,
    embedded_resources,
    production_resources,
    resources_for,
)
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.resources.notifier import NotifierResource
from aura_dagster_tests.fixtures.definitions import clean_env

ROOT = Path(__file__).resolve().parents[1]
ASSETS = {"underwriting_documents", "processor_executions", "underwriting_factors",
          "underwriting_factor_matrix", "underwriting_review", "processing_completed"}
EXECUTABLE = ASSETS - {"underwriting_documents"}  # external: reported by the load step
CHECKS = {("underwriting_factors", name) for name in (
    "required_factors_present", "factor_values_in_range", "statements_reconcile")} | {
    ("processor_executions", "processors_succeeded"), ("underwriting_review", "review_cleared")}
RUN_STATUS_SENSORS = {"audit_run_succeeded", "audit_run_failed", "close_cancelled_runs",
                      "finish_partial_runs"}
@pytest.fixture
def defs(load_definitions: Callable[[], ModuleType]) -> Definitions:
    return load_definitions().defs


def test_definitions_load_and_validate(defs: Definitions) -> None:
    Definitions.validate_loadable(defs)


def test_assets_and_checks_are_partitioned_by_underwriting(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSETS
    for name in ASSETS:
        assert graph.get(AssetKey(name)).partitions_def == underwriting_partitions
    assert underwriting_partitions.name == "underwriting"
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == CHECKS


def test_jobs_cover_the_graph_and_the_resume_path(defs: Definitions) -> None:
    process = defs.resolve_job_def("process_underwriting")
    resume = defs.resolve_job_def("resume_after_review")
    for job in (process, resume):
        assert job.partitions_def == underwriting_partitions
        assert job.executor_def.name == "async_executor"
    assert {k.to_user_string() for k in process.asset_layer.selected_asset_keys} == EXECUTABLE
    assert {k.to_user_string() for k in resume.asset_layer.selected_asset_keys} == {
        "underwriting_review", "processing_completed"}  # processors are not re-run


def test_sensors_are_registered_with_the_resources_they_need(defs: Definitions) -> None:
    names = {s.name for s in defs.sensors}
    assert names == {"underwriting_created_sensor", "publish_failed_outcome", *RUN_STATUS_SENSORS}
    for name in RUN_STATUS_SENSORS:
        sensor = defs.resolve_sensor_def(name)
        assert type(sensor).__name__ == "RunStatusSensorDefinition"
        assert sensor.required_resource_keys <= set(defs.resources)
    assert defs.resolve_sensor_def("audit_run_failed").required_resource_keys == {
        "store", "notifier"}


def test_each_external_api_is_an_op_concurrency_pool(defs: Definitions) -> None:
    job = defs.resolve_job_def("process_underwriting")
    ops = {node.name: node for node in job.graph.iterate_node_defs()
           if isinstance(node, OpDefinition)}
    pools = {name: op.pool for name, op in ops.items() if name.startswith("run_")}
    assert pools == {"run_local_processor": None,
                     "run_opencorporates_processor": "opencorporates",
                     "run_clear_processor": "clear"}
    # Every catalog processor that calls a vendor runs in its vendor's pool.
    apis = {cls.PROCESSOR_ID: cls.API_POOL for cls in CATALOG.values() if cls.API_POOL}
    assert apis == {"p_secretary_of_state": "opencorporates",
                    "p_clear_business_report": "clear"}


def test_embedded_default_uses_configurable_resources(defs: Definitions,
                                                      tmp_path: Path) -> None:
    assert current_environment() == "embedded"
    assert set(defs.resources) == {"store", "warehouse_io_manager", "document_source",
                                   "processors", "pubsub", "notifier", "pipeline_options"}
    for resource in defs.resources.values():
        assert isinstance(resource, ConfigurableResource | ConfigurableIOManager)
    assert defs.resources["store"].database_url == f"sqlite:///{tmp_path / 'data' / 'aura.db'}"
    assert defs.resources["notifier"].enabled is False  # no AURA_SMTP_HOST: no email


def test_embedded_notifier_follows_the_smtp_variables(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AURA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AURA_SMTP_PORT", "2525")
    monkeypatch.setenv("AURA_NOTIFY_TO", "ops@lender.test")
    notifier = embedded_resources(env_vars=False)["notifier"]
    assert isinstance(notifier, NotifierResource) and notifier.enabled
    assert (notifier.smtp_host, notifier.smtp_port, notifier.recipients) == (
        "127.0.0.1", 2525, "ops@lender.test")
    # What Dagster loads references the variables; it resolves them when a run starts.
    referenced = embedded_resources()["notifier"]
    assert (referenced.smtp_host.env_var_name, referenced.smtp_port.env_var_name) == (
        "AURA_SMTP_HOST", "AURA_SMTP_PORT")


@pytest.mark.parametrize("warehouse", ["postgres", "bigquery"])
def test_production_definitions_validate_without_resolving_env_vars(
        load_definitions: Callable[[], ModuleType], monkeypatch: pytest.MonkeyPatch,
        warehouse: str) -> None:
    monkeypatch.setenv("AURA_ENV", "production")
    monkeypatch.setenv("AURA_WAREHOUSE", warehouse)
    module = load_definitions()  # what `dagster dev` imports, with no endpoint set

    Definitions.validate_loadable(module.defs)
    Definitions.validate_loadable(module.build_definitions(production_resources()))

    resources = module.defs.resources
    assert {*resources_for(), "pipeline_options"} == set(resources)
    assert isinstance(resources["store"].database_url, EnvVar)
    assert resources["store"].database_url.env_var_name == "AURA_DATABASE_URL"
    assert resources["notifier"].smtp_port.env_var_name == "AURA_SMTP_PORT"
    assert resources["processors"].clear_api_key.env_var_name == "AURA_CLEAR_API_KEY"
    io_manager = resources["warehouse_io_manager"]
    assert isinstance(io_manager, BigQueryPandasIOManager) == (warehouse == "bigquery")


def test_an_unknown_environment_is_a_clear_error(load_definitions: Callable[[], ModuleType],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURA_ENV", "staging")
    message = "AURA_ENV must be 'embedded' or 'production', not 'staging'"
    with pytest.raises(ValueError, match=message):
        current_environment()
    with pytest.raises(ValueError, match=message):
        load_definitions()


def test_dagster_cli_validates_the_workspace(tmp_path: Path) -> None:
    """`dagster definitions validate -w workspace.yaml` on a fresh checkout: nothing set up."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AURA_", "PUBSUB_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path / "home"), AURA_DATA_DIR=str(tmp_path / "data"))
    (tmp_path / "home").mkdir()
    done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions",
                           "validate", "-w", "workspace.yaml"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "All code locations passed validation" in output
    assert not (tmp_path / "data").exists()  # loading creates no files


def test_every_job_the_ui_can_launch_uses_the_async_executor(defs: Definitions) -> None:
    """*Materialize* in the UI and backfills run `__ASSET_JOB`: it must not fall back to the
    multiprocess executor (57 s instead of 8 s for one case)."""
    implicit = defs.resolve_implicit_global_asset_job_def()
    assert implicit.executor_def.name == "async_executor"
    for job in defs.resolve_all_job_defs():
        assert job.executor_def.name == "async_executor", job.name


def test_run_status_sensors_are_on_by_default(defs: Definitions) -> None:
    """Audit, notifications, cancellation and finishing partial runs work without anyone
    switching them on in the UI."""
    from dagster import DefaultSensorStatus

    for name in RUN_STATUS_SENSORS | {"underwriting_created_sensor"}:
        assert defs.resolve_sensor_def(name).default_status is DefaultSensorStatus.RUNNING, name


def test_few_serial_steps_and_each_processor_its_own_mapped_op(defs: Definitions) -> None:
    """Every step costs event-log commits (issue 11): load+plan is one op, the checks run in
    the ops that write what they check, matrix+review+publish is one op. The processors stay one
    mapped op per API pool (a step per processor)."""
    def ops(job_name: str) -> set[str]:
        return {node.name for node in defs.resolve_job_def(job_name).graph.iterate_node_defs()
                if isinstance(node, OpDefinition)}

    assert ops("process_underwriting") == {
        "load_underwriting", "run_local_processor", "run_opencorporates_processor",
        "run_clear_processor", "consolidate_underwriting", "underwriting_review"}
    assert ops("resume_after_review") == {"underwriting_review"}
    checked_by = {key.name: assets_def.node_def.name
                  for assets_def in defs.resolve_asset_graph().assets_defs
                  for key in assets_def.check_keys}
    assert checked_by == {"required_factors_present": "underwriting_processing",
                          "factor_values_in_range": "underwriting_processing",
                          "statements_reconcile": "underwriting_processing",
                          "processors_succeeded": "underwriting_processing",
                          "review_cleared": "underwriting_review"}
