"""Bank-statement PDFs in the layouts banks print, read row by row against the generator's data.

The corpus (`aura_dagster_tests/fixtures/pdf_corpus`, files in fixtures/statements/pdf/)
draws each layout class of issue 17: sectioned statements signed by their headings with
stated section totals and "(continued)" pages, checks tables (check number first, several
a line, `^` / `*` gap marks), tables that are not transactions (daily balances, summaries
with counts, check images), Deposits / Withdrawals and Money in / Money out columns with
a daily balance on a day's last row, the amount before the description, subtotal lines,
values under their labels, every period phrase, a statement date with "Beginning balance
on 4/1", a cycle over a year end, trailing minus / (512.40) / `+ $1,204.55`, an overdrawn
opening balance, two statements in one file, and online-banking printouts (newest first,
pending rows, an available balance). `test_statement_corpus.py` checks each file's
totals; this module checks every statement's rows, period and balances.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aura_dagster.domain.processors.bank_statement import parse_statements
from aura_dagster_tests.fixtures.pdf_corpus.corpus import FOLDER, Case, cases

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_statement_reads_as_printed(case: Case) -> None:
    statements = parse_statements((Path(FOLDER) / case.name).read_bytes(), case.name)

    assert len(statements) == len(case.statements)
    for read, truth in zip(statements, case.statements, strict=True):
        assert (read.period_start, read.period_end) == (truth.period_start, truth.period_end)
        assert Counter((t.date, t.amount) for t in read.transactions) == Counter(
            (r.date, r.amount) for r in truth.rows)
        assert read.opening_balance == truth.opening
        assert read.closing_balance == truth.closing
        assert read.pending_excluded == len(truth.pending)
        assert read.reconciles is truth.reconciles
        assert read.layout == case.expected_layout
        if truth.reconciles:
            assert read.warnings == [], "a reconciled statement has nothing for a reviewer"
        else:
            assert read.warnings, "a statement that does not reconcile says why"


def test_the_corpus_spans_the_layouts_banks_print() -> None:
    layouts = {case.layout for case in CASES}
    assert len(CASES) >= 30 and len(layouts) >= 15


def test_two_statements_in_one_file_are_read_and_reconciled_each_on_its_own() -> None:
    [case] = [c for c in CASES if len(c.statements) > 1][:1]
    statements = parse_statements((Path(FOLDER) / case.name).read_bytes(), case.name)
    assert len(statements) == 2
    assert [s.reconciles for s in statements] == [True, True]
    assert statements[0].closing_balance == statements[1].opening_balance
    assert statements[0].period_end < statements[1].period_start


def test_row_dates_without_a_year_are_a_note_not_a_warning() -> None:
    case = next(c for c in CASES if c.layout == "chase_pdf")
    (statement,) = parse_statements((Path(FOLDER) / case.name).read_bytes(), case.name)
    assert any("print no year" in note for note in statement.notes)
    assert statement.warnings == []
