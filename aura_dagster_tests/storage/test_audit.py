"""AuditRepository."""

from __future__ import annotations

from aura_dagster.storage import AuditEntry, Stores


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


def test_a_runs_entries_are_written_together_in_order_and_once(stores: Stores) -> None:
    """record_many: the run-status sensor's entries of one run in one transaction, listed in
    the order given; the same keyed entries again (a re-evaluated tick) add nothing."""
    repo = stores.audit
    steps = [f"step_{i:02d}" for i in range(20)]
    entries = [AuditEntry("step_started", key=f"run_m:started:{s}", step_key=s,
                          detail={"n": i}) for i, s in enumerate(steps)]
    entries.append(AuditEntry("run_succeeded", key="run_m:run_succeeded"))
    assert repo.record_many(entries, organization_id="org_1", underwriting_id="uw_m",
                            run_id="run_m") == 21
    assert repo.record_many(entries[::-1], organization_id="org_1", underwriting_id="uw_m",
                            run_id="run_m") == 21
    rows = repo.list_for_underwriting("uw_m", "org_1")
    assert [r["step_key"] for r in rows] == [*steps, None]
    assert [r["event"] for r in rows][-1] == "run_succeeded"
    assert rows[3]["detail"] == {"n": 3} and rows[0]["run_id"] == "run_m"
    # the same key through record() finds the row record_many wrote
    again = repo.record("step_started", organization_id="org_1", run_id="run_m",
                        step_key="step_00", key="run_m:started:step_00")
    assert again["id"] == rows[0]["id"]
    assert repo.record_many([], organization_id="org_1") == 0
