"""Bank statement analysis: parsers for PDF / CSV / OFX statements and the `bank_*` factors."""

from aura_dagster.domain.processors.bank_statement.errors import StatementParseError
from aura_dagster.domain.processors.bank_statement.ledger import Ledger, build_ledger
from aura_dagster.domain.processors.bank_statement.model import Statement, Transaction
from aura_dagster.domain.processors.bank_statement.parsing import parse_statements
from aura_dagster.domain.processors.bank_statement.pdf_text import parse_statement_text
from aura_dagster.domain.processors.bank_statement.processor import (
    BankStatementProcessor,
    analyze_statements,
)

__all__ = [
    "BankStatementProcessor",
    "Ledger",
    "Statement",
    "StatementParseError",
    "Transaction",
    "analyze_statements",
    "build_ledger",
    "parse_statement_text",
    "parse_statements",
]
