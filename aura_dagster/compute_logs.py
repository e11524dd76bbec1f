"""Compute logs to files, without mirroring them to the run worker's own output.

Dagster's `LocalComputeLogManager` captures a run's stdout and stderr to files (the run
page's stdout/stderr view reads them) and also mirrors them to the process's original
streams: for that it starts `tail -F` and a Python watcher process per stream, four
processes per run. In a warm Celery worker that is most of the process start-up the
workers exist to avoid, and the mirrored copy lands in the worker's log file, which nobody
reads for a run. This manager keeps the capture (same files, same layout, same UI) and
drops the mirror: run output is in the UI, worker output in the worker's log.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dagster import Field, Float, StringSource
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import (
    IO_TYPE_EXTENSION,
    LocalComputeLogManager,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file


class FileComputeLogManager(LocalComputeLogManager):
    """LocalComputeLogManager that writes captured output only to its files. Without
    `base_dir` it writes under the instance's `storage/` folder, as Dagster's default
    manager does (the folder is known once the instance registers itself)."""

    def register_instance(self, instance: Any) -> None:
        super().register_instance(instance)
        if not self._base_dir:
            self._base_dir = os.path.join(instance.root_directory, "storage")

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Generator[CapturedLogContext, None, None]:
        outpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        errpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        ensure_file(outpath)
        ensure_file(errpath)
        with redirect_to_file(sys.stdout, outpath), redirect_to_file(sys.stderr, errpath):
            yield CapturedLogContext(log_key)
        # As the parent does: the artifact tells readers the capture is complete.
        touch_file(self.complete_artifact_path(log_key))

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"base_dir": Field(StringSource, is_required=False),
                "polling_timeout": Field(Float, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> FileComputeLogManager:
        config = {"base_dir": "", **config_value}
        return cls(inst_data=inst_data, **config)
