"""`aura-dagster rules list | show | set | factors` through the CLI's main, on a real
PostgreSQL store found through the environment (as an operator's shell finds it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aura_dagster.cli import main
from aura_dagster.storage import Database, Stores
from aura_dagster_tests.conftest import PostgresDatabases

TOML = """
[[rules]]
name = "bankrupt"
condition = "biz_active_bankruptcy == true"
action = "decline"
reason = "active bankruptcy"

[[rules]]
name = "short_history"
condition = "bank_months_covered < 6"
action = "park"
reason = "under six months of statements"
"""


@pytest.fixture
def store(
    postgres_databases: PostgresDatabases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stores]:
    """A migrated store where org_1 bought bank statements; the CLI finds it in the env."""
    url = postgres_databases.create("aura_rules_cli")
    db = Database(url)
    db.upgrade()
    stores = Stores(db)
    stores.processors.create_purchased_processor("org_1", "p_bank_statement")
    monkeypatch.setenv("AURA_DATABASE_URL", url)
    monkeypatch.setenv("AURA_DATA_DIR", str(tmp_path))  # no running stack's state file
    yield stores
    db.dispose()


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _audit_count(stores: Stores) -> int:
    with stores.db.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM audit_log WHERE event = 'rules_changed'")
            ).scalar_one()
        )


def test_an_organization_without_rules_shows_the_defaults(
    store: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "list", "--org", "org_1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("org_1: the defaults (version 0; no rules of its own)")
    assert "active_bankruptcy" in out and "biz_active_bankruptcy == true" in out
    assert main(["rules", "show", "--org", "org_1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["version"], shown["source"], len(shown["rules"])) == (0, "defaults", 6)


@pytest.mark.parametrize("command", [["list"], ["show"], ["show", "--version", "0"]])
def test_an_unknown_organization_is_refused(
    store: Stores, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main(["rules", *command, "--org", "org_nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("aura-dagster rules: organization 'org_nope' is not known")


def test_set_list_show_and_versions(
    store: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, "rules.toml", TOML)
    assert (
        main(
            [
                "rules",
                "set",
                "--org",
                "org_1",
                "--file",
                str(path),
                "--by",
                "ann",
                "--note",
                "six months minimum",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("org_1: rules version 1 stored (2 rules, by ann)")
    assert "warning: rule bankrupt reads factors of p_clear_business_report" in out

    # The shown JSON is a rule file: edit it and set it again.
    assert main(["rules", "show", "--org", "org_1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["version"], shown["changed_by"], shown["note"]) == (
        1,
        "ann",
        "six months minimum",
    )
    shown["rules"] = shown["rules"][1:]
    edited = _file(tmp_path, "edited.json", json.dumps(shown))
    assert main(["rules", "set", "--org", "org_1", "--file", str(edited), "--by", "bob"]) == 0
    capsys.readouterr()

    assert main(["rules", "list", "--org", "org_1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("org_1: rules version 2, set by bob at ")
    assert "short_history" in out and "bankrupt " not in out
    history = out.split("history:")[1].splitlines()
    assert history[1].split()[0] == "v2" and "bob" in history[1]
    assert history[2].split()[0] == "v1" and history[2].endswith("six months minimum")

    assert main(["rules", "list", "--org", "org_1", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["in_force"]["version"] == 2
    assert [h["version"] for h in listed["history"]] == [2, 1]

    assert main(["rules", "show", "--org", "org_1", "--version", "1"]) == 0
    assert "bankrupt" in capsys.readouterr().out
    assert main(["rules", "show", "--org", "org_1", "--version", "9"]) == 1
    assert "has no rules version 9 (versions 1-2; 0 is the defaults)" in capsys.readouterr().err
    assert _audit_count(store) == 2


def test_a_bad_file_is_refused_whole_and_nothing_is_stored(
    store: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _file(
        tmp_path,
        "bad.json",
        json.dumps(
            {
                "rules": [
                    {
                        "name": "a",
                        "condition": "bank_nsf_cnt > 3",
                        "action": "park",
                        "reason": "nsf",
                    },
                    {
                        "name": "a",
                        "condition": "bank_nsf_count >",
                        "action": "park",
                        "reason": "nsf",
                    },
                    {
                        "name": "c",
                        "condition": "bank_nsf_count > 3",
                        "action": "reject",
                        "reason": "x",
                    },
                ]
            }
        ),
    )
    assert main(["rules", "set", "--org", "org_1", "--file", str(bad), "--by", "ann"]) == 1
    err = capsys.readouterr().err
    assert "rules refused, nothing was stored" in err
    assert "unknown factor 'bank_nsf_cnt'; did you mean bank_nsf_count" in err
    assert "syntax error: 'bank_nsf_count >' ends too early" in err
    assert "the name 'a' is used twice" in err
    assert "unknown action 'reject'; one of park, decline" in err
    assert "`aura-dagster rules factors`" in err
    good = _file(tmp_path, "rules.toml", TOML)
    for argv, message in [
        (["--org", "org_1", "--file", str(good), "--by", "  "], "--by must name who"),
        (["--org", "org_nope", "--file", str(good), "--by", "ann"], "'org_nope' is not known"),
        (["--org", "org_1", "--file", str(tmp_path / "none.toml"), "--by", "ann"], "cannot read"),
        (
            ["--org", "org_1", "--file", str(_file(tmp_path, "r.yaml", "")), "--by", "ann"],
            "a rules file is .json or .toml",
        ),
    ]:
        assert main(["rules", "set", *argv]) == 1
        assert message in capsys.readouterr().err
    assert store.rules.history("org_1") == [] and store.rules.history("org_nope") == []
    assert _audit_count(store) == 0


def test_factors_lists_the_dictionary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "factors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and lines[0].split()[0] == "bank_statement_count"
    assert any(line.split()[:3] == ["dl_expired", "boolean", "p_drivers_license"] for line in lines)


def test_rules_never_create_an_empty_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AURA_DATABASE_URL", raising=False)
    monkeypatch.setenv("AURA_DATA_DIR", str(tmp_path / ".data"))
    assert main(["rules", "list", "--org", "org_1"]) == 1
    assert f"no store at {tmp_path / '.data' / 'aura.db'}" in capsys.readouterr().err
    assert not (tmp_path / ".data").exists()
