"""A processor whose vendor call runs its time limit out is a TIMEOUT, whichever clock
noticed first: the call's own timeout (bounded by the deadline) or the deadline's watcher.
Before, the two raced: a loaded machine reported the same slow vendor as FAILED
(VENDOR_TIMEOUT) on some runs and TIMEOUT on others."""

from __future__ import annotations

import time
from collections.abc import Sequence

from aura_dagster.domain.documents.model import Document
from aura_dagster.domain.processors.base import (
    VENDOR_TIMEOUT,
    BaseProcessor,
    ErrorClass,
    ExecutionContext,
    ExecutionStatus,
    ProcessOutcome,
    TemporaryProcessorError,
)
from aura_dagster_tests.domain.vendor_helpers import underwriting


class SlowVendorProcessor(BaseProcessor):
    """Its vendor call gives up just before the deadline, as an httpx timeout bounded by
    `ctx.remaining()` does."""

    PROCESSOR_ID = "p_test_slow_vendor"
    VERSION = "1.0.0"
    NAME = "Test: slow vendor"
    CONFIG = {"timeout_seconds": 0.5}
    ERROR_CODE = VENDOR_TIMEOUT
    STOP_BEFORE_DEADLINE = 0.02

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        time.sleep(max(0.0, ctx.remaining() - self.STOP_BEFORE_DEADLINE))
        raise TemporaryProcessorError(self.ERROR_CODE, "vendor: no answer within the call")


class EarlyVendorTimeout(SlowVendorProcessor):
    """A call timeout well inside the limit is the vendor's failure, not the processor's."""

    STOP_BEFORE_DEADLINE = 0.3


def test_a_vendor_timeout_at_the_deadline_is_the_processors_timeout() -> None:
    for _ in range(3):
        result = SlowVendorProcessor().execute(underwriting(), [])
        assert result.status is ExecutionStatus.TIMEOUT, result
        assert result.error_code == "TIMEOUT"
        assert result.error_class is ErrorClass.TEMPORARY


def test_a_vendor_timeout_with_time_left_stays_a_vendor_failure() -> None:
    result = EarlyVendorTimeout().execute(underwriting(), [])
    assert result.status is ExecutionStatus.FAILED
    assert result.error_code == VENDOR_TIMEOUT
