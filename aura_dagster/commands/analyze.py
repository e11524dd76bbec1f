"""`aura-dagster analyze PATH... [--json]`: the bank statement processor on local files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.money import jsonable
from aura_dagster.domain.processors.bank_statement import BankStatementProcessor
from aura_dagster.domain.processors.base import ExecutionStatus, UnderwritingContext


def _load(paths: list[str]) -> list[Document]:
    documents = []
    for index, raw in enumerate(paths, 1):
        path = Path(raw)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {raw}")
        documents.append(Document(
            document_id=f"local_{index:03d}", revision_id="1", content_location=str(path),
            document_type=DocumentType.BANK_STATEMENT, filename=path.name,
            content=path.read_bytes()))
    return documents


_STATEMENT_KEYS = ("source", "format", "layout", "period_start", "period_end",
                   "transaction_count", "opening_balance", "closing_balance", "total_credits",
                   "total_debits", "reconciles", "pending_excluded", "warnings", "notes")


def _summary(output: dict[str, Any]) -> dict[str, Any]:
    """Totals over every statement; balances from the first and last statement in time."""
    statements = sorted(output["statements"], key=lambda s: (s["period_start"], s["period_end"]))
    verdicts = [s["reconciles"] for s in statements]
    reconciles = False if False in verdicts else (None if None in verdicts else True)
    layouts = list(dict.fromkeys(str(s.get("layout")) for s in statements))
    return {
        "transactions": output["factors"]["bank_transaction_count"],
        "opening_balance": statements[0]["opening_balance"],
        "closing_balance": statements[-1]["closing_balance"],
        "total_credits": output["factors"]["bank_total_deposits"],
        "total_debits": output["factors"]["bank_total_withdrawals"],
        "reconciles": reconciles,
        "pending_excluded": sum(int(s.get("pending_excluded") or 0) for s in statements),
        "layout": ", ".join(layouts),
        "warnings": [f"{s['source']}: {w}" for s in statements for w in s.get("warnings") or []],
        "statements": [{k: s.get(k) for k in _STATEMENT_KEYS} for s in statements],
        "factors": output["factors"],
    }


def analyze(paths: list[str]) -> dict[str, Any]:
    """The summary of `analyze --json` with Decimals kept. Raises OSError, AnalyzeError."""
    documents = _load(paths)
    result = BankStatementProcessor().execute(UnderwritingContext("local", "local"), documents)
    if result.status is not ExecutionStatus.COMPLETED or result.skipped:
        reason = result.error_message or result.decision_reason
        raise AnalyzeError(f"{result.error_code or 'FAILED'}: {reason}")
    return _summary(result.output) | {"_statements": result.output["statements"]}


class AnalyzeError(Exception):
    """The processor did not complete on these files."""


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _print_text(summary: dict[str, Any], output: dict[str, Any]) -> None:
    verdict = {True: "yes", False: "NO", None: "cannot be judged (no opening balance)"}
    for statement in output["statements"]:
        print(f"{statement['source']}: {statement['period_start']} .. {statement['period_end']}, "
              f"{statement['transaction_count']} transactions, reconciles: "
              f"{verdict[statement['reconciles']]} ({statement['reconciliation_note']})")
        notes = statement.get("notes") or []  # information, not for review
        for note in notes[:5]:
            print(f"  note: {note}")
        if len(notes) > 5:
            print(f"  note: {len(notes) - 5} more (--json lists them all)")
    print()
    print(f"transactions     {summary['transactions']}")
    print(f"opening balance  {_money(summary['opening_balance'])}")
    print(f"closing balance  {_money(summary['closing_balance'])}")
    print(f"total credits    {_money(summary['total_credits'])}")
    print(f"total debits     {_money(summary['total_debits'])}")
    print(f"reconciles       {verdict[summary['reconciles']]}")
    print(f"layout           {summary['layout']}")
    print(f"pending excluded {summary['pending_excluded']}")
    for warning in summary["warnings"]:
        print(f"warning          {warning}")
    print("factors:")
    for name, value in summary["factors"].items():
        print(f"  {name} = {json.dumps(value)}")


def run(paths: list[str], *, as_json: bool) -> int:
    """Analyse the files; 0 on success, 1 when a file is missing or cannot be analysed."""
    try:
        summary = analyze(paths)
    except (OSError, AnalyzeError) as exc:
        print(f"aura-dagster analyze: {exc}", file=sys.stderr)
        return 1
    statements = summary.pop("_statements")
    summary = jsonable(summary)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print_text(summary, {"statements": jsonable(statements)})
    return 0
