"""The real path: event → sensor → run → processors → PostgreSQL → processing.completed."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pandas as pd
import psycopg
import sqlalchemy as sa
from dagster import DagsterEventType, ReexecutionOptions, execute_job, reconstructable

from aura_dagster.domain.money import jsonable
from aura_dagster.domain.processors.bank_statement import BankStatementProcessor
from aura_dagster_tests.engine.conftest import ALL_PROCESSORS, QUIET, Engine

PDF_STATEMENTS = ["first_demo_bank_2024-01.pdf", "first_demo_bank_2024-02.pdf",
                  "first_demo_bank_2024-03.pdf"]


def _clean_case(engine: Engine, organization_id: str, business: str = "Sunrise Bakery LLC"):
    docs = [(engine.samples[name], "bank_statement") for name in PDF_STATEMENTS]
    docs += [(engine.samples["tax_return.pdf"], "tax_return"),
             (engine.samples["license.pdf"], None)]  # typed by the classifier
    return engine.underwriting(organization_id, business, "CA", docs)


def _step_keys(engine: Engine, run_id: str, event_type: DagsterEventType) -> set[str]:
    return {e.step_key for e in engine.instance.all_logs(run_id, of_type=event_type)
            if e.step_key}


def test_event_runs_every_processor_and_publishes_completion(engine: Engine) -> None:
    org = engine.tenant()
    spec = _clean_case(engine, org)

    outcome = engine.process_event(spec, priority="high")

    assert outcome.success
    run = engine.instance.get_run_by_id(outcome.run_id)
    assert run.tags["dagster/partition"] == spec.underwriting_id
    assert run.tags["dagster/priority"] == "5"
    assert run.tags["aura/organization_id"] == org

    event = engine.completion_for(spec.underwriting_id)
    assert event["event"] == "processing.completed"
    assert event["organization_id"] == org and event["run_id"] == outcome.run_id
    assert event["summary"]["total_processors"] == 5
    assert event["summary"]["completed_count"] == 5
    assert event["failed_processors"] == [] and event["timeout_processors"] == []
    completed = {p["processor_id"]: p["execution_id"] for p in event["completed_processors"]}
    assert sorted(completed) == sorted(ALL_PROCESSORS)

    # The executions the event names are the ones stored, completed and active.
    for processor, execution_id in completed.items():
        row = engine.stores.executions.get_execution_by_id(execution_id)
        assert row["processor"] == processor and row["status"] == "completed"
        assert row["run_id"] == outcome.run_id

    # Factors read back from PostgreSQL agree with the bank statement processor run alone.
    factors = engine.stores.factors.get_factor_map(spec.underwriting_id)
    bank = engine.executions(spec.underwriting_id, "p_bank_statement")[0]
    expected = jsonable(BankStatementProcessor.consolidate([bank["output"]]))
    assert factors["bank_revenue"] == expected["bank_revenue"]
    assert factors["bank_months_covered"] == 3
    assert factors["tax_year"] == 2023
    assert factors["dl_state"] == "CA" and factors["dl_expired"] is False
    assert factors["sos_registered"] is True
    rows = engine.stores.factors.get_factors(spec.underwriting_id)
    assert {r["execution_id"] for r in rows} <= set(completed.values())
    assert next(r for r in rows if r["factor_name"] == "bank_months_covered")[
        "value_numeric"] == Decimal(3)

    # The warehouse copy (schema `warehouse`) holds the same partition.
    engine_db = engine.stores.db.engine
    with engine_db.connect() as conn:
        frame = pd.read_sql(sa.text("SELECT factor_name, value_json FROM warehouse"
                                    ".underwriting_factors WHERE underwriting_id = :u"),
                            conn, params={"u": spec.underwriting_id})
    assert json.loads(frame.set_index("factor_name").loc["tax_year", "value_json"]) == 2023
    assert len(frame) == len(rows)

    # The classifier typed the license; the run's checks passed.
    docs = engine.stores.underwritings.get_documents(spec.underwriting_id)
    assert docs[-1]["document_type"] == "drivers_license"
    checks = [e for e in engine.instance.all_logs(
        outcome.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
    assert len(checks) == 5  # three on the factors, processors_succeeded, review_cleared
    assert all(c.dagster_event.event_specific_data.passed for c in checks)
    # Few serial steps (issue 11): load+plan, one per processor, consolidate+checks,
    # matrix+review+publish. Each check ran inside the step that wrote its asset.
    processor_steps = ("run_local_processor[p_bank_statement]",
                       "run_opencorporates_processor[p_secretary_of_state]",
                       "run_clear_processor[p_clear_business_report]",
                       "run_local_processor[p_tax_return]",
                       "run_local_processor[p_drivers_license]")
    started = [e.dagster_event.step_key for e in engine.instance.all_logs(
        outcome.run_id, of_type=DagsterEventType.STEP_START)]
    assert sorted(started) == sorted([
        "underwriting_processing.load_underwriting",
        *(f"underwriting_processing.{step}" for step in processor_steps),
        "underwriting_processing.consolidate_underwriting",
        "underwriting_review"])
    assert {c.step_key for c in checks} == {"underwriting_processing.consolidate_underwriting",
                                            "underwriting_review"}
    # A processor step has one input (case and plan together): each input is two events.
    inputs = [(e.dagster_event.step_key, e.dagster_event.event_specific_data.input_name)
              for e in engine.instance.all_logs(outcome.run_id,
                                                of_type=DagsterEventType.STEP_INPUT)]
    assert sorted(name for key, name in inputs if "_processor[" in key) == ["work"] * 5
    assert engine.stores.underwritings.get_underwriting(spec.underwriting_id)["status"] == \
        "completed"


def test_duplicate_and_redelivered_events_start_one_run(engine: Engine) -> None:
    spec = engine.tax_return_case()
    engine.publish(spec)
    engine.publish(spec)  # the platform retried its publish
    first = engine.wait_for_requests(1)
    second = engine.tick()
    requests = list(first.run_requests) + list(second.run_requests or [])
    assert len({r.run_key for r in requests}) == 1
    outcome = engine.launch(requests[0])
    assert outcome.success
    engine.tick()  # acks now that the run exists

    engine.publish(spec)  # redelivered / republished after the run exists
    assert not engine.wait_for_requests(1, timeout=3).run_requests
    runs = engine.instance.get_runs()
    assert sum(1 for r in runs if r.tags.get("dagster/partition") == spec.underwriting_id) == 1


def test_timeout_and_failure_are_reported_while_others_complete(engine: Engine,
                                                                tmp_path) -> None:
    org = engine.tenant({"p_bank_statement": None, "p_drivers_license": None,
                         "p_secretary_of_state": {"timeout_seconds": 1, "max_attempts": 1},
                         "p_clear_business_report": {"timeout_seconds": 1, "max_attempts": 1}})
    bad_license = engine.documents_root / f"bad_license_{tmp_path.name}.pdf"
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="DRIVER LICENSE  (scan unreadable)")
    pdf.output(str(bad_license))
    spec = engine.underwriting(org, "Slowpoke Trading Co", "CA", [
        (engine.samples["first_demo_bank_2024-01.pdf"], "bank_statement"),
        (bad_license, "drivers_license")])

    outcome = engine.process_event(spec)

    assert outcome.success
    # A failed processor parks the case for a person, with the reason; approval publishes.
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "awaiting_review" and "p_drivers_license failed" in \
        row["review_reason"]
    assert engine.review(spec.underwriting_id, decision="approve", reviewer="ops").success
    event = engine.completion_for(spec.underwriting_id)
    assert [p["processor_id"] for p in event["completed_processors"]] == ["p_bank_statement"]
    assert [p["processor_id"] for p in event["failed_processors"]] == ["p_drivers_license"]
    assert "DL" in event["failed_processors"][0]["error_message"] or \
        event["failed_processors"][0]["error_message"]
    assert sorted(p["processor_id"] for p in event["timeout_processors"]) == [
        "p_clear_business_report", "p_secretary_of_state"]
    assert event["summary"] == {**event["summary"], "total_processors": 4, "completed_count": 1,
                                "failed_count": 1, "timeout_count": 2}
    license_row = engine.executions(spec.underwriting_id, "p_drivers_license")[0]
    assert license_row["status"] == "failed" and license_row["error_class"] == "permanent"
    assert license_row["failed_code"].startswith("DL_")
    # The failure shows on the asset check too, and the case waits for a person.
    assert engine.stores.factors.get_factor_map(spec.underwriting_id)["bank_months_covered"] == 1


def test_temporary_vendor_error_is_retried_by_the_retry_policy(engine: Engine) -> None:
    engine.sandbox.reset()  # the flaky business fails once per server lifetime
    org = engine.tenant({"p_secretary_of_state": {"max_attempts": 3}})
    spec = engine.underwriting(org, "Flaky Fabrication LLC", "CA", [])

    outcome = engine.process_event(spec)

    assert outcome.success
    attempts = sorted(engine.executions(spec.underwriting_id, "p_secretary_of_state"),
                      key=lambda r: r["attempt"])
    assert [(r["attempt"], r["status"]) for r in attempts] == [(1, "failed"), (2, "completed")]
    assert attempts[0]["error_class"] == "temporary"
    retried = _step_keys(engine, outcome.run_id, DagsterEventType.STEP_UP_FOR_RETRY)
    assert retried == {"underwriting_processing.run_opencorporates_processor"
                       "[p_secretary_of_state]"}
    event = engine.completion_for(spec.underwriting_id)
    assert event["completed_processors"] == [
        {"processor_id": "p_secretary_of_state", "execution_id": attempts[1]["id"]}]


def test_reexecution_from_failure_reruns_only_the_failed_processor(engine: Engine) -> None:
    org = engine.tenant({"p_bank_statement": None, "p_tax_return": None, "p_test_crash": None})
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA", [
        (engine.samples["first_demo_bank_2024-01.pdf"], "bank_statement"),
        (engine.samples["tax_return.pdf"], "tax_return")])
    engine.crash_flag.touch()
    try:
        first = engine.materialize(spec.underwriting_id)
    finally:
        engine.crash_flag.unlink()
    assert not first.success
    failed = _step_keys(engine, first.run_id, DagsterEventType.STEP_FAILURE)
    assert failed == {"underwriting_processing.run_local_processor[p_test_crash]"}

    retry = execute_job(
        reconstructable(engine.defs_module.process_job), instance=engine.instance,
        reexecution_options=ReexecutionOptions.from_failure(first.run_id, engine.instance),
        tags={"dagster/partition": spec.underwriting_id}, raise_on_error=False, run_config=QUIET)

    assert retry.success
    rerun = _step_keys(engine, retry.run_id, DagsterEventType.STEP_START)
    assert "underwriting_processing.run_local_processor[p_test_crash]" in rerun
    assert not any("p_bank_statement" in k or "p_tax_return" in k for k in rerun)
    assert "underwriting_processing.load_underwriting" not in rerun
    # The processors that had finished were not run again: one execution each.
    for processor in ("p_bank_statement", "p_tax_return"):
        assert len(engine.executions(spec.underwriting_id, processor)) == 1
    crashed, resumed = sorted(engine.executions(spec.underwriting_id, "p_test_crash"),
                              key=lambda r: r["created_at"])
    assert (crashed["status"], crashed["failed_code"]) == ("failed", "CRASHED")
    assert crashed["run_id"] == first.run_id
    assert (resumed["status"], resumed["run_id"]) == ("completed", retry.run_id)
    assert engine.stores.factors.get_factor_map(spec.underwriting_id)["test_documents_seen"] == 2


def test_rematerializing_reuses_unchanged_payloads_and_supersedes_changed(engine: Engine,
                                                                         tmp_path) -> None:
    org = engine.tenant({"p_bank_statement": None, "p_tax_return": None})
    statement = engine.documents_root / f"statement_{tmp_path.name}.pdf"
    statement.write_bytes(engine.samples["first_demo_bank_2024-01.pdf"].read_bytes())
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA", [
        (statement, "bank_statement"), (engine.samples["tax_return.pdf"], "tax_return")])
    computing = engine.materialize(spec.underwriting_id)
    assert computing.success
    first = {r["processor"]: r["id"] for r in engine.executions(spec.underwriting_id)}

    again = engine.materialize(spec.underwriting_id)
    assert again.success
    with engine.stores.db.engine.connect() as conn:  # the warehouse copy of the partition
        frame = pd.read_sql(sa.text("SELECT processor, reused, computed_run_id, "
                                    "materialized_run_id FROM warehouse.processor_executions "
                                    "WHERE underwriting_id = :u"),
                            conn, params={"u": spec.underwriting_id})
    # One meaning per column: the run that computed each execution, the run that reused it.
    assert set(frame["materialized_run_id"]) == {again.run_id}
    assert set(frame["computed_run_id"]) == {computing.run_id}
    assert frame.set_index("processor")["reused"].astype(bool).to_dict() == {
        "p_bank_statement": True, "p_tax_return": True}
    assert len(engine.executions(spec.underwriting_id)) == 2

    # A new revision of the statement: only the bank statement runs again and supersedes.
    statement.write_bytes(engine.samples["first_demo_bank_2024-02.pdf"].read_bytes())
    from aura_dagster.services.seeding import register_underwriting

    register_underwriting(engine.stores, spec, engine.documents_root)
    third = engine.materialize(spec.underwriting_id)
    assert third.success
    bank = engine.executions(spec.underwriting_id, "p_bank_statement")
    assert len(bank) == 2 and len(engine.executions(spec.underwriting_id, "p_tax_return")) == 1
    newest = next(r for r in bank if r["id"] != first["p_bank_statement"])
    chain = engine.stores.executions.get_execution_chain(newest["id"])
    assert [r["id"] for r in chain] == [first["p_bank_statement"], newest["id"]]
    months = engine.stores.factors.get_factor_map(spec.underwriting_id)["bank_months"]
    assert months == ["2024-02"]


def test_review_gate_parks_then_approval_resumes_without_rerunning(engine: Engine) -> None:
    org = engine.tenant({"p_bank_statement": None})
    spec = engine.underwriting(org, "Golden Gate Dry Cleaners Inc", "CA", [
        (engine.samples[f"harbor_cu_2024-0{m}.pdf"], "bank_statement") for m in (1, 2, 3)])

    outcome = engine.process_event(spec)

    assert outcome.success
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "awaiting_review"
    assert "statements_reconcile" in row["review_reason"]
    held = engine.pubsub.pull(subscription=engine.listener, max_messages=50, timeout=2.0)
    for message in held:  # keep other tests' events for them
        engine.received[json.loads(message.data)["underwriting_id"]] = json.loads(message.data)
    if held:
        engine.pubsub.acknowledge([m.ack_id for m in held], subscription=engine.listener)
    assert spec.underwriting_id not in engine.received
    reconcile = [e for e in engine.instance.all_logs(
        outcome.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.asset_check_key.name == "statements_reconcile"]
    assert not reconcile[0].dagster_event.event_specific_data.passed

    # Approving and rejecting (through the run queue): engine/test_review_commands.py.


def test_tenant_config_never_reaches_another_tenants_run(engine: Engine) -> None:
    tenant_a = engine.tenant({"p_bank_statement": {"cost_cents_per_page": 9}})
    tenant_b = engine.tenant({"p_bank_statement": None})
    docs = [(engine.samples["first_demo_bank_2024-01.pdf"], "bank_statement")]
    spec_a = engine.underwriting(tenant_a, "Sunrise Bakery LLC", "CA", docs)
    spec_b = engine.underwriting(tenant_b, "Sunrise Bakery LLC", "CA", docs)

    assert engine.process_event(spec_a).success
    assert engine.process_event(spec_b).success

    a = engine.executions(spec_a.underwriting_id, "p_bank_statement")[0]
    b = engine.executions(spec_b.underwriting_id, "p_bank_statement")[0]
    default = BankStatementProcessor.CONFIG["cost_cents_per_page"]
    assert a["payload"]["config"]["cost_cents_per_page"] == 9
    assert b["payload"]["config"]["cost_cents_per_page"] == default != 9
    pages = 3  # the January PDF
    assert a["run_cost_cents"] == 9 * pages and b["run_cost_cents"] == default * pages
    assert a["payload_hash"] != b["payload_hash"]
    assert engine.stores.factors.get_factors(spec_a.underwriting_id, tenant_b) == []


def test_tenant_rules_decide_the_published_bank_factors(engine: Engine) -> None:
    # A lender that counts no deposit as revenue: its published factors must follow its
    # rules, not the defaults, also after the executions are merged.
    org = engine.tenant({"p_bank_statement": {
        "revenue_settlement_patterns": [],
        "revenue_exclusion_patterns": {"lender_excluded": ["."]}}})
    docs = [(engine.samples[name], "bank_statement") for name in PDF_STATEMENTS]
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA", docs)

    assert engine.process_event(spec).success

    bank = engine.executions(spec.underwriting_id, "p_bank_statement")[0]
    own = jsonable(bank["output"]["factors"])
    by_default_rules = jsonable(BankStatementProcessor.consolidate([bank["output"]]))
    assert own["bank_revenue"] == 0 < by_default_rules["bank_revenue"]
    published = engine.stores.factors.get_factor_map(spec.underwriting_id)
    assert {name: published[name] for name in own} == own


def test_unknown_underwriting_fails_the_run_with_a_clear_error(engine: Engine) -> None:
    org = engine.tenant({"p_tax_return": None})
    engine.instance.add_dynamic_partitions("underwriting", ["uw_does_not_exist"])
    outcome = engine.execute({"dagster/partition": "uw_does_not_exist",
                              "aura/organization_id": org})
    assert not outcome.success
    failures = engine.instance.all_logs(outcome.run_id, of_type=DagsterEventType.STEP_FAILURE)
    assert len(failures) == 1  # no retry: an unknown id cannot get better
    message = failures[0].dagster_event.event_specific_data.error_display_string
    assert "uw_does_not_exist" in message and "does not exist" in message


def test_database_connections_dropped_mid_run_lose_nothing(engine: Engine) -> None:
    """Every server connection to the store is killed while the run waits to retry a vendor
    call (what a PostgreSQL restart does to clients); the run carries on and completes."""
    engine.sandbox.reset()
    org = engine.tenant({"p_bank_statement": None, "p_tax_return": None,
                         "p_secretary_of_state": {"max_attempts": 3}})
    spec = engine.underwriting(org, "Flaky Fabrication LLC", "CA", [
        (engine.samples["first_demo_bank_2024-01.pdf"], "bank_statement"),
        (engine.samples["tax_return.pdf"], "tax_return")])
    database = engine.stores.db.url.database
    killed: list[int] = []

    def kill_when_vendor_failed() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = engine.executions(spec.underwriting_id, "p_secretary_of_state")
            if any(r["status"] == "failed" for r in rows):
                with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                     autocommit=True) as admin:
                    killed.append(len(admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (database,)).fetchall()))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_vendor_failed)
    killer.start()
    outcome = engine.materialize(spec.underwriting_id)
    killer.join()

    assert killed and killed[0] > 0  # connections really were dropped mid-run
    assert outcome.success
    statuses = {r["processor"]: r["status"] for r in engine.executions(spec.underwriting_id)
                if r["status"] != "failed"}
    assert statuses == {"p_bank_statement": "completed", "p_tax_return": "completed",
                        "p_secretary_of_state": "completed"}
    assert not [r for r in engine.executions(spec.underwriting_id)
                if r["status"] in ("pending", "running")]
    factors = engine.stores.factors.get_factor_map(spec.underwriting_id)
    assert factors["tax_year"] == 2023 and factors["sos_registered"] is True
