"""The engine's Definitions as the tests run them: the embedded resources (pointed by the
session fixture's environment at PostgreSQL, the emulator and the sandbox), plus one
test-only processor that crashes its step while a flag file exists, for re-execution tests.

Imported only after `engine` (conftest) has set the environment; `reconstructable` finds
the jobs here by module path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import JobDefinition

from aura_dagster.definitions import build_definitions
from aura_dagster.domain.documents.model import Document
from aura_dagster.domain.processors.base import (
    BaseProcessor,
    ExecutionContext,
    ProcessorResult,
    ProcessOutcome,
    UnderwritingContext,
)
from aura_dagster.domain.processors.registry import CATALOG
from aura_dagster.environments import embedded_resources
from aura_dagster.resources.processors import ProcessorsResource
from aura_dagster.tags import JOB_NAME

CRASH_FLAG_ENV = "AURA_TEST_CRASH_FLAG"


class CrashingStepProcessor(BaseProcessor):
    """Crashes outside the processor template (like a killed worker) while the flag exists."""

    PROCESSOR_ID = "p_test_crash"
    VERSION = "1.0.0"
    NAME = "Test: crash while flagged"
    CONFIG = {"timeout_seconds": 5, "cost_cents": 1}

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        return ProcessOutcome(output={"documents": len(documents)},
                              factors={"test_documents_seen": len(documents)})

    def execute(self, underwriting: UnderwritingContext, documents: Sequence[Document],
                config: Mapping[str, Any] | None = None, *,
                execution_id: str | None = None) -> ProcessorResult:
        flag = os.environ.get(CRASH_FLAG_ENV)
        if flag and Path(flag).exists():
            raise RuntimeError("worker crashed (test flag present)")
        return super().execute(underwriting, documents, config, execution_id=execution_id)


TEST_CATALOG = {**CATALOG, CrashingStepProcessor.PROCESSOR_ID: CrashingStepProcessor}


class CrashableProcessorsResource(ProcessorsResource):
    def catalog(self) -> Mapping[str, type[BaseProcessor]]:
        return TEST_CATALOG


def _resources() -> dict[str, Any]:
    resources = embedded_resources()
    vendors = resources["processors"]
    resources["processors"] = CrashableProcessorsResource(
        opencorporates_base_url=vendors.opencorporates_base_url,
        clear_base_url=vendors.clear_base_url,
        request_timeout_seconds=vendors.request_timeout_seconds)
    return resources


defs = build_definitions(_resources())


def process_job() -> JobDefinition:
    return defs.resolve_job_def(JOB_NAME)


def resume_job() -> JobDefinition:
    return defs.resolve_job_def("resume_after_review")
