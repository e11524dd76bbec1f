"""Sample documents for demos and tests, generated deterministically (no network, no files
shipped).

    from aura_dagster.sample_data import write_bank_statement_samples
    files = write_bank_statement_samples(Path("samples"))  # list[SampleFile]

Ground truth for tests lives in `aura_dagster.sample_data.bank_statements`
(`sample_statements()`, `long_statement()`, the `render_*` functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aura_dagster.domain.documents.model import DocumentType


@dataclass(frozen=True)
class SampleFile:
    """One written sample: where it is, what it is, and what a reader should find in it."""

    path: Path
    document_type: DocumentType
    description: str
    file_format: str  # "pdf" | "csv" | "ofx"
    account: str | None = None  # last four digits of the account
    period: str | None = None  # "YYYY-MM" or "YYYY-MM..YYYY-MM"
    reconciles: bool | None = None  # the statement's own verdict; None: cannot be judged


def write_bank_statement_samples(directory: Path) -> list[SampleFile]:
    """Write the sample bank statements (PDF, CSV, OFX) into `directory`; returns them in order.

    Six monthly PDFs (First Demo Bank ****4821 and Harbor Credit Union ****7730, Jan-Mar
    2024; Harbor's March does not reconcile), two CSV exports (signed amount column; separate
    withdrawal / deposit columns with a summary block) and two OFX files (1.x SGML, 2.x XML).
    """
    from aura_dagster.sample_data import bank_statements as bs

    directory.mkdir(parents=True, exist_ok=True)
    statements = bs.sample_statements()
    files: list[SampleFile] = []

    def write(name: str, content: bytes, fmt: str, description: str, account: str,
              period: str, reconciles: bool | None) -> None:
        path = directory / name
        path.write_bytes(content)
        files.append(SampleFile(path, DocumentType.BANK_STATEMENT, description, fmt, account,
                                period, reconciles))

    for statement in statements:
        month = f"{statement.period_start:%Y-%m}"
        slug = "first_demo_bank" if statement.layout == "first_demo" else "harbor_cu"
        write(f"{slug}_{month}.pdf", bs.render_pdf(statement), "pdf",
              f"{statement.bank_name} statement {month}", statement.account_last4, month,
              statement.reconciles)
    first = [s for s in statements if s.layout == "first_demo"]
    harbor = [s for s in statements if s.layout == "harbor"]
    write("first_demo_bank_2024-01_to_2024-03.csv", bs.render_csv_signed(first), "csv",
          "First Demo Bank CSV export, signed amount column, oldest first",
          first[0].account_last4, "2024-01..2024-03", True)
    write("harbor_cu_2024-01.csv", bs.render_csv_split(harbor[0]), "csv",
          "Harbor Credit Union CSV export, summary block, withdrawal/deposit columns",
          harbor[0].account_last4, "2024-01", harbor[0].reconciles)
    write("first_demo_bank_2024-01.ofx", bs.render_ofx_sgml(first[0]), "ofx",
          "First Demo Bank OFX 1.x (SGML) export", first[0].account_last4, "2024-01", None)
    write("harbor_cu_2024-02.ofx", bs.render_ofx_xml(harbor[1]), "ofx",
          "Harbor Credit Union OFX 2.x (XML) export", harbor[1].account_last4, "2024-02", None)
    return files


__all__ = ["SampleFile", "write_bank_statement_samples"]
