"""`python -m aura_dagster.storage upgrade|downgrade|current|check [--url URL]`.

Without --url: $AURA_DATABASE_URL, else the embedded SQLite file under the data directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from aura_dagster.storage.database import Database, default_sqlite_url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aura_dagster.storage")
    parser.add_argument("command", choices=["upgrade", "downgrade", "current", "check"])
    parser.add_argument("--url", default=os.environ.get("AURA_DATABASE_URL"))
    parser.add_argument("--revision", default=None,
                        help="target revision (upgrade: head, downgrade: base)")
    args = parser.parse_args(argv)
    db = Database(args.url or default_sqlite_url())
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
