"""From a file's bytes to Statements: extraction, then the parser for its kind."""

from __future__ import annotations

from aura_dagster.domain.documents.extraction import DEFAULT_MAX_PAGES, extract_text
from aura_dagster.domain.processors.bank_statement.csv_export import parse_statement_csv
from aura_dagster.domain.processors.bank_statement.model import Statement
from aura_dagster.domain.processors.bank_statement.ofx_export import parse_statement_ofx
from aura_dagster.domain.processors.bank_statement.pdf_text import parse_statement_text


def parse_statements(content: bytes, filename: str, *, max_pages: int = DEFAULT_MAX_PAGES,
                     document_id: str | None = None) -> list[Statement]:
    """Every statement in one file (OFX may hold several accounts).

    Raises a DocumentError when the file cannot be read, a StatementParseError when
    it can be read but holds no statement.
    """
    extracted = extract_text(content, filename, max_pages=max_pages, document_id=document_id)
    if extracted.kind == "pdf":
        return [parse_statement_text(extracted.text, source=filename,
                                     page_count=extracted.page_count)]
    if extracted.kind == "csv":
        return [parse_statement_csv(extracted.text, source=filename)]
    return parse_statement_ofx(content, source=filename)
