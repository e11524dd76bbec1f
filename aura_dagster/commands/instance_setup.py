"""Create and migrate a Dagster instance's storage once, before any process opens it.

The daemon and the webserver started together on a fresh DAGSTER_HOME both create the
SQLite storage at the same moment and one of them fails (`table alembic_version already
exists`, then two alembic heads). Creating it here first leaves them nothing to race for.
"""

from __future__ import annotations

import io
import sqlite3
from contextlib import redirect_stdout
from pathlib import Path

# The SQLite files the embedded instance keeps under DAGSTER_HOME.
SQLITE_STORAGE_FILES = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")


def prepare_instance(home: Path) -> None:
    """Create the storage of the instance configured by `home/dagster.yaml` (at the current
    schema) if it is not there yet. An existing home is left as it is: re-running Dagster's
    data migrations walks every stored run (`dagster instance migrate` does that on an
    upgrade of Dagster)."""
    from dagster import DagsterInstance

    fresh = not storage_ready(home)
    # Dagster prints its migration steps to stdout: not news for a fresh home.
    with redirect_stdout(io.StringIO()), DagsterInstance.from_config(str(home)) as instance:
        if fresh:
            instance.upgrade(print_fn=None)


def storage_ready(home: Path) -> bool:
    """True when every SQLite storage file exists with exactly one alembic revision."""
    for name in SQLITE_STORAGE_FILES:
        path = home / name
        if not path.exists():
            return False
        with sqlite3.connect(path) as conn:
            try:
                rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            except sqlite3.OperationalError:
                return False
        if len(rows) != 1:
            return False
    return True
