"""`aura-dagster review list | approve | reject` on the real parts: PostgreSQL, the Pub/Sub
emulator, a Dagster instance with the project's queued run coordinator, and the code
location of workspace.yaml (a real code server, as the daemon and the UI load it)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterRunStatus, execute_job, reconstructable
from dagster._core.execution.plan.resume_retry import ReexecutionStrategy

from aura_dagster.cli import main
from aura_dagster.commands.launch import open_workspace
from aura_dagster.commands.preflight import CommandError
from aura_dagster.commands.rerun import rerun
from aura_dagster.commands.review import (
    ReviewError,
    approve,
    list_parked,
    reject,
    review_run_config,
)
from aura_dagster.settings import Settings, load_settings
from aura_dagster_tests.engine.conftest import QUIET, Engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def queued_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterInstance]:
    """A DAGSTER_HOME with the project's dagster.yaml: the QueuedRunCoordinator."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    instance = DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


@pytest.fixture(scope="module")
def workspace(engine: Engine, queued_home: DagsterInstance) -> Iterator[Any]:
    """The code location of workspace.yaml, loaded once (a code server start is seconds)."""
    with open_workspace(queued_home) as request_context:
        yield request_context


def _settings(**overrides: str) -> Settings:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return load_settings({**env, **overrides}, use_stack=False)


def _parked(engine: Engine, reason: str = "statements_reconcile: 1 statement off") -> str:
    """A case the review gate parked (its status and reason, as the gate writes them)."""
    org = engine.tenant({"p_bank_statement": None})
    underwriting_id = engine.new_id()
    engine.stores.underwritings.upsert_underwriting(underwriting_id, org, "Parked LLC", "CA")
    engine.stores.underwritings.set_status(underwriting_id, "awaiting_review",
                                           review_reason=reason)
    return underwriting_id


def _review_key(engine: Engine, underwriting_id: str) -> str:
    row = engine.stores.underwritings.get_underwriting(underwriting_id)
    return f"review:{underwriting_id}:{row['updated_at'].isoformat()}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_review_list_shows_parked_cases_with_reasons_and_age(
        engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    first = _parked(engine, "statements_reconcile: off by $12.00; low confidence 0.55")
    org = engine.stores.underwritings.get_underwriting(first)["organization_id"]
    engine.stores.underwritings.upsert_underwriting(f"{first}_done", org)
    engine.stores.underwritings.set_status(f"{first}_done", "completed")
    other = _parked(engine)

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    (case,) = list_parked(org, stores=engine.stores, now=later)
    assert case.underwriting_id == first and case.organization_id == org
    assert case.reasons == ["statements_reconcile: off by $12.00", "low confidence 0.55"]
    assert 299 <= case.age_seconds <= 310
    everyone = {c.underwriting_id for c in list_parked(stores=engine.stores)}
    assert {first, other} <= everyone and f"{first}_done" not in everyone

    assert main(["review", "list", "--org", org]) == 0  # the store from the environment
    out = capsys.readouterr().out
    assert first in out and "low confidence 0.55" in out and other not in out
    assert main(["review", "list", "--org", org, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["underwriting_id"] == first and listed["age_seconds"] >= 0


def test_approve_and_reject_check_everything_before_claiming(
        engine: Engine, queued_home: DagsterInstance) -> None:
    underwriting_id = _parked(engine)
    key = _review_key(engine, underwriting_id)
    runs_before = len(queued_home.get_runs())

    def nothing_changed() -> None:
        row = engine.stores.underwritings.get_underwriting(underwriting_id)
        assert row["status"] == "awaiting_review" and row["reviewed_by"] is None
        assert engine.stores.idempotency.get(key) is None  # a retry is not refused
        assert len(queued_home.get_runs()) == runs_before

    with pytest.raises(CommandError, match="DAGSTER_HOME is not set"):
        approve(underwriting_id, reviewer="alice", settings=_settings())
    nothing_changed()
    home = str(queued_home.root_directory)
    with pytest.raises(CommandError, match="has no partition .* the engine's DAGSTER_HOME"):
        approve(underwriting_id, reviewer="alice", settings=_settings(DAGSTER_HOME=home))
    nothing_changed()
    queued_home.add_dynamic_partitions("underwriting", [underwriting_id])
    with pytest.raises(CommandError, match="Pub/Sub at 127.0.0.1:.* is not reachable"):
        approve(underwriting_id, reviewer="alice", settings=_settings(
            DAGSTER_HOME=home, PUBSUB_EMULATOR_HOST=f"127.0.0.1:{_closed_port()}"))
    nothing_changed()
    with pytest.raises(ReviewError, match="needs a reason"):
        reject(underwriting_id, reviewer="alice", reason=" ", settings=_settings())
    nothing_changed()

    engine.stores.underwritings.set_status(underwriting_id, "processing")
    with pytest.raises(ReviewError, match="is processing, not awaiting review"):
        approve(underwriting_id, reviewer="alice", settings=_settings(DAGSTER_HOME=home))
    with pytest.raises(ReviewError, match="'uw_nobody' does not exist"):
        reject("uw_nobody", reviewer="bob", reason="no", settings=_settings(DAGSTER_HOME=home))


def _wait_for_run(instance: DagsterInstance, run_id: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s")


def _park_for_real(engine: Engine, instance: DagsterInstance) -> str:
    """Run the engine (in `instance`, the one the commands are given) on statements that do
    not reconcile: the review gate parks the case."""
    org = engine.tenant({"p_bank_statement": None})
    spec = engine.underwriting(org, "Golden Gate Dry Cleaners Inc", "CA", [
        (engine.samples[f"harbor_cu_2024-0{m}.pdf"], "bank_statement") for m in (1, 2, 3)])
    instance.add_dynamic_partitions("underwriting", [spec.underwriting_id])
    assert execute_job(reconstructable(engine.defs_module.process_job), instance=instance,
                       tags={"dagster/partition": spec.underwriting_id},
                       raise_on_error=False, run_config=QUIET).success
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "awaiting_review"
    return spec.underwriting_id


def test_approve_and_reject_queue_resume_runs_the_ui_can_reexecute(
        engine: Engine, queued_home: DagsterInstance, workspace: Any) -> None:
    """Needs the review asset to take `decision` / `reviewer` / `note` and to publish a
    rejection (branch i9-ui)."""
    approved, rejected = _park_for_real(engine, queued_home), _park_for_real(engine, queued_home)
    org = engine.stores.underwritings.get_underwriting(approved)["organization_id"]
    settings = _settings(DAGSTER_HOME=str(queued_home.root_directory))
    given = {"settings": settings, "stores": engine.stores, "instance": queued_home,
             "workspace": workspace}

    outcome = approve(approved, reviewer="alice", note="statements checked by hand", **given)
    refusal = reject(rejected, reviewer="carol", reason="bank statements altered", **given)

    run = queued_home.get_run_by_id(outcome.run_id)
    assert run.status == DagsterRunStatus.QUEUED  # the daemon's queue, not this process
    assert run.remote_job_origin is not None and run.job_name == "resume_after_review"
    assert run.run_config == review_run_config("approve", "alice", "statements checked by hand")
    assert {k: run.tags[k] for k in ("dagster/partition", "aura/underwriting_id",
                                     "aura/organization_id", "aura/reviewer",
                                     "aura/review_decision")} == {
        "dagster/partition": approved, "aura/underwriting_id": approved,
        "aura/organization_id": org, "aura/reviewer": "alice", "aura/review_decision": "approve"}
    (audit,) = [a for a in engine.stores.audit.list_for_underwriting(approved, org)
                if a["event"] == "review_approved"]
    assert audit["run_id"] == run.run_id and audit["detail"]["reviewer"] == "alice"
    assert queued_home.get_run_by_id(refusal.run_id).tags["aura/review_decision"] == "reject"
    # The same decision again: the same run. A different one: refused, naming the first.
    again = approve(approved, reviewer="bob", **given)
    assert again.already_submitted and again.run_id == run.run_id
    with pytest.raises(ReviewError, match="already decided otherwise: approve by alice"):
        reject(approved, reviewer="bob", reason="no", **given)

    for run_id in (outcome.run_id, refusal.run_id):
        queued_home.launch_run(run_id, workspace)  # what the queue daemon does
    finished = _wait_for_run(queued_home, run.run_id)
    assert finished.status == DagsterRunStatus.SUCCESS
    assert _wait_for_run(queued_home, refusal.run_id).status == DagsterRunStatus.SUCCESS
    # What the UI's "Re-execute" does with the run's origin (in-process runs had none).
    origin = finished.remote_job_origin
    location = workspace.get_code_location(origin.location_name)
    remote_job = location.get_repository(
        origin.repository_origin.repository_name).get_full_job(finished.job_name)
    reexecuted = queued_home.create_reexecuted_run(
        request_context=workspace, parent_run=finished, code_location=location,
        remote_job=remote_job, strategy=ReexecutionStrategy.ALL_STEPS,
        use_parent_run_tags=True)
    assert reexecuted.tags["aura/reviewer"] == "alice"
    assert reexecuted.parent_run_id == run.run_id

    assert engine.completion_for(approved)["status"] == "completed"
    row = engine.stores.underwritings.get_underwriting(approved)
    assert row["status"] == "completed" and row["reviewed_by"] == "alice"
    event = engine.completion_for(rejected)
    assert event["status"] == "rejected" and "bank statements altered" in event["reason"]
    assert engine.stores.underwritings.get_underwriting(rejected)["reviewed_by"] == "carol"

    # Rerun from the command line: refused while the re-execution (created, never submitted
    # here) is pending; once it is cancelled, the same queue, the same origin the UI can
    # re-execute.
    with pytest.raises(CommandError, match=f"already has run {reexecuted.run_id}"):
        rerun(approved, by="ops", settings=settings, instance=queued_home, workspace=workspace)
    queued_home.report_run_canceled(reexecuted)
    rerun_id = rerun(approved, by="ops", settings=settings, instance=queued_home,
                     workspace=workspace)
    again_run = queued_home.get_run_by_id(rerun_id)
    assert again_run.status == DagsterRunStatus.QUEUED and again_run.remote_job_origin
    assert again_run.job_name == "process_underwriting"
    assert again_run.tags["dagster/partition"] == approved
    assert again_run.tags["aura/organization_id"] == org


def test_review_list_of_an_unknown_organization_is_an_error(
        engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "list", "--org", "org_nope"]) == 1
    assert "organization 'org_nope' is not known" in capsys.readouterr().err
    assert main(["review", "list", "--org", "org_nope", "--json"]) == 1
    capsys.readouterr()
    known = engine.tenant({"p_bank_statement": None})  # bought a processor, nothing parked
    assert main(["review", "list", "--org", known]) == 0
    assert "no underwriting is awaiting review" in capsys.readouterr().out
    assert main(["review", "list", "--org", known, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_review_list_shows_lender_rule_reasons_in_full(
        engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    rule = ("rule active_bankruptcy: Chapter 7 petition filed 2023-04-02 in the Central "
            "District of California, case 2:23-bk-11872, still open at the as-of date")
    underwriting_id = _parked(engine, f"{rule}; p_bank_statement confidence 0.40 below 0.70")
    org = engine.stores.underwritings.get_underwriting(underwriting_id)["organization_id"]

    assert main(["review", "list", "--org", org]) == 0
    out = capsys.readouterr().out
    assert rule in out and "p_bank_statement confidence 0.40 below 0.70" in out
    assert main(["review", "list", "--org", org, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["reasons"] == [rule, "p_bank_statement confidence 0.40 below 0.70"]
    assert listed["reason"] == f"{rule}; p_bank_statement confidence 0.40 below 0.70"
    # rules_version: shown once the store has the column (another change adds it).
    row = engine.stores.underwritings.get_underwriting(underwriting_id)
    assert ("rules_version" in listed) == ("rules_version" in row)
    if "rules_version" in row:
        assert listed["rules_version"] == row["rules_version"]
