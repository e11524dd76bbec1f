"""The factor matrix as a pandas DataFrame: one row per underwriting, one typed column per
factor of the dictionary (float64, Int64, boolean, datetime64, text; lists and objects as
JSON text so every warehouse can store them). Shared by the store's pandas helper and the
`underwriting_factor_matrix` warehouse asset, so both give the same columns and types."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

Columns = Sequence[tuple[str, str]]  # (factor name, factor type)

PANDAS_DTYPES = {"number": "float64", "integer": "Int64", "boolean": "boolean",
                 "date": "datetime64[ns]", "string": "object"}


def _cell(factor_type: str, value: Any) -> Any:
    if value is None:
        return None
    if factor_type in ("list", "object"):
        return json.dumps(value, sort_keys=True)
    if factor_type == "number":
        return float(value)
    if factor_type == "integer":
        return int(value)
    return value


def build_factor_matrix(rows: Iterable[Mapping[str, Any]], columns: Columns,
                        base: Mapping[str, Mapping[str, Any]] | None = None,
                        base_columns: Sequence[str] = ("underwriting_id", "organization_id"),
                        ) -> pd.DataFrame:
    """Pivot long factor rows (underwriting_id, factor_name, value) into the matrix.

    `base` gives, per underwriting id, the values of `base_columns` (underwritings without
    factors get a row too); otherwise the base columns come from the factor rows.
    """
    import pandas as pd

    types = dict(columns)
    wide: dict[str, dict[str, Any]] = {}
    for underwriting_id, values in (base or {}).items():
        wide[underwriting_id] = {c: values.get(c) for c in base_columns}
        wide[underwriting_id]["underwriting_id"] = underwriting_id
    for row in rows:
        target = wide.setdefault(row["underwriting_id"],
                                 {c: row.get(c) for c in base_columns})
        name = row["factor_name"]
        if name in types:  # factors nobody declared stay in the long table only
            target[name] = _cell(types[name], row.get("value"))
    frame = pd.DataFrame([wide[k] for k in sorted(wide)],
                         columns=[*base_columns, *(name for name, _ in columns)])
    # One astype for all typed columns: a call per column was most of the time of a
    # one-row matrix (the warehouse asset builds one per underwriting).
    frame = frame.astype({name: PANDAS_DTYPES.get(factor_type, "object")
                          for name, factor_type in columns if factor_type != "date"})
    for name, factor_type in columns:
        if factor_type == "date":
            frame[name] = pd.to_datetime(frame[name], errors="coerce")
    return frame
