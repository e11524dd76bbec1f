"""`aura-dagster rerun`: one run per case at a time, and a name for who asked, on the real
parts (PostgreSQL, the Pub/Sub emulator, a Dagster instance with the project's queued run
coordinator and the code location of workspace.yaml)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from aura_dagster.cli import main
from aura_dagster.commands.preflight import CommandError
from aura_dagster.commands.rerun import rerun
from aura_dagster_tests.engine import test_review_commands as review_commands
from aura_dagster_tests.engine.conftest import Engine

# The review commands' fixtures: a DAGSTER_HOME with the project's queued run coordinator,
# and the code location of workspace.yaml loaded in it.
queued_home = review_commands.queued_home
workspace = review_commands.workspace
_settings = review_commands._settings


def _case(engine: Engine) -> str:
    return engine.tax_return_case().underwriting_id


def _runs_of(instance: DagsterInstance, underwriting_id: str) -> list[Any]:
    from dagster import RunsFilter

    return list(instance.get_runs(RunsFilter(tags={"dagster/partition": underwriting_id})))


def test_a_second_rerun_while_the_first_is_queued_is_refused(
    engine: Engine, queued_home: DagsterInstance, workspace: Any
) -> None:
    underwriting_id = _case(engine)
    given = {
        "settings": _settings(DAGSTER_HOME=str(queued_home.root_directory)),
        "instance": queued_home,
        "workspace": workspace,
    }

    first = rerun(underwriting_id, by="alice", **given)
    assert queued_home.get_run_by_id(first).status == DagsterRunStatus.QUEUED
    # The store still says `created`: only the instance knows a run is coming.
    assert engine.stores.underwritings.get_underwriting(underwriting_id)["status"] == "created"
    with pytest.raises(CommandError) as refused:
        rerun(underwriting_id, by="bob", **given)
    message = str(refused.value)
    assert first in message and "QUEUED" in message
    assert f"aura-dagster status {underwriting_id} --watch" in message
    assert [r.run_id for r in _runs_of(queued_home, underwriting_id)] == [first]

    # Once that run is over, a rerun is accepted again.
    queued_home.report_run_canceled(queued_home.get_run_by_id(first))
    second = rerun(underwriting_id, by="bob", **given)
    assert second != first and queued_home.get_run_by_id(second).tags["aura/rerun_by"] == "bob"


@pytest.mark.parametrize("name", ["", "   "])
def test_rerun_needs_a_name_like_approve(
    engine: Engine,
    queued_home: DagsterInstance,
    workspace: Any,
    name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    underwriting_id = _case(engine)
    with pytest.raises(CommandError, match=r"a name is needed \(--by\)"):
        rerun(
            underwriting_id,
            by=name,
            instance=queued_home,
            workspace=workspace,
            settings=_settings(DAGSTER_HOME=str(queued_home.root_directory)),
        )
    assert _runs_of(queued_home, underwriting_id) == []
    assert main(["rerun", underwriting_id, "--by", name]) == 1
    assert "a name is needed (--by)" in capsys.readouterr().err


def test_two_rerun_commands_a_moment_apart_queue_one_run(
    engine: Engine,
    queued_home: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each command loads the code location (seconds) before it submits: the second one
    looks while the first has not created its run yet."""
    underwriting_id = _case(engine)
    monkeypatch.setenv("DAGSTER_HOME", str(queued_home.root_directory))
    codes: list[int] = []
    first = threading.Thread(
        target=lambda: codes.append(main(["rerun", underwriting_id, "--by", "alice"]))
    )
    first.start()
    time.sleep(1.0)  # "a second apart"; the outcome must not depend on it
    codes.append(main(["rerun", underwriting_id, "--by", "bob"]))
    first.join()
    (run,) = _runs_of(queued_home, underwriting_id)
    assert sorted(codes) == [0, 1]
    err = capsys.readouterr().err
    assert "aura-dagster rerun:" in err and underwriting_id in err
    assert run.status == DagsterRunStatus.QUEUED
