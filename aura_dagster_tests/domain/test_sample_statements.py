from __future__ import annotations

from pathlib import Path

from aura_dagster.domain.documents import DocumentType
from aura_dagster.domain.processors.bank_statement import parse_statements
from aura_dagster.sample_data import SampleFile, write_bank_statement_samples
from aura_dagster.sample_data.bank_statements import render_pdf, sample_statements


def test_samples_are_written_and_parse(tmp_path: Path) -> None:
    files = write_bank_statement_samples(tmp_path / "samples")
    assert all(isinstance(f, SampleFile) and f.path.is_file() for f in files)
    assert {f.file_format for f in files} == {"pdf", "csv", "ofx"}
    assert all(f.document_type is DocumentType.BANK_STATEMENT for f in files)
    for sample in files:
        (statement,) = parse_statements(sample.path.read_bytes(), sample.path.name)
        assert statement.reconciles is sample.reconciles, sample.path.name
    assert [f.reconciles for f in files].count(False) == 1


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = write_bank_statement_samples(tmp_path / "a")
    second = write_bank_statement_samples(tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        if a.file_format != "pdf":  # PDFs embed a creation date
            assert a.path.read_bytes() == b.path.read_bytes()
    assert sample_statements() == sample_statements(2024)


def test_ground_truth_has_the_promised_events() -> None:
    statements = sample_statements()
    kinds = {t.kind for s in statements for t in s.transactions}
    assert {"card_settlement", "mobile_payment", "funder_debit", "recurring_debit",
            "own_transfer", "loan_proceeds", "nsf_fee", "overdraft_fee"} <= kinds
    assert any(t.balance < 0 for s in statements for t in s.transactions)
    assert [s.reconciles for s in statements].count(False) == 1
    assert render_pdf(statements[0]).startswith(b"%PDF")
