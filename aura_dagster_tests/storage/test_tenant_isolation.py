"""Every repository method that takes an organization never returns another one's rows.

Two tenants get the same shape of data; each method is called with the other tenant's
organization on this tenant's ids (nothing comes back, or the write is refused) and with its
own (only its rows come back).
"""

from __future__ import annotations

from typing import Any

import pytest

from aura_dagster.domain.processors.base import DecisionTrace, Evidence, new_execution_id
from aura_dagster.storage import FactorRow, Stores, TenantMismatchError, UnknownDocumentError
from aura_dagster.storage.errors import NotFoundError

ORGS = ("org_a", "org_b")


@pytest.fixture
def tenants(stores: Stores) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = {}
    for org in ORGS:
        uw = f"uw_{org}"
        stores.underwritings.upsert_underwriting(uw, org, f"{org} LLC", "CA")
        stores.underwritings.upsert_document(f"doc_{org}", uw, revision_id="r1")
        purchase = stores.processors.create_purchased_processor(org, "p_bank_statement")
        (up,) = stores.processors.provision_underwriting_processors(uw, org)
        exec_id = stores.executions.create_execution(
            uw, up["id"], org, "p_bank_statement", {}, "same-hash",
            execution_id=new_execution_id(), run_id=f"run_{org}")
        stores.executions.update_execution_status(exec_id, "running")
        stores.executions.save_execution_result(exec_id, {"f": 1}, {"f": 1})
        stores.factors.replace_factors(uw, org, [FactorRow("f_shared", 1, "p_bank_statement")])
        stores.traces.add_traces(f"req_{org}", "p", [DecisionTrace("a", "b")],
                                 organization_id=org, underwriting_id=uw)
        stores.traces.add_evidence(f"req_{org}", "p", [Evidence("t", {"x": 1})],
                                   organization_id=org, underwriting_id=uw)
        stores.audit.record("run_started", organization_id=org, underwriting_id=uw,
                            run_id=f"run_{org}")
        data[org] = {"uw": uw, "doc": f"doc_{org}", "purchase": purchase["id"],
                     "up": up["id"], "exec": exec_id, "req": f"req_{org}",
                     "run": f"run_{org}"}
    return data


def _orgs(rows: list[dict[str, Any]]) -> set[str]:
    return {r["organization_id"] for r in rows}


def test_underwriting_repository(stores: Stores, tenants: dict[str, Any]) -> None:
    repo = stores.underwritings
    a = tenants["org_a"]
    assert repo.get_underwriting(a["uw"], "org_b") is None
    assert repo.get_underwriting(a["uw"], "org_a")["organization_id"] == "org_a"
    assert [u["id"] for u in repo.list_underwritings("org_b")] == ["uw_org_b"]
    with pytest.raises(NotFoundError):
        repo.set_status(a["uw"], "failed", organization_id="org_b")
    assert repo.get_underwriting(a["uw"])["status"] == "created"
    with pytest.raises(TenantMismatchError):
        repo.upsert_underwriting(a["uw"], "org_b")
    with pytest.raises(TenantMismatchError):
        repo.upsert_document("doc_new", a["uw"], organization_id="org_b")
    assert repo.get_documents(a["uw"], organization_id="org_b") == []
    with pytest.raises(UnknownDocumentError):
        repo.get_documents(a["uw"], [a["doc"]], organization_id="org_b")
    assert [d["id"] for d in repo.get_documents(a["uw"], organization_id="org_a")] == [a["doc"]]
    with pytest.raises(UnknownDocumentError):
        repo.update_document(a["doc"], processing_status="failed", organization_id="org_b")
    assert repo.get_documents(a["uw"])[0]["processing_status"] == "received"


def test_processor_repository(stores: Stores, tenants: dict[str, Any]) -> None:
    repo = stores.processors
    a = tenants["org_a"]
    assert repo.get_purchased_processor_by_id(a["purchase"], "org_b") is None
    assert repo.get_purchased_processor_by_id(a["purchase"], "org_a") is not None
    assert _orgs(repo.get_purchased_processors_by_organization("org_b")) == {"org_b"}
    assert _orgs(repo.get_purchased_processors_by_organization(
        "org_b", enabled_only=True, auto_only=True)) == {"org_b"}
    assert repo.get_processor_by_name("p_bank_statement", "org_b")["id"] != a["purchase"]
    assert repo.get_processor_by_name("p_bank_statement", "org_c") is None
    with pytest.raises(NotFoundError):
        repo.update_purchased_processor(a["purchase"], status="disabled", organization_id="org_b")
    with pytest.raises(TenantMismatchError):
        repo.provision_underwriting_processors(a["uw"], "org_b")
    assert repo.get_underwriting_processor_by_id(a["up"], "org_b") is None
    assert repo.get_underwriting_processor_by_id(a["up"], "org_a") is not None
    assert repo.get_underwriting_processors(a["uw"], organization_id="org_b") == []
    assert _orgs(repo.get_underwriting_processors(a["uw"], organization_id="org_a")) == {"org_a"}


def test_execution_repository(stores: Stores, tenants: dict[str, Any]) -> None:
    repo = stores.executions
    a = tenants["org_a"]
    assert repo.get_execution_by_id(a["exec"], "org_b") is None
    assert repo.get_execution_by_id(a["exec"], "org_a") is not None
    assert repo.get_active_executions(a["up"], "org_b") == []
    assert [e["id"] for e in repo.get_active_executions(a["up"], "org_a")] == [a["exec"]]
    assert repo.get_executions_by_underwriting(a["uw"], organization_id="org_b") == []
    assert _orgs(repo.get_executions_by_underwriting(a["uw"], organization_id="org_a")) == {
        "org_a"}
    assert repo.get_execution_count(a["uw"], organization_id="org_b") == 0
    assert repo.get_execution_count(a["uw"], organization_id="org_a") == 1
    with pytest.raises(TenantMismatchError):
        repo.create_execution(a["uw"], a["up"], "org_b", "p_bank_statement", {}, "h")


def test_factor_repository(stores: Stores, tenants: dict[str, Any]) -> None:
    repo = stores.factors
    a = tenants["org_a"]
    assert repo.get_factors(a["uw"], "org_b") == []
    assert repo.get_factor_map(a["uw"], "org_b") == {}
    assert _orgs(repo.get_factors(a["uw"], "org_a")) == {"org_a"}
    assert _orgs(repo.get_factor_across_underwritings("f_shared", "org_b")) == {"org_b"}
    assert len(repo.get_factor_across_underwritings("f_shared")) == 2
    assert _orgs(repo.factor_records("org_b")) == {"org_b"}
    assert repo.factor_records("org_b", underwriting_ids=[a["uw"]]) == []
    assert set(repo.factors_frame("org_a")["organization_id"]) == {"org_a"}
    with pytest.raises(TenantMismatchError):
        repo.replace_factors(a["uw"], "org_b", [FactorRow("f_x", 1, "p")])
    assert [f["factor_name"] for f in repo.get_factors(a["uw"])] == ["f_shared"]


def test_trace_and_audit_repositories(stores: Stores, tenants: dict[str, Any]) -> None:
    a = tenants["org_a"]
    assert stores.traces.get_traces(a["req"], "org_b") == []
    assert _orgs(stores.traces.get_traces(a["req"], "org_a")) == {"org_a"}
    assert stores.traces.get_evidence(a["req"], "org_b") == []
    assert _orgs(stores.traces.get_evidence(a["req"], "org_a")) == {"org_a"}
    assert stores.traces.get_traces_for_underwriting(a["uw"], "org_b") == []
    assert _orgs(stores.traces.get_traces_for_underwriting(a["uw"], "org_a")) == {"org_a"}
    assert stores.audit.list_for_underwriting(a["uw"], "org_b") == []
    assert _orgs(stores.audit.list_for_underwriting(a["uw"], "org_a")) == {"org_a"}
    assert stores.audit.list_for_run(a["run"], "org_b") == []
    assert _orgs(stores.audit.list_for_run(a["run"], "org_a")) == {"org_a"}


def test_hostile_ids_are_parameters_not_sql(stores: Stores, tenants: dict[str, Any]) -> None:
    hostile = "uw_org_a' OR '1'='1"
    assert stores.underwritings.get_underwriting(hostile) is None
    assert stores.factors.get_factors(hostile) == []
    assert stores.executions.get_executions_by_underwriting(hostile) == []
    with pytest.raises(ValueError):  # internal ids must parse as UUIDs before any SQL
        stores.executions.get_execution_by_id("1 OR 1=1")
