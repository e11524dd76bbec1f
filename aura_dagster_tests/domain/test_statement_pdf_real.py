"""Real bank-statement PDFs, made by banks' own statement producers (not by our generator).

The files in fixtures/statements/pdf_real/ come from sensible-hq/sensible-configuration-
library (MIT; see that folder's SOURCES.md for commits and licence): real statements and
online-banking exports with names and numbers replaced. Each `FILE.truth.json` was worked
out by hand from the PDF's own text, never by the reader; combined statements list each
account. Every file is read exactly, or parked (reconciles false with the break named, or
a typed refusal) - never a confident wrong number.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from aura_dagster.domain.processors.bank_statement import (
    StatementParseError,
    build_ledger,
    parse_statements,
)

FOLDER = Path(__file__).parents[1] / "fixtures" / "statements" / "pdf_real"
FILES = sorted(FOLDER.glob("*.pdf"))
# Read exactly today; the others are parked (see SOURCES.md for why).
EXACT = {
    "ally_combined_two_savings_2021-08.pdf",  # two accounts, one period
    "bank_of_america_adv_plus_2021-07.pdf",
    "chase_consolidated_checking_savings_2021-02.pdf",  # checking + savings
    "chase_for_business_activity_printout_2023-07.pdf",  # a day's date on its first row only
    "southstate_small_business_checking_2023-06_ocr.pdf",  # balance rows with dates
    "wells_fargo_combined_checking_savings_2021-08.pdf",
    "wells_fargo_essential_checking_2021-08.pdf",  # "Summary of checks written" skipped
    "wells_fargo_way2save_savings_2022-01.pdf",
}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _accounts(truth: dict) -> list[tuple]:  # type: ignore[type-arg]
    return sorted((a["transactions"], a["opening_balance"], a["closing_balance"],
                   a["total_credits"], a["total_debits"])
                  for a in truth.get("per_account") or [truth])


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_real_statement_is_read_exactly_or_parked(path: Path) -> None:
    truth = json.loads(path.with_name(path.name + ".truth.json").read_text(encoding="utf-8"))
    try:
        statements = parse_statements(path.read_bytes(), path.name)
    except StatementParseError:
        assert path.name not in EXACT
        return
    read = sorted((len(s.transactions), _money(s.opening_balance), _money(s.closing_balance),
                   _money(s.total_credits), _money(s.total_debits)) for s in statements)
    if path.name in EXACT:
        assert read == _accounts(truth)
        assert all(s.reconciles is True and s.warnings == [] for s in statements)
    else:
        assert read != _accounts(truth)
        assert any(s.reconciles is False for s in statements)
        assert any(s.warnings for s in statements)


def test_the_real_files_have_their_sources() -> None:
    sources = (FOLDER / "SOURCES.md").read_text(encoding="utf-8")
    assert "MIT" in sources
    for path in FILES:
        assert path.name.removesuffix(".pdf") in sources


@pytest.mark.parametrize("name", ["chase_consolidated_checking_savings_2021-02.pdf",
                                  "ally_combined_two_savings_2021-08.pdf"])
def test_the_accounts_of_a_combined_statement_stay_apart_in_the_ledger(name: str) -> None:
    statements = parse_statements((FOLDER / name).read_bytes(), name)
    assert len(statements) == 2
    assert len({s.account_id for s in statements}) == 2
    ledger = build_ledger(statements)
    last_day = min(s.period_end for s in statements)
    # Each day's balance is both accounts' together, not the first account's alone.
    assert ledger.daily_balances[last_day] == sum(
        (s.closing_balance or Decimal("0")) - sum((t.amount for t in s.transactions
                                                   if t.date > last_day), Decimal("0"))
        for s in statements)
