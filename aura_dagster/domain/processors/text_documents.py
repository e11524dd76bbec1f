"""Shared by processors that read documents' extracted text one by one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from aura_dagster.domain.documents.model import Document
from aura_dagster.domain.processors.base import (
    ExecutionContext,
    PermanentProcessorError,
    ProcessorError,
)

Parsed = TypeVar("Parsed")


def parse_each_document(ctx: ExecutionContext, documents: Sequence[Document],
                        parse: Callable[[str | None, str], Parsed], *,
                        none_readable_code: str,
                        none_readable_message: str) -> tuple[list[Parsed], list[dict[str, str]]]:
    """Parse every readable document; list the others with their error code.

    Raises the first parse error (or `none_readable_code`) when no document could be read:
    one unreadable document among good ones is reported, not fatal.
    """
    parsed: list[Parsed] = []
    unreadable: list[dict[str, str]] = []
    first_error: ProcessorError | None = None
    for document in documents:
        if document.extraction_error:
            unreadable.append({"document_id": document.document_id,
                               "error_code": document.extraction_error})
            continue
        try:
            parsed.append(parse(document.text, document.document_id))
        except ProcessorError as exc:
            first_error = first_error or exc
            unreadable.append({"document_id": document.document_id, "error_code": exc.code})
            ctx.trace("parse", "unreadable", exc.message,
                      input_data={"document_id": document.document_id})
    if not parsed:
        raise first_error or PermanentProcessorError(none_readable_code, none_readable_message)
    return parsed, unreadable
