"""ExecutionRepository: lifecycle, status rules, dedup, supersession, rollback, consolidation."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from aura_dagster.domain.hashing import document_ids_hash as compute_document_ids_hash
from aura_dagster.domain.hashing import execution_payload, payload_hash
from aura_dagster.domain.processors.base import new_execution_id
from aura_dagster.storage import (
    IllegalStatusTransitionError,
    Stores,
    TenantMismatchError,
)
from aura_dagster.storage.repositories.executions import allowed_previous_statuses
from aura_dagster.storage.schema import processor_executions


def _create(stores: Stores, up: dict[str, Any], payload_hash: str = "h1",
            **kwargs: Any) -> str:
    return stores.executions.create_execution(
        underwriting_id=up["underwriting_id"], underwriting_processor_id=up["id"],
        organization_id=up["organization_id"], processor_name=up["processor"],
        payload={"documents": ["doc_1"]}, payload_hash=payload_hash,
        document_revision_ids=["rev_1", "rev_2"], document_ids_hash="dh", **kwargs)


def _complete(stores: Stores, up: dict[str, Any], payload_hash: str, value: float) -> str:
    exec_id = _create(stores, up, payload_hash, execution_id=new_execution_id())
    stores.executions.update_execution_status(exec_id, "running")
    stores.executions.save_execution_result(exec_id, {"factors": {"f_rev": value}},
                                            {"f_rev": value}, run_cost_cents=50)
    return exec_id


def test_create_with_given_or_generated_id(stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    given = new_execution_id()
    assert _create(stores, up, execution_id=given, processor_version="1.2.0", run_id="run_1") \
        == given
    row = stores.executions.get_execution_by_id(given)
    assert row["status"] == "pending" and row["enabled"] is True
    assert row["document_revision_ids"] == ["rev_1", "rev_2"]
    assert row["payload"] == {"documents": ["doc_1"]}
    assert (row["processor_version"], row["run_id"], row["attempt"]) == ("1.2.0", "run_1", 1)
    generated = _create(stores, up)
    assert stores.executions.get_execution_by_id(generated)["id"] == generated
    assert stores.executions.get_execution_count("uw_1") == 2
    assert stores.executions.get_execution_count("uw_1", "p_secretary_of_state") == 0


def test_create_rejects_a_processor_of_another_tenant_or_underwriting(
        stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    with pytest.raises(TenantMismatchError):
        stores.executions.create_execution("uw_1", up["id"], "org_2", up["processor"], {}, "h")
    with pytest.raises(TenantMismatchError):
        stores.executions.create_execution("uw_2", up["id"], "org_1", up["processor"], {}, "h")
    with pytest.raises(ValueError):
        stores.executions.create_execution("uw_1", up["id"], "org_1", "p_tax_return", {}, "h")


def test_full_lifecycle(stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    repo = stores.executions
    exec_id = _create(stores, up)
    started = dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.UTC)
    assert repo.update_execution_status(exec_id, "running", started_at=started)
    assert repo.save_execution_result(
        exec_id, {"monthly_revenues": [45000.0]}, {"f_avg_revenue": 45000.0},
        run_cost_cents=50, confidence=0.92, execution_time_ms=1234)
    row = repo.get_execution_by_id(exec_id)
    assert row["status"] == "completed" and row["started_at"] == started
    assert row["completed_at"] is not None and row["completed_at"].tzinfo is dt.UTC
    assert row["factors_delta"] == {"f_avg_revenue": 45000.0}
    assert (row["run_cost_cents"], row["confidence"], row["execution_time_ms"]) == (50, 0.92, 1234)
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [exec_id]
    assert repo.get_executions_by_underwriting("uw_1", "p_bank_statement", "completed")[0][
        "id"] == exec_id
    assert repo.get_executions_by_underwriting("uw_1", status="failed") == []
    assert repo.update_execution_status(new_execution_id(), "running") is False


@pytest.mark.parametrize("path, illegal", [
    (["running", "completed"], "running"),
    (["running", "failed"], "completed"),
    (["running"], "pending"),
    (["running"], "running"),
    (["timeout"], "running"),
    (["cancelled"], "failed"),
])
def test_status_only_moves_forward(stores: Stores, provisioned: dict[str, Any],
                                   path: list[str], illegal: str) -> None:
    exec_id = _create(stores, provisioned["bank_up"])
    for status in path:
        stores.executions.update_execution_status(exec_id, status)
    with pytest.raises(IllegalStatusTransitionError) as err:
        stores.executions.update_execution_status(exec_id, illegal)
    assert (err.value.current, err.value.requested) == (path[-1], illegal)
    assert stores.executions.get_execution_by_id(exec_id)["status"] == path[-1]


def test_transition_table() -> None:
    assert allowed_previous_statuses("running") == ["pending"]
    assert set(allowed_previous_statuses("timeout")) == {"pending", "running"}
    assert allowed_previous_statuses("pending") == []
    with pytest.raises(ValueError):
        allowed_previous_statuses("done")


def test_failure_fields_and_cancel_for_run(stores: Stores, provisioned: dict[str, Any]) -> None:
    repo = stores.executions
    failed = _create(stores, provisioned["bank_up"], run_id="run_9")
    repo.update_execution_status(failed, "running")
    repo.update_execution_status(failed, "failed", failed_code="PARSE_ERROR",
                                 failed_reason="bad csv", error_class="permanent")
    row = repo.get_execution_by_id(failed)
    assert (row["failed_code"], row["failed_reason"], row["error_class"]) == (
        "PARSE_ERROR", "bad csv", "permanent")
    with pytest.raises(ValueError):
        repo.update_execution_status(_create(stores, provisioned["bank_up"]), "failed",
                                     error_class="fatal")
    running = _create(stores, provisioned["sos_up"], run_id="run_9", status="running")
    assert repo.cancel_unfinished_for_run("run_9") == 1
    assert repo.get_execution_by_id(running)["status"] == "cancelled"
    assert repo.get_execution_by_id(failed)["status"] == "failed"


def test_concurrent_transitions_only_one_wins(stores: Stores, provisioned: dict[str, Any]) -> None:
    exec_id = _create(stores, provisioned["bank_up"])
    stores.executions.update_execution_status(exec_id, "running")
    outcomes: list[str] = []

    def finish(status: str) -> None:
        try:
            stores.executions.update_execution_status(exec_id, status)
            outcomes.append("ok")
        except IllegalStatusTransitionError:
            outcomes.append("illegal")

    threads = [threading.Thread(target=finish, args=(s,))
               for s in ("completed", "failed", "timeout", "cancelled")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["illegal", "illegal", "illegal", "ok"]


def compute_payload_hash(version: str, config: dict[str, Any], revisions: list[str]) -> str:
    """The engine's payload hash (domain.hashing) for the bank statement processor."""
    return payload_hash(execution_payload(
        processor_id="p_bank_statement", processor_version=version, effective_config=config,
        document_revision_ids=revisions))


def test_payload_hash_dedup(stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    config = stores.processors.get_effective_config(up["id"])
    h = compute_payload_hash("1.2.0", config, ["rev_2", "rev_1"])
    assert h == compute_payload_hash("1.2.0", dict(reversed(config.items())), ["rev_1", "rev_2"])
    assert h != compute_payload_hash("1.2.1", config, ["rev_1", "rev_2"])
    assert h != compute_payload_hash("1.2.0", {**config, "lookback_months": 3}, ["rev_1", "rev_2"])
    assert h != compute_payload_hash("1.2.0", config, ["rev_1", "rev_3"])
    assert compute_document_ids_hash(["b", "a"]) == compute_document_ids_hash(["a", "b"])

    repo = stores.executions
    assert repo.find_execution_by_hash(up["id"], h) is None
    failed = _create(stores, up, h)
    repo.update_execution_status(failed, "failed")
    assert repo.find_execution_by_hash(up["id"], h)["id"] == failed
    done = _complete(stores, up, h, 1.0)
    later_failure = _create(stores, up, h)
    repo.update_execution_status(later_failure, "timeout")
    assert repo.find_execution_by_hash(up["id"], h)["id"] == done  # completed preferred
    assert repo.find_execution_by_hash(up["id"], h, status="timeout")["id"] == later_failure
    assert repo.find_execution_by_hash(provisioned["sos_up"]["id"], h) is None


def test_supersession_chain_both_ways(stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    repo = stores.executions
    first = _complete(stores, up, "h1", 1.0)
    second = _complete(stores, up, "h2", 2.0)
    third = _complete(stores, up, "h3", 3.0)
    rows = {i: repo.get_execution_by_id(i) for i in (first, second, third)}
    assert rows[first]["updated_execution_id"] == second and rows[first]["enabled"] is False
    assert rows[first]["disabled_at"] is not None
    assert rows[second]["updated_execution_id"] == third
    assert rows[third]["updated_execution_id"] is None and rows[third]["enabled"] is True
    assert stores.processors.get_underwriting_processor_by_id(up["id"])[
        "current_executions_list"] == [third]
    chain = [first, second, third]
    for start in chain:
        assert [e["id"] for e in repo.get_execution_chain(start)] == chain
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [third]
    assert repo.get_execution_chain(new_execution_id()) == []


def test_mark_superseded_and_supersede_active(stores: Stores,
                                              provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    repo = stores.executions
    old = _complete(stores, up, "h1", 1.0)
    new = _create(stores, up, "h2")
    repo.update_execution_status(new, "running")
    repo.update_execution_status(new, "completed")  # a plain status move supersedes nothing
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [old]
    assert repo.mark_execution_superseded(old, new) is True
    assert repo.get_execution_by_id(old)["updated_execution_id"] == new
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [new]
    assert repo.mark_execution_superseded(old, new_execution_id()) is False

    newest = _create(stores, up, "h3")
    repo.update_execution_status(newest, "completed")
    assert repo.supersede_active(up["id"], newest) == [new]
    assert stores.processors.get_underwriting_processor_by_id(up["id"])[
        "current_executions_list"] == [newest]
    assert [e["id"] for e in repo.get_execution_chain(old)] == [old, new, newest]


def test_active_executions_need_enabled_listed_and_completed(
        stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    repo = stores.executions
    a = _complete(stores, up, "h1", 1.0)
    b = _create(stores, up, "h2")
    c = _create(stores, up, "h3")
    repo.update_execution_status(c, "completed")
    stores.processors.update_current_executions_list(up["id"], [c, a, b])  # b still pending
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [c, a]
    assert repo.deactivate_execution(c) is True
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [a]
    assert repo.activate_execution(c) is True
    assert repo.get_execution_by_id(c)["disabled_at"] is None
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [c, a]
    assert repo.activate_execution(new_execution_id()) is False


def test_rollback_reactivates_older_execution(stores: Stores,
                                              provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    repo = stores.executions
    first = _complete(stores, up, "h1", 1.0)
    second = _complete(stores, up, "h2", 2.0)
    third = _complete(stores, up, "h3", 3.0)
    assert repo.rollback_to(first) == [first]
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [first]
    assert repo.get_execution_by_id(first)["disabled_at"] is None
    assert repo.get_execution_by_id(third)["enabled"] is False
    # the history stays walkable after the rollback
    assert [e["id"] for e in repo.get_execution_chain(first)] == [first, second, third]
    assert repo.rollback_to(third) == [third]  # and forward again
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [third]
    assert repo.get_execution_by_id(first)["enabled"] is False
    assert repo.rollback_to(third) == [third]  # already active: no change
    pending = _create(stores, up, "h4")
    with pytest.raises(Exception, match="only a completed execution"):
        repo.rollback_to(pending)


def test_rollback_is_one_transaction(stores: Stores, provisioned: dict[str, Any],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    up = provisioned["bank_up"]
    repo = stores.executions
    first = _complete(stores, up, "h1", 1.0)
    second = _complete(stores, up, "h2", 2.0)

    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("crash after disabling the newer execution")

    monkeypatch.setattr(type(repo), "_write_current_list", staticmethod(crash))
    with pytest.raises(RuntimeError):
        repo.rollback_to(first)
    monkeypatch.undo()
    assert repo.get_execution_by_id(second)["enabled"] is True  # nothing half-written
    assert repo.get_execution_by_id(first)["enabled"] is False
    assert [e["id"] for e in repo.get_active_executions(up["id"])] == [second]


def test_concurrent_completions_leave_exactly_one_active(
        stores: Stores, provisioned: dict[str, Any]) -> None:
    up = provisioned["bank_up"]
    ids = [_create(stores, up, f"h{i}", status="running") for i in range(6)]

    def save(exec_id: str) -> None:
        stores.executions.save_execution_result(exec_id, {"x": 1}, {"f": 1})

    threads = [threading.Thread(target=save, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    active = stores.executions.get_active_executions(up["id"])
    assert len(active) == 1
    with stores.db.engine.connect() as conn:
        enabled = conn.execute(sa.select(sa.func.count()).select_from(processor_executions)
                               .where(processor_executions.c.enabled.is_(True))).scalar_one()
    assert enabled == 1
    assert len(stores.executions.get_execution_chain(active[0]["id"])) == 6
