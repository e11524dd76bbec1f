"""FactorRepository: the consolidated factors per underwriting, the table the data team reads."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aura_dagster.storage.repositories._common import (
    Record,
    Repository,
    as_uuid,
    records,
    utcnow,
)
from aura_dagster.storage.repositories.underwritings import require_underwriting_of
from aura_dagster.storage.schema import underwriting_factors, underwritings

if TYPE_CHECKING:
    import pandas as pd

F = underwriting_factors
_NUMERIC_LIMIT = Decimal(10) ** 20  # Numeric(28, 8) holds 20 integer digits


@dataclass(frozen=True)
class FactorRow:
    factor_name: str
    value: Any
    processor: str
    execution_id: str | None = None
    produced_at: dt.datetime | None = None
    processor_version: str | None = None
    document_revision_ids: Sequence[str] | None = None


def numeric_value(value: Any) -> Decimal | None:
    """The value as a Decimal when it is a number (bool is not), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= _NUMERIC_LIMIT:
        return None
    return number


def _as_factor_row(row: FactorRow | Mapping[str, Any]) -> FactorRow:
    if isinstance(row, FactorRow):
        return row
    return FactorRow(factor_name=row["factor_name"], value=row.get("value"),
                     processor=row["processor"], execution_id=row.get("execution_id"),
                     produced_at=row.get("produced_at"),
                     processor_version=row.get("processor_version"),
                     document_revision_ids=row.get("document_revision_ids"))


class FactorRepository(Repository):
    def replace_factors(self, underwriting_id: str, organization_id: str,
                        rows: Iterable[FactorRow | Mapping[str, Any]]) -> int:
        """Replace the underwriting's factors with `rows` in ONE transaction: a failure
        anywhere leaves the previous set in place. Returns the number of rows written."""
        now = utcnow()
        values: list[dict[str, Any]] = []
        for raw in rows:
            row = _as_factor_row(raw)
            values.append({
                "underwriting_id": underwriting_id, "organization_id": organization_id,
                "factor_name": row.factor_name, "value": row.value,
                "value_numeric": numeric_value(row.value), "processor": row.processor,
                "execution_id": as_uuid(row.execution_id) if row.execution_id else None,
                "produced_at": row.produced_at or now,
                "processor_version": row.processor_version,
                "document_revision_ids": (list(row.document_revision_ids)
                                          if row.document_revision_ids is not None else None),
            })
        names = [v["factor_name"] for v in values]
        if len(set(names)) != len(names):
            raise ValueError(f"underwriting {underwriting_id}: a factor appears twice")

        def work(conn: Connection) -> int:
            require_underwriting_of(conn, underwriting_id, organization_id)
            conn.execute(F.delete().where(F.c.underwriting_id == underwriting_id))
            if values:
                conn.execute(F.insert(), values)
            return len(values)

        return self.db.run(work)

    def get_factors(self, underwriting_id: str,
                    organization_id: str | None = None) -> list[Record]:
        query = sa.select(F).where(F.c.underwriting_id == underwriting_id)
        if organization_id is not None:
            query = query.where(F.c.organization_id == organization_id)
        query = query.order_by(F.c.factor_name)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def get_factor_map(self, underwriting_id: str,
                       organization_id: str | None = None) -> dict[str, Any]:
        """factor name -> value (JSON), for the consolidation step and the completed event."""
        return {r["factor_name"]: r["value"]
                for r in self.get_factors(underwriting_id, organization_id)}

    def get_factor_across_underwritings(self, factor_name: str,
                                        organization_id: str | None = None, *,
                                        limit: int | None = None) -> list[Record]:
        query = sa.select(F).where(F.c.factor_name == factor_name)
        if organization_id is not None:
            query = query.where(F.c.organization_id == organization_id)
        query = query.order_by(F.c.underwriting_id)
        if limit is not None:
            query = query.limit(limit)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def factor_records(self, organization_id: str | None = None, *,
                       underwriting_ids: Sequence[str] | None = None,
                       factor_names: Sequence[str] | None = None) -> list[Record]:
        """Long-format rows for the data team (one per underwriting and factor)."""
        query = sa.select(F)
        if organization_id is not None:
            query = query.where(F.c.organization_id == organization_id)
        if underwriting_ids is not None:
            query = query.where(F.c.underwriting_id.in_(list(underwriting_ids)))
        if factor_names is not None:
            query = query.where(F.c.factor_name.in_(list(factor_names)))
        query = query.order_by(F.c.underwriting_id, F.c.factor_name)
        return self.db.run(lambda conn: records(conn.execute(query)))

    def factors_frame(self, organization_id: str | None = None, *,
                      underwriting_ids: Sequence[str] | None = None,
                      factor_names: Sequence[str] | None = None) -> pd.DataFrame:
        """`factor_records` as a pandas DataFrame (columns = table columns); `value_numeric`
        is float64 (NaN when the value is not a number), never Decimal objects."""
        import pandas as pd

        rows = self.factor_records(organization_id, underwriting_ids=underwriting_ids,
                                   factor_names=factor_names)
        frame = pd.DataFrame(rows, columns=[c.name for c in F.columns])
        return frame.astype({"value_numeric": "float64"})

    def factor_matrix_frame(self, organization_id: str | None = None, *,
                            underwriting_ids: Sequence[str] | None = None,
                            columns: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
        """One row per underwriting, one typed column per factor of the dictionary: the
        `underwriting_factor_matrix` view's columns, with pandas types on every backend."""
        from aura_dagster.storage.factor_matrix import build_factor_matrix
        from aura_dagster.storage.views import MATRIX_BASE_COLUMNS, default_columns

        query = sa.select(*(underwritings.c[c] if c != "underwriting_id"
                            else underwritings.c.id.label("underwriting_id")
                            for c in MATRIX_BASE_COLUMNS))
        if organization_id is not None:
            query = query.where(underwritings.c.organization_id == organization_id)
        if underwriting_ids is not None:
            query = query.where(underwritings.c.id.in_(list(underwriting_ids)))
        cases = {r["underwriting_id"]: r
                 for r in self.db.run(lambda conn: records(conn.execute(query)))}
        rows = self.factor_records(organization_id, underwriting_ids=list(cases))
        return build_factor_matrix(rows, columns if columns is not None else default_columns(),
                                   base=cases, base_columns=MATRIX_BASE_COLUMNS)
