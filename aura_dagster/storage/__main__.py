"""`python -m aura_dagster.storage upgrade|downgrade|current|check [--url URL]`.

Without --url: the store of aura_dagster.settings ($AURA_DATABASE_URL, else the embedded
SQLite file `aura.db` in the data directory).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aura_dagster.storage.database import Database


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aura_dagster.storage")
    parser.add_argument("command", choices=["upgrade", "downgrade", "current", "check"])
    parser.add_argument("--url", default=None)
    parser.add_argument("--revision", default=None,
                        help="target revision (upgrade: head, downgrade: base)")
    args = parser.parse_args(argv)
    if args.url is None:
        from aura_dagster.settings import load_settings

        settings = load_settings()
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        args.url = settings.store_url
    db = Database(args.url)
    try:
        if args.command == "upgrade":
            db.upgrade(args.revision or "head")
        elif args.command == "downgrade":
            db.downgrade(args.revision or "base")
        elif args.command == "check":
            healthy = db.health_check()
            print("ok" if healthy else "unreachable")
            return 0 if healthy else 1
        print(f"{db!r} at revision {db.current_revision()}")
        return 0
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
