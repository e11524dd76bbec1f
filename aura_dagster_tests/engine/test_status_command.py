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
    assert final.phase in ("done", "awaiting_review")
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
