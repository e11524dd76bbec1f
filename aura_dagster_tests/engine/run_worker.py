"""A run worker in its own process: executes the engine's job for one partition.

What a run launcher does for a daemon-launched run; terminating the run from the UI marks
it CANCELING and sends this process SIGINT. Used by the cancellation tests.

    python -m aura_dagster_tests.engine.run_worker <serialized instance ref> <partition>
"""

from __future__ import annotations

import sys

from dagster import DagsterInstance, execute_job, reconstructable
from dagster._core.instance.ref import InstanceRef
from dagster_shared.serdes import deserialize_value

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def main(instance_ref: str, partition: str) -> int:
    from aura_dagster_tests.engine import engine_definitions

    with DagsterInstance.from_ref(deserialize_value(instance_ref, InstanceRef)) as instance:
        result = execute_job(reconstructable(engine_definitions.process_job), instance=instance,
                             tags={"dagster/partition": partition}, run_config=QUIET)
        print(result.run_id, flush=True)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
