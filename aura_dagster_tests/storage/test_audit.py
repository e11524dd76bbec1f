"""AuditRepository."""

from __future__ import annotations

from aura_dagster.storage import Stores


def test_record_and_list(stores: Stores) -> None:
    repo = stores.audit
    first = repo.record("run_started", organization_id="org_1", underwriting_id="uw_1",
                        run_id="run_1", detail={"priority": "high"})
    repo.record("step_failed", organization_id="org_1", underwriting_id="uw_1", run_id="run_1",
                step_key="process_p_bank_statement", detail={"error": "TemporaryError"})
    repo.record("run_started", organization_id="org_1", underwriting_id="uw_2", run_id="run_2")
    assert first["detail"] == {"priority": "high"} and first["created_at"] is not None
    rows = repo.list_for_underwriting("uw_1", "org_1")
    assert [r["event"] for r in rows] == ["run_started", "step_failed"]
    assert rows[1]["step_key"] == "process_p_bank_statement"
    assert [r["underwriting_id"] for r in repo.list_for_run("run_2")] == ["uw_2"]


def test_keyed_entries_are_written_once(stores: Stores) -> None:
    """A run-status sensor re-evaluating a tick writes the same keyed entries again."""
    repo = stores.audit
    first = repo.record("step_started", organization_id="org_1", run_id="run_k",
                        step_key="load", key="run_k:step_started:load:1")
    again = repo.record("step_started", organization_id="org_1", run_id="run_k",
                        step_key="load", key="run_k:step_started:load:1")
    repo.record("step_started", organization_id="org_1", run_id="run_k", step_key="load")
    assert again["id"] == first["id"] and again["created_at"] == first["created_at"]
    assert len(repo.list_for_run("run_k")) == 2  # the unkeyed entry is always appended
