"""Dagster's QueuedRunCoordinator, dequeuing every half second instead of every second.

`dequeue_interval_seconds` is an integer in Dagster's config, so the shortest period is one
second: a run waits half a second in the queue on average before a worker gets it, a third
of the production profile's publish -> `processing.completed` time. This subclass accepts a
fraction (the daemon's loop sleeps in half-second steps, so 0.5 is the shortest that
changes anything). Priority, the per-lender limits (`concurrency: runs:`) and everything else
are Dagster's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dagster import Field, Float
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._serdes import ConfigurableClassData


class FastQueuedRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator whose `dequeue_interval_seconds` may be a fraction."""

    def __init__(self, *, dequeue_interval_seconds: float | None = None, **kwargs: Any) -> None:
        whole = None if dequeue_interval_seconds is None else max(
            1, math.ceil(dequeue_interval_seconds))
        super().__init__(dequeue_interval_seconds=whole, **kwargs)
        self._dequeue_interval: float | None = dequeue_interval_seconds

    @property
    def dequeue_interval_seconds(self) -> float:  # type: ignore[override]
        if self._dequeue_interval is None:
            return super().dequeue_interval_seconds
        return self._dequeue_interval

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {**super().config_type(),
                "dequeue_interval_seconds": Field(
                    Float, is_required=False,
                    description="Seconds between dequeue passes (fractions allowed).")}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData,
                          config_value: Mapping[str, Any]) -> FastQueuedRunCoordinator:
        return cls(inst_data=inst_data, **dict(config_value))
