"""The repo's dagster.yaml (the embedded default's instance) loads and turns on crash
recovery: run monitoring with a run-worker health check, and run retries from failure."""

from __future__ import annotations

import shutil
from pathlib import Path

from dagster import DagsterInstance

from aura_dagster.assets.jobs import process_underwriting_job, resume_after_review_job
from aura_dagster.commands.instance_setup import prepare_instance, storage_ready
from aura_dagster.commands.local_stack import PROJECT_ROOT
from aura_dagster.launcher import HostRunLauncher


def test_repo_instance_config_enables_monitoring_and_retries(tmp_path: Path) -> None:
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    prepare_instance(tmp_path)
    assert storage_ready(tmp_path)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_launcher, HostRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["poll_interval_seconds"] <= 10
        assert 0 < instance.run_monitoring_start_timeout_seconds <= 120
        assert instance.run_retries_enabled and instance.run_retries_max_retries >= 1
    for job in (process_underwriting_job, resume_after_review_job):
        assert job.tags["dagster/retry_strategy"] == "FROM_FAILURE"
