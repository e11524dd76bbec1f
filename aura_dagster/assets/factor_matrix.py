"""`underwriting_factor_matrix`: the factors wide, one row per underwriting.

Materialized through the same warehouse IO manager as the other assets (SQLite, PostgreSQL
or BigQuery): one typed column per factor of the dictionary, so the data team needs no
`MAX(CASE ...)` per factor. The store has the same shape as a view. It is an output of the
review step (assets/review.py), written before processing.completed goes out; it depends
on `underwriting_factors` only and can be materialized (or backfilled) on its own.
"""

import json
from typing import Any

import pandas as pd
from dagster import MetadataValue

from aura_dagster.assets.catalog import MATRIX_BASE_COLUMN_DOCS, asset_page
from aura_dagster.assets.documents import partition_metadata
from aura_dagster.domain.factor_dictionary import matrix_columns
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


MATRIX_KEY = "underwriting_factor_matrix"
MATRIX_DESCRIPTION = ("The factors wide: one row per underwriting, one typed column per factor "
                      "(see docs/factors.md).")


def matrix_materialization(underwriting_id: str, underwriting: dict[str, Any],
                           underwriting_factors: pd.DataFrame
                           ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The partition's matrix row and its metadata, from the long factor rows and the
    underwriting's store row (organization, business name)."""
    organization_id = underwriting.get("organization_id", "")
    frame = matrix_frame(underwriting_id, organization_id, underwriting.get("business_name"),
                         underwriting_factors)
    filled = int(frame.iloc[:, len(MATRIX_BASE_COLUMNS):].notna().any().sum())
    return frame, {
        **partition_metadata(organization_id, underwriting.get("business_name")),
        "factor_columns_filled": filled,
        "factors": MetadataValue.url(asset_page("underwriting_factors", underwriting_id)),
    }
