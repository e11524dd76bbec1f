"""What the data team reads in the store: one id form, completion time, float frames, the
factor matrix (view and pandas helper) with the long table's values, and migration 0002
converting existing ids in place."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from aura_dagster.domain.factor_dictionary import factor_dictionary
from aura_dagster.domain.processors.base import new_execution_id
from aura_dagster.storage import Database, FactorRow, Stores
from aura_dagster.storage.views import FACTOR_MATRIX_VIEW

TYPES = {e.name: e.type.value for e in factor_dictionary()}


def _execution_with_traces(stores: Stores, provisioned: dict[str, Any]) -> str:
    up = provisioned["bank_up"]
    execution_id = stores.executions.create_execution(
        "uw_1", up["id"], "org_1", up["processor"], {}, "h", execution_id=new_execution_id())
    stores.traces.add_traces(execution_id, "p_bank_statement",
                             [{"decision_point": "should_execute", "decision": "run"},
                              {"decision_point": "parse", "decision": "ok"}],
                             organization_id="org_1", underwriting_id="uw_1",
                             execution_id=execution_id)
    return execution_id


def test_one_id_form_joins_traces_to_executions_as_written(
        stores: Stores, provisioned: dict[str, Any]) -> None:
    execution_id = _execution_with_traces(stores, provisioned)
    with stores.db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id FROM processor_executions")).scalar_one()
        joined = conn.execute(sa.text(
            "SELECT count(*) FROM decision_traces t "
            "JOIN processor_executions e ON t.request_id = e.id")).scalar_one()
        pasted = conn.execute(sa.text("SELECT count(*) FROM processor_executions WHERE id = :i"),
                              {"i": execution_id}).scalar_one()
    # The store keeps the form traces, events and the UI show (str(UUID), dashed).
    assert str(stored) == execution_id == str(uuid.UUID(execution_id))
    assert joined == 2
    assert pasted == 1  # an id pasted from the UI finds the row


def test_record_completion_sets_final_status_and_time(stores: Stores) -> None:
    stores.underwritings.upsert_underwriting("uw_1", "org_1")
    assert stores.underwritings.get_underwriting("uw_1")["completed_at"] is None
    when = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    row = stores.underwritings.record_completion("uw_1", "rejected", completed_at=when)
    assert (row["status"], row["completed_at"]) == ("rejected", when)
    with pytest.raises(ValueError):
        stores.underwritings.record_completion("uw_1", "processing")


def test_factor_rows_carry_version_and_documents_and_frames_are_floats(
        stores: Stores, provisioned: dict[str, Any]) -> None:
    execution_id = _execution_with_traces(stores, provisioned)
    stores.factors.replace_factors("uw_1", "org_1", [
        FactorRow("bank_revenue", Decimal("1234.56"), "p_bank_statement",
                  execution_id=execution_id, processor_version="1.0.0",
                  document_revision_ids=["rev_a", "rev_b"]),
        FactorRow("bank_months", ["2024-01"], "p_bank_statement", execution_id=execution_id)])
    rows = {r["factor_name"]: r for r in stores.factors.get_factors("uw_1")}
    assert rows["bank_revenue"]["processor_version"] == "1.0.0"
    assert rows["bank_revenue"]["document_revision_ids"] == ["rev_a", "rev_b"]
    assert rows["bank_months"]["document_revision_ids"] is None
    frame = stores.factors.factors_frame()
    assert frame["value_numeric"].dtype == "float64"
    values = frame.set_index("factor_name")["value_numeric"]
    assert values["bank_revenue"] == 1234.56 and math.isnan(values["bank_months"])


def _seed_matrix(stores: Stores) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {
        "uw_a": {"bank_revenue": 1000.5, "bank_nsf_count": 2, "dl_expired": False,
                 "sos_entity_name": "Sunrise Bakery LLC", "dl_expiration_date": "2029-03-09",
                 "bank_months": ["2024-01", "2024-02"], "biz_risk_flags": [],
                 "bank_all_statements_reconcile": None},
        "uw_b": {"bank_revenue": 12.25, "dl_expired": True, "tax_year": 2023,
                 "bank_revenue_by_month": {"2024-01": 12.25}},
        "uw_c": {},  # created, nothing computed yet: still one row
    }
    for underwriting_id, factors in cases.items():
        stores.underwritings.upsert_underwriting(underwriting_id, "org_1", "Biz " + underwriting_id)
        stores.factors.replace_factors(underwriting_id, "org_1", [
            FactorRow(name, value, "p_x") for name, value in factors.items()])
    stores.underwritings.record_completion("uw_a", "completed")
    return cases


def _same(expected: Any, actual: Any, factor_type: str) -> bool:
    if expected is None:
        return actual is None or actual is pd.NA or (isinstance(actual, float)
                                                     and math.isnan(actual))
    if factor_type in ("list", "object"):
        return (json.loads(actual) if isinstance(actual, str) else actual) == expected
    if factor_type == "date":
        return str(actual)[:10] == expected
    if factor_type == "boolean":
        return bool(actual) is expected
    return actual == expected


def test_factor_matrix_view_and_frame_have_one_row_per_underwriting_with_long_values(
        stores: Stores) -> None:
    cases = _seed_matrix(stores)
    frame = stores.factors.factor_matrix_frame()
    with stores.db.engine.connect() as conn:
        view = pd.read_sql(sa.text(f"SELECT * FROM {FACTOR_MATRIX_VIEW} "
                                   "ORDER BY underwriting_id"), conn)
    long = stores.factors.factors_frame()
    for matrix in (frame, view):
        assert list(matrix["underwriting_id"]) == sorted(cases)
        assert set(TYPES) <= set(matrix.columns)
        indexed = matrix.set_index("underwriting_id")
        for row in long.itertuples():  # every long value is in its cell, typed
            cell = indexed.loc[row.underwriting_id, row.factor_name]
            assert _same(row.value, cell, TYPES[row.factor_name]), (row.factor_name, cell)
        assert indexed.loc["uw_c", list(TYPES)].isna().all()
    assert frame["bank_revenue"].dtype == "float64"
    assert frame["bank_nsf_count"].dtype == "Int64"
    assert frame["dl_expired"].dtype == "boolean"
    assert str(frame["dl_expiration_date"].dtype).startswith("datetime64")
    assert frame.set_index("underwriting_id").loc["uw_a", "status"] == "completed"
    assert frame.set_index("underwriting_id").loc["uw_a", "completed_at"] is not None


def test_migration_0002_converts_existing_ids_in_place(backend: str,
                                                      request: pytest.FixtureRequest,
                                                      tmp_path: Path) -> None:
    url = (f"sqlite+pysqlite:///{tmp_path / 'old.sqlite3'}" if backend == "sqlite"
           else str(request.getfixturevalue("postgres_url")))
    db = Database(url)
    try:
        db.upgrade("0001")
        old = sa.MetaData()
        with db.engine.begin() as conn:
            tables = {n: sa.Table(n, old, autoload_with=conn) for n in (
                "underwritings", "purchased_processors", "underwriting_processors",
                "processor_executions", "underwriting_factors", "decision_traces")}
            now = dt.datetime(2026, 1, 1)
            pp, up, ex = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            # What 0001 stored: 32 hex characters on SQLite, native uuid on PostgreSQL.
            as_stored: Any = (lambda u: u.hex) if backend == "sqlite" else (lambda u: u)
            conn.execute(tables["underwritings"].insert().values(
                id="uw_1", organization_id="org_1", status="completed", created_at=now,
                updated_at=now))
            conn.execute(tables["purchased_processors"].insert().values(
                id=as_stored(pp), organization_id="org_1", processor="p", name="p", auto=True,
                status="active", config={}, price_amount=0, price_unit="x", purchased_at=now,
                updated_at=now))
            conn.execute(tables["underwriting_processors"].insert().values(
                id=as_stored(up), organization_id="org_1", underwriting_id="uw_1",
                purchased_processor_id=as_stored(pp), processor="p", name="p", auto=True,
                enabled=True, config_override={}, effective_config={},
                current_executions_list=[str(ex)] if backend == "sqlite" else [ex],
                created_at=now, updated_at=now))
            conn.execute(tables["processor_executions"].insert().values(
                id=as_stored(ex), organization_id="org_1", underwriting_id="uw_1",
                underwriting_processor_id=as_stored(up), processor="p", status="completed",
                enabled=True, payload_hash="h", document_revision_ids=[], run_cost_cents=0,
                attempt=1, created_at=now, updated_at=now))
            conn.execute(tables["underwriting_factors"].insert().values(
                underwriting_id="uw_1", factor_name="f", organization_id="org_1", value=1,
                processor="p", execution_id=as_stored(ex), produced_at=now))
            conn.execute(tables["decision_traces"].insert().values(
                id=as_stored(uuid.uuid4()), request_id=str(ex), orchestrator_name="p",
                organization_id="org_1", execution_id=as_stored(ex), sequence_number=1,
                decision_point="d", decision="x", created_at=now))
        db.upgrade()
        with db.engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT e.id, e.underwriting_processor_id, f.execution_id, t.request_id, "
                "u.purchased_processor_id FROM processor_executions e "
                "JOIN underwriting_factors f ON f.execution_id = e.id "
                "JOIN decision_traces t ON t.request_id = e.id "
                "JOIN underwriting_processors u ON u.id = e.underwriting_processor_id")).one()
        assert list(row) == [str(ex), str(up), str(ex), str(ex), str(pp)]
        stores = Stores(db)
        listed = stores.processors.get_underwriting_processors("uw_1")[0]
        assert listed["current_executions_list"] == [str(ex)]
        assert stores.executions.get_execution_by_id(str(ex))["status"] == "completed"
        db.downgrade("0001")  # and back: 0002 is reversible
        with db.engine.connect() as conn:
            back = conn.execute(sa.text("SELECT id FROM processor_executions")).scalar_one()
        assert str(back).replace("-", "") == ex.hex
    finally:
        db.dispose()
