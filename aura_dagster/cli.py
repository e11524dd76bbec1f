"""`aura-dagster`: the command a person types."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aura-dagster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    analyze = sub.add_parser("analyze", help="run the bank statement processor on files")
    analyze.add_argument("paths", nargs="+", metavar="PATH", help="PDF, CSV, OFX or QFX statements")
    analyze.add_argument("--json", action="store_true", help="print one JSON object")

    demo = sub.add_parser("demo", help="run the whole engine on sample underwritings")
    demo.add_argument("--keep", action="store_true", help="leave Dagster running afterwards")

    approve = sub.add_parser("approve", help="approve an underwriting parked for review")
    approve.add_argument("underwriting_id")
    approve.add_argument("--by", required=True, metavar="REVIEWER", help="who approves")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "analyze":
        from aura_dagster.commands.analyze import run as run_analyze

        return run_analyze(args.paths, as_json=args.json)
    if args.command == "demo":
        from aura_dagster.commands.demo import run as run_demo

        return run_demo(keep=args.keep)
    if args.command == "approve":
        from aura_dagster.commands.review import ReviewError
        from aura_dagster.commands.review import approve as approve_underwriting
        from aura_dagster.storage import DuplicateRequestError

        try:
            ok = approve_underwriting(args.underwriting_id, reviewer=args.by)
        except (ReviewError, DuplicateRequestError) as exc:
            print(f"aura-dagster approve: {exc}", file=sys.stderr)
            return 1
        print(f"{args.underwriting_id}: {'approved and published' if ok else 'resume run failed'}")
        return 0 if ok else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
