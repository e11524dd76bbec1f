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

    stack = sub.add_parser("stack", help="start a profile (embedded or production) and keep it")
    stack.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    stack.add_argument("--workers", type=int, default=1, help="production: Celery workers")
    stack.add_argument("--concurrency", type=int, default=4, help="production: runs per worker")
    stack.add_argument("--port", type=int, default=3000, help="webserver port")
    worker = sub.add_parser("worker", help="start one warm Celery run worker (production)")
    worker.add_argument("--concurrency", type=int, default=4, help="runs at a time")
    worker.add_argument("--name", default=None, help="worker name prefix")
    worker.add_argument("--loglevel", default="INFO")

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
    if args.command in ("stack", "worker"):
        from aura_dagster.commands import stack as stack_command

        if args.command == "stack":
            return stack_command.run_stack(args.profile, workers=args.workers,
                                           concurrency=args.concurrency, port=args.port)
        return stack_command.run_worker(concurrency=args.concurrency, name=args.name,
                                        loglevel=args.loglevel)
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
