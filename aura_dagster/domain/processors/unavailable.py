"""Stands in for a purchased processor the code catalog does not know, so the run reports it."""

from __future__ import annotations

from collections.abc import Sequence

from aura_dagster.domain.documents.model import Document
from aura_dagster.domain.processors.base import (
    BaseProcessor,
    ExecutionContext,
    PermanentProcessorError,
    ProcessOutcome,
)


class UnavailableProcessor(BaseProcessor):
    """Always FAILED with UNKNOWN_PROCESSOR: a tenant bought something this build does not ship."""

    VERSION = "0"
    NAME = "Unknown processor"

    def __init__(self, processor_id: str) -> None:
        self.PROCESSOR_ID = processor_id  # type: ignore[misc]  # per instance, on purpose

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        raise PermanentProcessorError(
            "UNKNOWN_PROCESSOR", f"processor {self.PROCESSOR_ID!r} is not in the catalog")
