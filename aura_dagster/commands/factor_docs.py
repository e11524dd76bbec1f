"""Write or check `docs/factors.md`, the factor dictionary generated from the code.

    python -m aura_dagster.commands.factor_docs --write   # regenerate
    python -m aura_dagster.commands.factor_docs --check   # exit 1 when out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from aura_dagster.domain.factor_dictionary import render_markdown

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "factors.md"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aura_dagster.commands.factor_docs")
    parser.add_argument("--write", action="store_true", help="rewrite docs/factors.md")
    parser.add_argument("--check", action="store_true", help="fail when it is out of date")
    parser.add_argument("--path", type=Path, default=DOCS_PATH)
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.write:
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
        return 0
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is out of date: run python -m aura_dagster.commands.factor_docs"
                  " --write", file=sys.stderr)
            return 1
        print(f"{args.path} is up to date")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
