"""The statement regression corpus: every fixture file against its `.expected.json`, exactly.

Fixtures live in `aura_dagster_tests/fixtures/statements/<format>/`; each FILE has a
sidecar `FILE.expected.json` with the keys of `aura-dagster analyze --json`'s summary
below (money as strings with two decimals). The values were computed without the
parser (see each folder's SOURCES.md).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aura_dagster.commands.analyze import analyze

ROOT = Path(__file__).parents[1] / "fixtures" / "statements"
KEYS = {"transactions", "opening_balance", "closing_balance", "total_credits", "total_debits",
        "reconciles", "pending_excluded", "layout"}
MONEY = ("opening_balance", "closing_balance", "total_credits", "total_debits")
EXPECTED = sorted(ROOT.glob("**/*.expected.json"))


def _as_expected(summary: dict[str, Any]) -> dict[str, Any]:
    got = {key: summary[key] for key in KEYS}
    for key in MONEY:
        value = got[key]
        got[key] = None if value is None else f"{Decimal(value):.2f}"
    return got


def test_the_corpus_is_there() -> None:
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("expected_path", EXPECTED,
                         ids=[str(p.relative_to(ROOT)).removesuffix(".expected.json")
                              for p in EXPECTED])
def test_statement_fixture(expected_path: Path) -> None:
    fixture = expected_path.with_name(expected_path.name.removesuffix(".expected.json"))
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert set(expected) == KEYS, f"{expected_path.name}: sidecar keys"
    assert _as_expected(analyze([str(fixture)])) == expected
