"""The BigQuery warehouse: dagster-gcp-pandas' IO manager, plus `dagster/row_count` on each
partition's materialization like the SQL warehouse (imported only when BigQuery is used)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from dagster import OutputContext
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_gcp_pandas import BigQueryPandasIOManager
from dagster_gcp_pandas.bigquery.bigquery_pandas_type_handler import BigQueryPandasTypeHandler


class RowCountingBigQueryPandasTypeHandler(BigQueryPandasTypeHandler):
    def handle_output(self, context: OutputContext, table_slice: TableSlice,
                      obj: pd.DataFrame, connection: Any) -> Any:
        result = super().handle_output(context, table_slice, obj, connection)
        if context.has_partition_key:  # the base handler gives only partition_row_count then
            context.add_output_metadata({"dagster/row_count": obj.shape[0]})
        return result


class BigQueryWarehouseIOManager(BigQueryPandasIOManager):
    """dagster-gcp-pandas' BigQuery IO manager, plus `dagster/row_count` like the SQL one."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [RowCountingBigQueryPandasTypeHandler()]
