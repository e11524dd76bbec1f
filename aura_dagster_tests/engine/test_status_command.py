"""`aura-dagster status`: progress and ETA read from a real Dagster event log and store."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest

from aura_dagster.cli import main
from aura_dagster.commands.status import History, run, underwriting_progress
from aura_dagster.services.progress import Progress
from aura_dagster_tests.engine.conftest import Engine

STATEMENT = "first_demo_bank_2024-01.pdf"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_follows_a_run_with_steps_processors_and_eta(
        engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    org = engine.tenant({"p_bank_statement": None,
                         "p_secretary_of_state": {"timeout_seconds": 8, "max_attempts": 1}})
    docs = [(engine.samples[STATEMENT], "bank_statement")]
    earlier = engine.underwriting(org, "Sunrise Bakery LLC", "CA", docs)
    assert engine.materialize(earlier.underwriting_id).success  # history for the ETA
    # The sandbox answers this business's registry lookup late: a processor still running.
    slow = engine.underwriting(org, "Slowpoke Trading Co", "CA", docs)
    engine.instance.add_dynamic_partitions("underwriting", [slow.underwriting_id])
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(
        engine.execute({"dagster/partition": slow.underwriting_id})))
    worker.start()
    seen: list[Progress] = []
    while worker.is_alive():
        seen.append(underwriting_progress(engine.instance, engine.stores, slow.underwriting_id,
                                          History(engine.instance)))
        time.sleep(0.1)
    worker.join()
    assert results[0].success

    running = [p for p in seen if p.run_status == "STARTED" and p.phase == "processors"]
    assert running, [(p.run_status, p.phase) for p in seen]
    waiting = [p for p in running if p.processors_done < p.processors_purchased == 2]
    assert waiting  # the registry lookup was still out
    assert any(s.end is None and s.start is not None  # shown while it runs
               for p in waiting for s in p.steps)
    for progress in running:
        assert 0 < progress.percent < 100 and progress.eta_seconds is not None
        loaded = [s for s in progress.steps if s.phase == "load"]
        assert loaded and loaded[0].end is not None and loaded[0].duration_seconds >= 0
    percents = [p.percent for p in running]
    assert percents == sorted(percents)  # progress never goes back

    final = underwriting_progress(engine.instance, engine.stores, slow.underwriting_id,
                                  History(engine.instance))
    assert (final.percent, final.eta_seconds) == (100.0, 0.0)
    # Once the run is over the phase is the case's status in the store, not the run's.
    assert final.case is not None and final.phase == final.case.status
    assert final.phase in ("completed", "awaiting_review")
    assert final.processors_done == final.processors_purchased == 2
    keys = [s.key for s in final.steps]
    assert "underwriting_processing.load_underwriting" in keys
    assert any("run_opencorporates_processor[p_secretary_of_state]" in k for k in keys)
    assert all(s.duration_seconds is not None and s.duration_seconds >= 0 for s in final.steps)
    # The late vendor is the long processor step (a loaded machine can stretch the others:
    # review and publish are one step).
    slowest = max((s for s in final.steps if s.phase == "processors"),
                  key=lambda s: s.duration_seconds or 0)
    assert "p_secretary_of_state" in slowest.key

    # The command, finding the instance through DAGSTER_HOME and the store in the env.
    monkeypatch.setenv("DAGSTER_HOME", str(engine.instance.root_directory))
    assert main(["status", slow.underwriting_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["percent"] == 100.0 and shown["processors_purchased"] == 2
    assert main(["status", "--org", org, "--json"]) == 0
    batch = json.loads(capsys.readouterr().out)
    assert batch["total"] == 2 and batch["percent"] == 100.0 and batch["eta_seconds"] == 0.0
    screen = Terminal()
    assert run(slow.underwriting_id, watch=True, out=screen, interval=0.01) == 0
    text = screen.getvalue()
    assert text.startswith("\x1b[H\x1b[2J")  # redrawn in place; stops once done
    assert "processors 2/2" in text and "p_secretary_of_state" in text


def _outcomes(progress: Progress) -> dict[str, Any]:
    return {p.processor: p for p in progress.processors}


def test_status_tells_each_processors_outcome_and_the_cases_store_status(
        engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two vendors time out (the step still succeeds), one processor has no document of its
    type: the run is SUCCESS, yet the command must not read as if every processor had."""
    late = {"timeout_seconds": 0.3, "max_attempts": 1}
    org = engine.tenant({"p_bank_statement": None, "p_tax_return": None,
                         "p_secretary_of_state": late, "p_clear_business_report": late})
    spec = engine.underwriting(org, "Slowpoke Trading Co", "CA",
                               [(engine.samples[STATEMENT], "bank_statement")])
    uw = spec.underwriting_id
    assert engine.materialize(uw).success

    progress = underwriting_progress(engine.instance, engine.stores, uw,
                                     History(engine.instance))
    row = engine.stores.underwritings.get_underwriting(uw)
    assert progress.run_status == "SUCCESS"
    assert progress.case.status == row["status"]
    shown = _outcomes(progress)
    assert set(shown) == {"p_bank_statement", "p_tax_return", "p_secretary_of_state",
                          "p_clear_business_report"}
    for late_one in ("p_secretary_of_state", "p_clear_business_report"):
        assert shown[late_one].outcome == "timeout"
        assert shown[late_one].error_code == "TIMEOUT"
        assert "limit" in (shown[late_one].error_message or "")
    assert shown["p_bank_statement"].outcome == "completed"
    assert shown["p_tax_return"].outcome == "skipped"
    assert "no document of type tax_return" in (shown["p_tax_return"].reason or "")

    monkeypatch.setenv("DAGSTER_HOME", str(engine.instance.root_directory))
    assert main(["status", uw]) == 0
    text = capsys.readouterr().out
    assert f"status {row['status']}" in text
    assert text.count("timeout") >= 2 and "TIMEOUT" in text
    assert "no document of type tax_return" in text
    assert main(["status", uw, "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["case"]["status"] == row["status"]
    assert {p["processor"]: p["outcome"] for p in as_json["processors"]} == {
        "p_bank_statement": "completed", "p_tax_return": "skipped",
        "p_secretary_of_state": "timeout", "p_clear_business_report": "timeout"}

    # Again: unchanged inputs reuse their completed executions (no new work, no cost).
    assert engine.materialize(uw).success
    again = _outcomes(underwriting_progress(engine.instance, engine.stores, uw,
                                            History(engine.instance)))
    first_run = progress.run_id
    for reused in ("p_bank_statement", "p_tax_return"):
        assert again[reused].outcome == "skipped"
        assert "reused execution" in (again[reused].reason or "")
        assert again[reused].run_id == first_run  # the run that did the work
    assert again["p_secretary_of_state"].outcome == "timeout"  # ran (and timed out) again


def test_status_shows_a_failed_or_parked_case_as_the_store_has_it(
        engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    case = engine.tax_return_case()
    uw = case.underwriting_id
    assert engine.materialize(uw).success
    assert engine.stores.underwritings.get_underwriting(uw)["status"] == "completed"
    # The platform's answer to a later event failed the case (services/rejections.answer).
    engine.stores.underwritings.set_status(uw, "failed",
                                           review_reason="document 'd_9' does not exist")
    engine.stores.underwritings.record_completion(uw, "failed")

    monkeypatch.setenv("DAGSTER_HOME", str(engine.instance.root_directory))
    assert main(["status", uw]) == 0
    text = capsys.readouterr().out
    assert "status failed" in text and "document 'd_9' does not exist" in text
    assert "done" not in text.splitlines()[0]  # the run's SUCCESS is not the case's outcome
    assert main(["status", uw, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["case"]["status"] == "failed" and shown["phase"] == "failed"
    assert shown["case"]["reasons"] == ["document 'd_9' does not exist"]
    assert shown["case"]["completed_at"] and shown["run_status"] == "SUCCESS"

    org = engine.tenant({"p_bank_statement": None})
    parked = engine.underwriting(org, "Golden Gate Dry Cleaners Inc", "CA", [
        (engine.samples[f"harbor_cu_2024-0{m}.pdf"], "bank_statement") for m in (1, 2, 3)])
    assert engine.materialize(parked.underwriting_id).success
    row = engine.stores.underwritings.get_underwriting(parked.underwriting_id)
    assert row["status"] == "awaiting_review"
    assert main(["status", parked.underwriting_id]) == 0
    text = capsys.readouterr().out
    assert "status awaiting_review" in text
    for reason in row["review_reason"].split("; "):
        assert reason in text
    # The per-case line of a batch shows the store status too.
    assert main(["status", "--org", org]) == 0
    assert "awaiting_review" in capsys.readouterr().out.splitlines()[-1]


def test_status_of_an_unknown_organization_is_an_error_and_of_an_empty_one_is_not(
        engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(engine.instance.root_directory))
    assert main(["status", "--org", "org_nope"]) == 1
    assert "organization 'org_nope' is not known" in capsys.readouterr().err
    bought_only = engine.tenant({"p_tax_return": None})  # known, no underwriting yet
    assert main(["status", "--org", bought_only, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0
