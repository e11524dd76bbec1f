"""The one Definitions object: assets, checks, jobs, sensors, and resources by environment."""

from __future__ import annotations

from dagster import Definitions
from dagster_async_executor import async_executor

import aura_dagster.dagster_compat  # noqa: F401  (fixes a run hang on op concurrency pools)
from aura_dagster.assets.catalog import catalog_assets
from aura_dagster.assets.documents import documents_materialization, underwriting_documents
from aura_dagster.assets.jobs import process_underwriting_job, resume_after_review_job
from aura_dagster.assets.options import PipelineOptionsResource
from aura_dagster.assets.processing import build_processing_asset
from aura_dagster.assets.review import underwriting_review
from aura_dagster.environments import resources_for
from aura_dagster.resources.processors import catalog_pools
from aura_dagster.sensors.run_outcome import publish_failed_outcome
from aura_dagster.sensors.run_status import run_status_sensors
from aura_dagster.sensors.underwriting_created import underwriting_created_sensor

underwriting_processing = build_processing_asset(catalog_pools())


def build_definitions(resources: dict | None = None) -> Definitions:
    resources = resources if resources is not None else resources_for()
    return Definitions(
        assets=catalog_assets(
            [underwriting_documents, underwriting_processing, underwriting_review], resources,
            spec_sources={"underwriting_documents": documents_materialization}),
        # Asset checks are check_specs of the steps that produce what they check.
        jobs=[process_underwriting_job, resume_after_review_job],
        sensors=[underwriting_created_sensor, *run_status_sensors, publish_failed_outcome],
        # One executor for every job, the UI's __ASSET_JOB and backfills included: the
        # multiprocess default costs ~1.6 s a step.
        executor=async_executor,
        # Pipeline options are run config (resources.pipeline_options.config) of every job.
        resources={"pipeline_options": PipelineOptionsResource(), **resources},
    )


defs = build_definitions()
