"""The one Definitions object: assets, checks, jobs, sensors, and resources by environment."""

from __future__ import annotations

from dagster import Definitions

from aura_dagster.assets.catalog import catalog_assets
from aura_dagster.assets.documents import documents_materialization, underwriting_documents
from aura_dagster.assets.factor_matrix import underwriting_factor_matrix
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
    resources = resources if resources is not None else resources_for()
    return Definitions(
        assets=catalog_assets(
            [underwriting_documents, underwriting_processing, underwriting_factor_matrix,
             underwriting_review, processing_completed], resources,
            spec_sources={"underwriting_documents": documents_materialization}),
        asset_checks=[required_factors_present, factor_values_in_range, statements_reconcile],
        jobs=[process_underwriting_job, resume_after_review_job],
        sensors=[underwriting_created_sensor, *run_status_sensors],
        resources=resources,
    )


defs = build_definitions()
