"""FactorRepository: atomic replacement, numeric column, lookups, frames."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from aura_dagster.domain.processors.base import new_execution_id
from aura_dagster.storage import FactorRow, Stores, TenantMismatchError, numeric_value
from aura_dagster.storage.errors import NotFoundError

ROWS = [
    FactorRow("f_avg_daily_balance", Decimal("12345.67"), "p_bank_statement"),
    {"factor_name": "f_nsf_count", "value": 3, "processor": "p_bank_statement"},
    FactorRow("f_has_stacking", True, "p_bank_statement"),
    FactorRow("f_entity_status", "active", "p_secretary_of_state"),
    FactorRow("f_monthly_revenue", [45000.5, 47000.25], "p_bank_statement"),
    FactorRow("f_ratio", 0.031234, "p_bank_statement"),
]


def test_numeric_value_rules() -> None:
    assert numeric_value(3) == Decimal(3)
    assert numeric_value(0.1) == Decimal("0.1")
    assert numeric_value(Decimal("1.50")) == Decimal("1.50")
    for not_numeric in (True, False, "12", None, [1], float("nan"), float("inf"), 10**25):
        assert numeric_value(not_numeric) is None


def test_replace_and_read(stores: Stores) -> None:
    stores.underwritings.upsert_underwriting("uw_1", "org_1")
    repo = stores.factors
    assert repo.replace_factors("uw_1", "org_1", ROWS) == len(ROWS)
    rows = {r["factor_name"]: r for r in repo.get_factors("uw_1")}
    assert rows["f_avg_daily_balance"]["value"] == 12345.67  # JSON leaves as a number
    assert rows["f_avg_daily_balance"]["value_numeric"] == Decimal("12345.67")  # exact Decimal
    assert rows["f_nsf_count"]["value_numeric"] == 3
    assert rows["f_has_stacking"]["value"] is True
    assert rows["f_has_stacking"]["value_numeric"] is None
    assert rows["f_entity_status"]["value_numeric"] is None
    assert rows["f_monthly_revenue"]["value"] == [45000.5, 47000.25]
    assert rows["f_ratio"]["value_numeric"] == Decimal("0.031234")
    assert rows["f_nsf_count"]["produced_at"].tzinfo is dt.UTC
    assert repo.get_factor_map("uw_1")["f_entity_status"] == "active"

    repo.replace_factors("uw_1", "org_1", [FactorRow("f_nsf_count", 4, "p_bank_statement")])
    assert [(r["factor_name"], r["value"]) for r in repo.get_factors("uw_1")] == [
        ("f_nsf_count", 4)]


def test_replace_links_execution(stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    exec_id = stores.executions.create_execution("uw_1", up["id"], "org_1", up["processor"], {},
                                                 "h", execution_id=new_execution_id())
    stores.factors.replace_factors("uw_1", "org_1", [
        FactorRow("f_nsf_count", 1, "p_bank_statement", execution_id=exec_id)])
    assert stores.factors.get_factors("uw_1")[0]["execution_id"] == exec_id


def test_replace_is_atomic(stores: Stores) -> None:
    stores.underwritings.upsert_underwriting("uw_1", "org_1")
    repo = stores.factors
    repo.replace_factors("uw_1", "org_1", ROWS)
    # an execution id that does not exist fails the foreign key after the delete ran
    broken = [FactorRow("f_new", 1, "p_bank_statement"),
              FactorRow("f_bad", 2, "p_bank_statement", execution_id=new_execution_id())]
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError
        repo.replace_factors("uw_1", "org_1", broken)
    assert len(repo.get_factors("uw_1")) == len(ROWS)
    with pytest.raises(ValueError):
        repo.replace_factors("uw_1", "org_1", [FactorRow("f", 1, "p"), FactorRow("f", 2, "p")])
    assert len(repo.get_factors("uw_1")) == len(ROWS)


def test_replace_checks_the_owner(stores: Stores) -> None:
    stores.underwritings.upsert_underwriting("uw_1", "org_1")
    with pytest.raises(TenantMismatchError):
        stores.factors.replace_factors("uw_1", "org_2", ROWS)
    with pytest.raises(NotFoundError):
        stores.factors.replace_factors("uw_missing", "org_1", ROWS)


def test_factor_across_underwritings_and_frame(stores: Stores) -> None:
    for uw, org, n in (("uw_1", "org_1", 1), ("uw_2", "org_1", 2), ("uw_3", "org_2", 3)):
        stores.underwritings.upsert_underwriting(uw, org)
        stores.factors.replace_factors(uw, org, [
            FactorRow("f_nsf_count", n, "p_bank_statement"),
            FactorRow("f_entity_status", "active", "p_secretary_of_state")])
    across = stores.factors.get_factor_across_underwritings("f_nsf_count")
    assert [(r["underwriting_id"], r["value"]) for r in across] == [
        ("uw_1", 1), ("uw_2", 2), ("uw_3", 3)]
    assert len(stores.factors.get_factor_across_underwritings("f_nsf_count", limit=2)) == 2
    frame = stores.factors.factors_frame("org_1", factor_names=["f_nsf_count"])
    assert list(frame["underwriting_id"]) == ["uw_1", "uw_2"]
    assert {"value", "value_numeric", "processor", "execution_id"} <= set(frame.columns)
    records = stores.factors.factor_records(underwriting_ids=["uw_3"])
    assert [r["factor_name"] for r in records] == ["f_entity_status", "f_nsf_count"]
