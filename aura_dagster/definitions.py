"""The one Definitions object: assets, checks, jobs, sensors, and resources by environment."""

from __future__ import annotations

from dagster import Definitions

import aura_dagster.dagster_compat  # noqa: F401  (fixes a run hang on op concurrency pools)
from aura_dagster.assets.jobs import process_underwriting_job, resume_after_review_job
from aura_dagster.assets.processing import build_processing_asset
from aura_dagster.assets.review import (
    factor_values_in_range,
    processing_completed,
    required_factors_present,
    statements_reconcile,
    underwriting_review,
)
from aura_dagster.environments import resources_for
from aura_dagster.resources.processors import catalog_pools
from aura_dagster.sensors.run_status import run_status_sensors
from aura_dagster.sensors.underwriting_created import underwriting_created_sensor

underwriting_processing = build_processing_asset(catalog_pools())


def build_definitions(resources: dict | None = None) -> Definitions:
    return Definitions(
        assets=[underwriting_processing, underwriting_review, processing_completed],
        asset_checks=[required_factors_present, factor_values_in_range, statements_reconcile],
        jobs=[process_underwriting_job, resume_after_review_job],
        sensors=[underwriting_created_sensor, *run_status_sensors],
        resources=resources if resources is not None else resources_for(),
    )


defs = build_definitions()
