"""`underwriting_factor_matrix`: the factors wide, one row per underwriting.

Materialized with the other assets of the run, through the same warehouse IO manager
(SQLite, PostgreSQL or BigQuery): one typed column per factor of the dictionary, so the
data team needs no `MAX(CASE ...)` per factor. The store has the same shape as a view.
"""

import json

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, asset

from aura_dagster.assets.catalog import MATRIX_BASE_COLUMN_DOCS, asset_page
from aura_dagster.assets.documents import partition_metadata
from aura_dagster.domain.factor_dictionary import matrix_columns
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.resources.store import StoreResource
from aura_dagster.storage.factor_matrix import build_factor_matrix

MATRIX_BASE_COLUMNS = tuple(name for name, _, _ in MATRIX_BASE_COLUMN_DOCS)


def matrix_frame(underwriting_id: str, organization_id: str, business_name: str | None,
                 underwriting_factors: pd.DataFrame) -> pd.DataFrame:
    """The partition's one-row matrix from its long factor rows (as the warehouse keeps them)."""
    computed = (pd.Timestamp(underwriting_factors["computed_at"].max())
                if len(underwriting_factors) else pd.NaT)
    base = {underwriting_id: {"organization_id": organization_id,
                              "business_name": business_name, "computed_at": computed}}
    rows = [{"underwriting_id": underwriting_id, "factor_name": r.factor_name,
             "value": json.loads(r.value_json)} for r in underwriting_factors.itertuples()]
    frame = build_factor_matrix(rows, matrix_columns(), base=base,
                                base_columns=MATRIX_BASE_COLUMNS)
    frame["computed_at"] = pd.to_datetime(frame["computed_at"], utc=True)
    return frame


@asset(partitions_def=underwriting_partitions, group_name="underwriting",
       io_manager_key="warehouse_io_manager", ins={"underwriting_factors": AssetIn()},
       metadata={"partition_expr": "underwriting_id"},
       description="The factors wide: one row per underwriting, one typed column per factor "
                   "(see docs/factors.md).")
def underwriting_factor_matrix(context: AssetExecutionContext, store: StoreResource,
                               underwriting_factors: pd.DataFrame) -> pd.DataFrame:
    underwriting_id = context.partition_key
    row = store.open().underwritings.get_underwriting(underwriting_id) or {}
    organization_id = row.get("organization_id", "")
    frame = matrix_frame(underwriting_id, organization_id, row.get("business_name"),
                         underwriting_factors)
    filled = int(frame.iloc[:, len(MATRIX_BASE_COLUMNS):].notna().any().sum())
    context.add_output_metadata({
        **partition_metadata(organization_id, row.get("business_name")),
        "factor_columns_filled": filled,
        "factors": MetadataValue.url(asset_page("underwriting_factors", underwriting_id)),
    })
    return frame
