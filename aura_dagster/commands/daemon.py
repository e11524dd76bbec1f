"""`aura-dagster daemon`: Dagster's `dagster-daemon run`, with the sensor loop every 0.5 s.

Dagster's sensor daemon evaluates sensors at most every 5 s (`MIN_INTERVAL_LOOP_TIME`),
whatever a sensor's `minimum_interval_seconds` says. The `underwriting.created` sensor
long-polls Pub/Sub during its tick, so an event published while it listens starts at once;
but a tick ends as soon as events arrive, and an event published after that waited for the
next loop -- up to 5 s (measured: p90 of publish -> `processing.completed` 2.6 s against a
1.7 s median). At 0.5 s the sensor is back after its own 1 s minimum interval, and the other
sensors keep theirs (5 s). It also applies `aura_dagster.dagster_compat` (a run retry lost to
a race in the retry daemon). Every argument goes to `dagster-daemon run`.

Dagster's daemons log at INFO each pass that found nothing to do ("Checking for new runs for
sensor", "Sensor ... skipped", "Checking run ..."): two lines per sensor per tick, about 2,000
a minute here. Those lines are logged at DEBUG (`--log-level debug` shows them); launched
runs, errors and warnings stay at INFO and above.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

SENSOR_LOOP_SECONDS = 0.5

# Per logger, the lines that say a pass found nothing to do (or nothing new: they repeat
# every pass while it lasts). Matched at the start of the message.
IDLE_LINES: dict[str, re.Pattern[str]] = {
    "dagster.daemon.SensorDaemon": re.compile(
        r"Checking for new runs for sensor: |Sensor \S+ skipped: |No run requests returned for "),
    "dagster.daemon.MonitoringDaemon": re.compile(
        r"Collected \d+ runs for monitoring|Checking run "),
    "dagster.daemon.QueuedRunCoordinatorDaemon": re.compile(
        r"Priority sorting and checking tag concurrency limits|"
        r"\d+ runs are currently in progress\. Maximum is|"
        r"Run \S+ is blocked by global concurrency limits"),
}


class IdlePassFilter(logging.Filter):
    """Turns a daemon's "nothing to do" INFO line into a DEBUG one (shown only when its
    logger is at DEBUG)."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self.pattern.match(record.getMessage()):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_idle_passes() -> None:
    """Install the filters (on the loggers, which Dagster's logging config leaves alone)."""
    for name, pattern in IDLE_LINES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, IdlePassFilter) for f in logger.filters):
            logger.addFilter(IdlePassFilter(pattern))


def run_daemon(args: Sequence[str]) -> int:
    import dagster._daemon.sensor as sensor_daemon
    from dagster._daemon.cli import cli

    # Its fourth patch: a run retry is not lost when the daemon reads a failure early.
    import aura_dagster.dagster_compat  # noqa: F401

    # Read by execute_sensor_iteration_loop at every pass (a module global).
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = SENSOR_LOOP_SECONDS  # type: ignore[misc]
    quiet_idle_passes()
    cli.main(args=["run", *args], prog_name="aura-dagster daemon", obj={})
    return 0
