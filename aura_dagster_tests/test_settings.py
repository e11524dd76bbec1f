"""One source of settings (aura_dagster/settings.py) and the commands that rely on it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from dagster._config.snap import ConfigSchemaSnapshot
from dagster._core.snap.snap_to_yaml import default_values_yaml_from_type_snap

from aura_dagster.cli import main
from aura_dagster.settings import (
    STACK_FILE,
    SettingsError,
    StackState,
    load_settings,
    read_stack_state,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-pa55"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AURA_*, PUBSUB_* or DAGSTER_* variable, working directory an empty folder."""
    for name in list(os.environ):
        if name.startswith(("AURA_", "PUBSUB_", "DAGSTER_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _state(data_dir: Path, pid: int, **overrides: str) -> StackState:
    values = {"pid": pid, "data_dir": str(data_dir), "dagster_home": str(data_dir / "home"),
              "pubsub_emulator_host": "127.0.0.1:18085", "pubsub_project_id": "stack-project",
              "database_url": f"sqlite:///{data_dir / 'aura.db'}",
              "sandbox_url": "http://127.0.0.1:18787", **overrides}
    return StackState(**values)


def test_environment_then_running_stack_then_defaults(clean_env: Path) -> None:
    data = clean_env / ".data"
    defaults = load_settings()
    assert defaults.data_dir == data
    assert defaults.store_url == f"sqlite:///{data / 'aura.db'}"  # README: .data/aura.db
    assert defaults.dagster_home is None and defaults.emulator_host == "127.0.0.1:8085"

    data.mkdir()
    _state(data, os.getpid()).write(data)
    from_stack = load_settings()
    assert from_stack.dagster_home == data / "home"
    assert from_stack.emulator_host == "127.0.0.1:18085"
    assert from_stack.pubsub_project_id == "stack-project"
    assert from_stack.sandbox_url == "http://127.0.0.1:18787"

    env = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:9999", "DAGSTER_HOME": "/elsewhere"}
    mixed = load_settings(env)
    assert mixed.emulator_host == "127.0.0.1:9999"  # the environment wins
    assert mixed.dagster_home == Path("/elsewhere")
    assert mixed.pubsub_project_id == "stack-project"  # the stack fills the rest
    assert mixed.env_name("pubsub_emulator_host") == "PUBSUB_EMULATOR_HOST"
    assert mixed.env_name("pubsub_project_id") is None


def test_a_stopped_or_garbled_stack_file_is_ignored(clean_env: Path) -> None:
    data = clean_env / ".data"
    data.mkdir()
    finished = subprocess.run(["true"], check=True)
    assert finished.returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    _state(data, dead.pid).write(data)
    assert read_stack_state(data) is None
    assert load_settings().dagster_home is None
    (data / STACK_FILE).write_text("{not json")
    assert read_stack_state(data) is None


def test_bad_values_are_clear_errors(clean_env: Path) -> None:
    with pytest.raises(SettingsError, match="AURA_SMTP_PORT"):
        load_settings({"AURA_SMTP_PORT": "twenty-five"})
    with pytest.raises(SettingsError, match="AURA_ENV must be 'embedded' or 'production'"):
        load_settings({"AURA_ENV": "staging"})


def test_the_demo_uses_the_data_dir_the_readme_and_the_commands_use(clean_env: Path) -> None:
    from aura_dagster.commands.demo import demo_data_dir

    assert demo_data_dir() == load_settings().data_dir == clean_env / ".data"
    assert load_settings().store_path == clean_env / ".data" / "aura.db"
    readme = (ROOT / "README.md").read_text()
    assert ".data/aura.db" in readme and ".data/demo" not in readme


@pytest.mark.parametrize("argv", [["approve", "uw_demo_1003", "--by", "alice"],
                                  ["reject", "uw_demo_1003", "--by", "alice", "--reason", "x"],
                                  ["review", "list"], ["status", "uw_demo_1003"]])
def test_commands_never_create_an_empty_store(clean_env: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              argv: list[str]) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"no store at {clean_env / '.data' / 'aura.db'}" in err
    assert "aura-dagster demo --keep" in err  # says how to fix it
    assert not (clean_env / ".data").exists()


def _launchpad_defaults(defs: object, job_name: str) -> str:
    """The YAML the Dagster UI pre-fills the launchpad with (dagster-graphql's
    rootDefaultYaml), from the job's snapshot."""
    snapshot = defs.resolve_job_def(job_name).get_job_snapshot()  # type: ignore[attr-defined]
    schema: ConfigSchemaSnapshot = snapshot.config_schema_snapshot
    root_key = snapshot.mode_def_snaps[0].root_config_key
    return default_values_yaml_from_type_snap(schema, schema.get_config_snap(root_key))


def test_the_launchpad_shows_no_secrets(clean_env: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql+psycopg://aura:{SECRET}@db.internal:5432/aura"
    monkeypatch.setenv("AURA_DATABASE_URL", url)
    monkeypatch.setenv("AURA_WAREHOUSE_URL", url)
    monkeypatch.setenv("AURA_SMTP_HOST", "smtp.internal")
    from aura_dagster.definitions import build_definitions
    from aura_dagster.environments import embedded_resources

    defs = build_definitions(embedded_resources())
    for job in ("process_underwriting", "resume_after_review"):
        launchpad = _launchpad_defaults(defs, job)
        assert SECRET not in launchpad and "db.internal" not in launchpad
        assert "env: AURA_DATABASE_URL" in launchpad
        assert "smtp.internal" not in launchpad
    assert not (clean_env / ".data").exists()


@pytest.mark.parametrize("package", ["domain", "storage"])
def test_domain_and_storage_read_no_environment(package: str) -> None:
    """They take settings as arguments; aura_dagster/settings.py reads the environment."""
    def reads_environment(line: str) -> bool:
        # OCR hands its environment on to tesseract (plus a thread limit) without reading it.
        return any(token in line for token in ("os.environ", "getenv(")) \
            and not line.rstrip().endswith("# handed on to the child, not read")

    readers = [str(path.relative_to(ROOT)) for path in (ROOT / "aura_dagster" / package)
               .rglob("*.py")
               if any(reads_environment(line) for line in path.read_text().splitlines())]
    assert readers == []
