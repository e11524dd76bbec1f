"""ProcessorRepository: catalog, purchases, provisioning, config resolution."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aura_dagster.storage import ProcessorRepository, Stores, TenantMismatchError
from aura_dagster.storage.errors import NotFoundError
from aura_dagster.storage.repositories._common import deep_merge


def test_catalog_from_mapping(stores: Stores) -> None:
    entries = {e["processor"]: e for e in stores.processors.get_processor_catalog()}
    assert set(entries) == {"p_bank_statement", "p_secretary_of_state", "p_tax_return"}
    assert entries["p_bank_statement"]["version"] == "1.2.0"
    assert entries["p_bank_statement"]["document_types"] == ["bank_statement"]
    assert entries["p_secretary_of_state"]["api_pool"] == "opencorporates"


def test_default_catalog_is_the_registry_imported_lazily(stores: Stores) -> None:
    repo = ProcessorRepository(stores.db)
    assert repo._catalog is None  # nothing imported at construction


def test_purchases_and_filters(stores: Stores) -> None:
    repo = stores.processors
    bank = repo.create_purchased_processor("org_1", "p_bank_statement", price_amount=50,
                                           purchased_by="user_9", config={"x": 1})
    assert bank["name"] == "Bank statements" and bank["auto"] is True
    assert bank["config"] == {"x": 1} and bank["price_amount"] == 50
    repo.create_purchased_processor("org_1", "p_secretary_of_state", auto=False)
    repo.create_purchased_processor("org_1", "p_tax_return", status="disabled")
    repo.create_purchased_processor("org_1", "p_unused", status="deleted")
    names = lambda rows: [r["processor"] for r in rows]  # noqa: E731
    assert names(repo.get_purchased_processors_by_organization("org_1")) == [
        "p_bank_statement", "p_secretary_of_state", "p_tax_return"]
    assert names(repo.get_purchased_processors_by_organization("org_1", enabled_only=True)) == [
        "p_bank_statement", "p_secretary_of_state"]
    assert names(repo.get_purchased_processors_by_organization(
        "org_1", enabled_only=True, auto_only=True)) == ["p_bank_statement"]
    assert repo.get_purchased_processor_by_id(bank["id"])["purchased_by"] == "user_9"
    assert repo.get_processor_by_name("p_bank_statement", "org_1")["id"] == bank["id"]
    assert repo.get_processor_by_name("p_unused", "org_1") is None
    with pytest.raises(ValueError):
        repo.create_purchased_processor("org_1", "p_x", status="paused")
    changed = repo.update_purchased_processor(bank["id"], status="disabled", config={"x": 2})
    assert (changed["status"], changed["config"]) == ("disabled", {"x": 2})


def test_provisioning_from_active_purchases_is_idempotent(stores: Stores) -> None:
    repo = stores.processors
    repo.create_purchased_processor("org_1", "p_bank_statement")
    repo.create_purchased_processor("org_1", "p_secretary_of_state", auto=False)
    repo.create_purchased_processor("org_1", "p_tax_return", status="disabled")
    first = repo.provision_underwriting_processors("uw_1", "org_1")
    assert [u["processor"] for u in first] == ["p_bank_statement", "p_secretary_of_state"]
    assert stores.underwritings.get_underwriting("uw_1")["organization_id"] == "org_1"
    repo.create_purchased_processor("org_1", "p_tax_return")  # bought later
    again = repo.provision_underwriting_processors("uw_1", "org_1")
    assert [u["id"] for u in again] == [u["id"] for u in first]  # the first time only
    assert first[0]["current_executions_list"] == [] and first[0]["enabled"] is True
    assert first[0]["effective_config"]["cost_cents"] == 50
    with pytest.raises(TenantMismatchError):
        repo.provision_underwriting_processors("uw_1", "org_2")


def test_concurrent_provisioning_creates_one_set(stores: Stores) -> None:
    stores.processors.create_purchased_processor("org_1", "p_bank_statement")
    stores.processors.create_purchased_processor("org_1", "p_tax_return")
    results: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    def provision() -> None:
        try:
            results.append(stores.processors.provision_underwriting_processors("uw_c", "org_1"))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=provision) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stores.processors.get_underwriting_processors("uw_c")) == 2
    assert all(len(r) == 2 for r in results)


def test_underwriting_processor_filters(stores: Stores, provisioned: dict[str, Any]) -> None:
    repo = stores.processors
    all_ups = repo.get_underwriting_processors("uw_1")
    assert len(all_ups) == 2
    assert [u["processor"] for u in repo.get_underwriting_processors(
        "uw_1", auto_only=True)] == ["p_bank_statement"]
    repo.set_underwriting_processor_enabled(provisioned["bank_up"]["id"], False)
    assert [u["processor"] for u in repo.get_underwriting_processors(
        "uw_1", enabled_only=True)] == ["p_secretary_of_state"]
    assert repo.get_underwriting_processors("uw_1", enabled_only=True, auto_only=True) == []
    up = repo.get_underwriting_processor_by_id(provisioned["sos_up"]["id"])
    assert up["purchased_processor_id"] == provisioned["sos_purchase"]["id"]


def test_effective_config_deep_merges_system_tenant_underwriting(
        stores: Stores, provisioned: dict[str, Any]) -> None:
    repo = stores.processors
    up_id = provisioned["bank_up"]["id"]
    # tenant set thresholds.nsf_max = 5 on top of the system default
    assert repo.get_effective_config(up_id) == {
        "timeout_seconds": 60.0, "cost_cents": 50, "lookback_months": 6,
        "thresholds": {"nsf_max": 5, "min_balance": 1000, "weights": {"a": 1, "b": 2}},
    }
    updated = repo.set_config_override(up_id, {
        "thresholds": {"min_balance": 500, "weights": {"b": 3}}, "lookback_months": 12})
    expected = {
        "timeout_seconds": 60.0, "cost_cents": 50, "lookback_months": 12,
        "thresholds": {"nsf_max": 5, "min_balance": 500, "weights": {"a": 1, "b": 3}},
    }
    assert updated["effective_config"] == expected
    assert repo.get_effective_config(up_id) == expected
    # a tenant change shows through on the next resolution
    repo.update_purchased_processor(provisioned["bank_purchase"]["id"],
                                    config={"thresholds": {"nsf_max": 2}, "cost_cents": 75})
    resolved = repo.get_effective_config(up_id)
    assert resolved["thresholds"]["nsf_max"] == 2 and resolved["cost_cents"] == 75
    assert repo.get_underwriting_processor_by_id(up_id)["effective_config"] == resolved
    with pytest.raises(NotFoundError):
        repo.get_effective_config("00000000-0000-0000-0000-000000000000")


def test_deep_merge_rules() -> None:
    assert deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}}, {"a": {"z": 4}}) == {
        "a": {"x": 1, "y": 3, "z": 4}, "b": 1}
    assert deep_merge({"a": {"x": 1}}, {"a": 5}) == {"a": 5}  # a scalar replaces a dict
    assert deep_merge({"a": 5}, {"a": {"x": 1}}) == {"a": {"x": 1}}
    base = {"a": {"x": 1}}
    deep_merge(base, {"a": {"x": 2}})
    assert base == {"a": {"x": 1}}  # inputs are not mutated


def test_update_current_executions_list(stores: Stores, provisioned: dict[str, Any]) -> None:
    up_id = provisioned["bank_up"]["id"]
    ids = ["0190a1b2-0000-7000-8000-000000000001", "0190a1b2-0000-7000-8000-000000000002"]
    assert stores.processors.update_current_executions_list(up_id, ids) is True
    assert stores.processors.get_underwriting_processor_by_id(up_id)[
        "current_executions_list"] == ids
    assert stores.processors.update_current_executions_list(
        "00000000-0000-0000-0000-000000000000", ids) is False
    with pytest.raises(ValueError):
        stores.processors.update_current_executions_list(up_id, ["uw_1'; DROP TABLE x; --"])
