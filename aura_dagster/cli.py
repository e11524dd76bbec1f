"""`aura-dagster`: the command a person types."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aura-dagster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    analyze = sub.add_parser("analyze", help="run the bank statement processor on files")
    analyze.add_argument("paths", nargs="+", metavar="PATH", help="PDF, CSV, OFX or QFX statements")
    analyze.add_argument("--json", action="store_true", help="print one JSON object")

    demo = sub.add_parser("demo", help="run the whole engine on sample underwritings")
    demo.add_argument("--keep", action="store_true",
                      help="leave Dagster running afterwards, and parked cases parked")
    demo.add_argument("--fresh", action="store_true",
                      help="wipe the data dir first (store, runs, review decisions); kept "
                           "by default")

    stack = sub.add_parser("stack", help="start a profile (embedded or production) and keep it")
    stack.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    stack.add_argument("--workers", type=int, default=1, help="production: Celery workers")
    stack.add_argument("--concurrency", type=int, default=4, help="production: runs per worker")
    stack.add_argument("--port", type=int, default=3000, help="webserver port")
    worker = sub.add_parser("worker", help="start one warm Celery run worker (production)")
    worker.add_argument("--concurrency", type=int, default=4, help="runs at a time")
    worker.add_argument("--name", default=None, help="worker name prefix")
    worker.add_argument("--loglevel", default="INFO")

    daemon = sub.add_parser(
        "daemon", help="dagster-daemon run, with the sensor loop every 0.5 s (not 5 s)")
    daemon.add_argument("daemon_args", nargs=argparse.REMAINDER, metavar="ARG",
                        help="passed to `dagster-daemon run` (e.g. -w workspace.yaml)")

    approve = sub.add_parser("approve", help="approve an underwriting parked for review")
    approve.add_argument("underwriting_id")
    approve.add_argument("--by", required=True, metavar="REVIEWER", help="who approves")
    approve.add_argument("--note", default=None, help="why (kept with the decision)")

    reject = sub.add_parser("reject", help="reject an underwriting parked for review")
    reject.add_argument("underwriting_id")
    reject.add_argument("--by", required=True, metavar="REVIEWER", help="who rejects")
    reject.add_argument("--reason", required=True, help="why (sent in processing.completed)")

    review = sub.add_parser("review", help="cases parked for review")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    review_list = review_sub.add_parser("list", help="parked cases with reasons and age")
    review_list.add_argument("--org", default=None, metavar="ORG", help="one organization")
    review_list.add_argument("--json", action="store_true", help="print JSON")

    rerun = sub.add_parser("rerun", help="process an underwriting again (through the queue)")
    rerun.add_argument("underwriting_id")
    rerun.add_argument("--by", default="cli", metavar="NAME", help="who asks (a run tag)")

    # Lender rules (commands/rules.py).
    rules = sub.add_parser("rules", help="lender rules per organization (decline / park)")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rules_list = rules_sub.add_parser("list", help="the rules in force, their version, history")
    rules_list.add_argument("--org", required=True, metavar="ORG")
    rules_list.add_argument("--json", action="store_true", help="print JSON")
    rules_show = rules_sub.add_parser("show", help="a version's rules (default: in force)")
    rules_show.add_argument("--org", required=True, metavar="ORG")
    rules_show.add_argument("--version", type=int, default=None, metavar="N",
                            help="0: the defaults")
    rules_show.add_argument("--json", action="store_true", help="print JSON (`rules set` reads it)")
    rules_set = rules_sub.add_parser("set", help="store a new version from a JSON or TOML file")
    rules_set.add_argument("--org", required=True, metavar="ORG")
    rules_set.add_argument("--file", required=True, type=Path, metavar="RULES.json|toml")
    rules_set.add_argument("--by", required=True, metavar="NAME", help="who changes them")
    rules_set.add_argument("--note", default=None, help="why (kept with the version)")
    rules_sub.add_parser("factors", help="the factor names and types conditions can use")

    status = sub.add_parser("status", help="progress and ETA of an underwriting or a batch")
    status.add_argument("underwriting_id", nargs="?")
    status.add_argument("--org", default=None, metavar="ORG", help="an organization's cases")
    status.add_argument("--backfill", default=None, metavar="ID", help="a backfill's cases")
    status.add_argument("--watch", action="store_true", help="redraw until done")
    status.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _review(args: argparse.Namespace) -> int:
    from aura_dagster.commands import review

    if args.command == "review":
        from aura_dagster.commands.review import format_age, list_parked

        cases = list_parked(args.org)
        if args.json:
            print(json.dumps([c.as_dict() for c in cases]))
            return 0
        if not cases:
            print("no underwriting is awaiting review")
        for case in cases:
            # One reason a line, never cut: lender-rule reasons are sentences.
            print(f"{case.underwriting_id:<24} {case.organization_id:<20} "
                  f"{format_age(case.age_seconds):>7}  {case.business_name or ''}".rstrip())
            for reason in case.reasons or ["-"]:
                print(f"    {reason}")
        return 0
    if args.command == "approve":
        outcome = review.approve(args.underwriting_id, reviewer=args.by, note=args.note)
    else:
        outcome = review.reject(args.underwriting_id, reviewer=args.by, reason=args.reason)
    verb = "approved" if outcome.decision == "approve" else "rejected"
    if outcome.already_submitted:
        print(f"{outcome.underwriting_id}: already {verb} by {outcome.reviewer}; "
              f"resume run {outcome.run_id}")
    else:
        print(f"{outcome.underwriting_id}: {verb} by {outcome.reviewer}; resume run "
              f"{outcome.run_id} queued (follow it: aura-dagster status "
              f"{outcome.underwriting_id} --watch)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["daemon"] and not {"-h", "--help"} & set(argv[1:2]):
        # Every option goes to dagster-daemon run (argparse would claim `-w`).
        from aura_dagster.commands.daemon import run_daemon

        return run_daemon(argv[1:])
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", module="dagster")  # preview/beta notices are not news
    if args.command == "analyze":
        from aura_dagster.commands.analyze import run as run_analyze

        return run_analyze(args.paths, as_json=args.json)
    if args.command == "demo":
        from aura_dagster.commands.demo import run as run_demo

        return run_demo(keep=args.keep, fresh=args.fresh)
    if args.command in ("stack", "worker"):
        from aura_dagster.commands import stack as stack_command

        if args.command == "stack":
            return stack_command.run_stack(args.profile, workers=args.workers,
                                           concurrency=args.concurrency, port=args.port)
        return stack_command.run_worker(concurrency=args.concurrency, name=args.name,
                                        loglevel=args.loglevel)
    from aura_dagster.commands.preflight import CommandError
    from aura_dagster.settings import SettingsError

    try:
        if args.command in ("approve", "reject", "review"):
            return _review(args)
        if args.command == "rerun":
            from aura_dagster.commands.rerun import rerun

            run_id = rerun(args.underwriting_id, by=args.by)
            print(f"{args.underwriting_id}: process_underwriting run {run_id} queued (follow "
                  f"it: aura-dagster status {args.underwriting_id} --watch)")
            return 0
        if args.command == "rules":
            from aura_dagster.commands.rules import run as run_rules

            return run_rules(args)
        if args.command == "status":
            from aura_dagster.commands.status import run as run_status

            return run_status(args.underwriting_id, organization_id=args.org,
                              backfill_id=args.backfill, watch=args.watch, as_json=args.json)
    except (CommandError, SettingsError) as exc:
        print(f"aura-dagster {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
