"""The factor matrix as a pandas DataFrame: one row per underwriting, one typed column per
factor of the dictionary (float64, Int64, boolean, datetime64, text; lists and objects as
JSON text so every warehouse can store them). Shared by the store's pandas helper and the
`underwriting_factor_matrix` warehouse asset, so both give the same columns and types."""

from __future__ import annotations

import json
import re
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
    records = [wide[k] for k in sorted(wide)]
    # Typed arrays built column by column: `DataFrame.astype` over ~100 columns cost 45 ms
    # for the one-row matrix the warehouse asset builds per underwriting; this costs ~5.
    data: dict[str, Any] = {c: _objects([r.get(c, _ABSENT) for r in records])
                            for c in base_columns}
    for name, factor_type in columns:
        data[name] = _typed_column(factor_type, [r.get(name, _ABSENT) for r in records])
    return pd.DataFrame(data, columns=[*base_columns, *(name for name, _ in columns)])


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TYPED = ("number", "integer", "boolean", "date")
_ABSENT = object()  # a factor the underwriting does not have: NaN, as pandas fills it


def _objects(values: list[Any]) -> Any:
    import numpy as np

    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # element-wise: a list value stays one cell
        array[i] = np.nan if value is _ABSENT else value
    return array


def _typed_column(factor_type: str, values: list[Any]) -> Any:
    """One matrix column with the dtype of PANDAS_DTYPES (the values come from `_cell`)."""
    import numpy as np
    import pandas as pd

    values = [None if v is _ABSENT else v for v in values] if factor_type in _TYPED else values
    missing = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    if factor_type == "number":
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    if factor_type == "integer":
        return pd.arrays.IntegerArray(
            np.array([0 if v is None else v for v in values], dtype="int64"), missing)
    if factor_type == "boolean" and all(v is None or isinstance(v, bool | np.bool_)
                                        for v in values):
        return pd.arrays.BooleanArray(
            np.array([bool(v) for v in values], dtype=bool), missing)
    if factor_type == "date":
        if all(v is None or (isinstance(v, str) and _ISO_DATE.fullmatch(v)) for v in values):
            try:
                return np.array(["NaT" if v is None else v for v in values],
                                dtype="datetime64[ns]")
            except ValueError:  # e.g. 2024-02-30: pandas makes it NaT
                pass
        # Odd values: parsed one by one ("mixed"), as pandas' fallback would, minus its warning.
        return pd.to_datetime(pd.Series(_objects(values)), errors="coerce", format="mixed")
    dtype = PANDAS_DTYPES.get(factor_type, "object")
    if dtype == "object":
        return _objects(values)
    return pd.array(_objects(values), dtype=dtype)  # e.g. booleans given as other types
