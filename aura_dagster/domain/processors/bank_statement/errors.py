"""Why a statement could not be parsed: permanent, since re-reading the same bytes cannot help."""

from __future__ import annotations

from aura_dagster.domain.processors.base import PermanentProcessorError


class StatementParseError(PermanentProcessorError):
    """Codes: STATEMENT_NO_TRANSACTIONS, STATEMENT_NO_DATES, STATEMENT_NO_COLUMNS,
    STATEMENT_BAD_DATE (a date column mixing day-first and month-first),
    STATEMENT_OFX_INVALID, STATEMENT_CONTENT_MISSING, STATEMENT_NONE_READABLE."""
