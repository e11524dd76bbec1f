from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aura_dagster.sample_data import write_bank_statement_samples


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aura_dagster.cli", "analyze", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    files = write_bank_statement_samples(tmp_path_factory.mktemp("samples"))
    return {f.path.name: f.path for f in files}


def test_text_output(samples: dict[str, Path]) -> None:
    done = _cli(str(samples["first_demo_bank_2024-01.pdf"]),
                str(samples["first_demo_bank_2024-02.pdf"]))
    assert done.returncode == 0, done.stderr
    assert "transactions     229" in done.stdout
    assert "opening balance  8,000.00" in done.stdout
    assert "reconciles       yes" in done.stdout
    assert "bank_average_daily_balance" in done.stdout


def test_json_output(samples: dict[str, Path]) -> None:
    done = _cli("--json", *(str(samples[f"harbor_cu_2024-0{m}.pdf"]) for m in (1, 2, 3)))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"transactions", "opening_balance", "closing_balance", "total_credits",
                         "total_debits", "reconciles", "pending_excluded", "layout", "warnings",
                         "statements", "factors"}
    assert data["opening_balance"] == 12000.0
    assert data["reconciles"] is False
    assert data["factors"]["bank_unreconciled_statement_count"] == 1


def test_ofx_reconciliation_cannot_be_judged(samples: dict[str, Path]) -> None:
    done = _cli("--json", str(samples["harbor_cu_2024-02.ofx"]))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reconciles"] is None


def test_errors_go_to_stderr_without_traceback(tmp_path: Path) -> None:
    missing = _cli(str(tmp_path / "nope.pdf"))
    assert missing.returncode != 0 and "no such file" in missing.stderr
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7 not really")
    broken = _cli(str(corrupt))
    assert broken.returncode != 0 and "CORRUPT_DOCUMENT" in broken.stderr
    for done in (missing, broken):
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_json_reports_layout_pending_and_warnings_per_statement() -> None:
    fixtures = Path(__file__).parent / "fixtures" / "statements" / "csv"
    done = _cli("--json", str(fixtures / "gen_citi_pending.csv"),
                str(fixtures / "gen_broken_chain.csv"))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["pending_excluded"] == 2
    assert data["layout"] == "inferred:header(date=0,amount=2,balance=3), citi_csv"
    assert data["warnings"][0].startswith("gen_broken_chain.csv: line 5")
    by_source = {s["source"]: s for s in data["statements"]}
    assert by_source["gen_citi_pending.csv"]["pending_excluded"] == 2
    assert by_source["gen_citi_pending.csv"]["layout"] == "citi_csv"
    assert by_source["gen_broken_chain.csv"]["warnings"]
    assert data["reconciles"] is False


def test_notes_are_shown_apart_from_warnings() -> None:
    """Information ("years taken from the period") is a note, beside each statement; it is
    not a warning, so it neither parks the case nor hides among what a reviewer must check."""
    pdf = Path(__file__).parent / "fixtures" / "statements" / "pdf" / "chase_pdf_may.pdf"
    done = _cli("--json", str(pdf))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    [statement] = data["statements"]
    assert any("print no year" in note for note in statement["notes"])
    assert data["warnings"] == [] and statement["warnings"] == []
    text = _cli(str(pdf))
    assert "note" in text.stdout and "print no year" in text.stdout
