"""Four changes to Dagster internals (dagster 1.13.27, dagster-async-executor 0.0.4), imported
by `aura_dagster.definitions`, so they apply in every process that executes runs (embedded
run workers, Celery pool children), and by `aura-dagster daemon` (the fourth is the daemon's).

1. A fix for a hang in Dagster's step scheduling with op concurrency pools.

`ActiveExecution.sleep_interval()` returns `min([0, *timeouts])` -- never more than 0 --
while a step waits for a pool slot (`InstanceConcurrencyContext.
interval_to_next_pending_claim_check`). The async executor reads "0" as "nothing to wait
for" and blocks on its event stream with no timeout: when the only steps left are waiting
for slots, no event ever comes and the run hangs in STARTED for good, although the slots
are freed. Seen here with 8 runs on warm Celery workers against the vendor pools (limit 4):
every run stopped. Returning a short positive poll interval instead lets the executor
re-check its claims, as the stock executors do in their loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster._config.pythonic_config.resource as pythonic_resource
import dagster._daemon.auto_run_reexecution.event_log_consumer as event_log_consumer
from dagster._core.definitions.scoped_resources_builder import (
    IContainsGenerator,
    Resources,
    ScopedResourcesBuilder,
)
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.storage.dagster_run import DagsterRunStatus, RunRecord, RunsFilter
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, WILL_RETRY_TAG

PENDING_CLAIM_POLL_SECONDS = 0.25

_sleep_interval = ActiveExecution.sleep_interval


def _sleep_interval_polling_claims(self: ActiveExecution) -> Any:
    interval = _sleep_interval(self)
    context = self._instance_concurrency_context  # noqa: SLF001
    if interval <= 0 and context is not None and context.has_pending_claims():
        return PENDING_CLAIM_POLL_SECONDS
    return interval


if not getattr(ActiveExecution.sleep_interval, "_aura_patched", False):
    _sleep_interval_polling_claims._aura_patched = True  # type: ignore[attr-defined]
    ActiveExecution.sleep_interval = _sleep_interval_polling_claims  # type: ignore[method-assign]


# 2. Every run copies each pythonic resource about three times while initializing it, and
# each copy re-derives the resource class's config schema from its pydantic fields: about
# 60 % of resource initialization, ~3 % of a Celery worker's CPU in a burst (py-spy). The
# schema is a function of the class and the omitted (nested-resource) fields only.
_infer_schema = pythonic_resource.infer_schema_from_config_class
_schemas: dict[tuple[type, frozenset[str]], Any] = {}


def _infer_schema_once_per_class(model_cls: type, description: str | None = None,
                                 fields_to_omit: set[str] | None = None,
                                 default: Any | None = None) -> Any:
    if description is not None or default is not None:
        return _infer_schema(model_cls, description, fields_to_omit, default)
    key = (model_cls, frozenset(fields_to_omit or ()))
    schema = _schemas.get(key)
    if schema is None:
        schema = _schemas[key] = _infer_schema(model_cls, fields_to_omit=fields_to_omit)
    return schema


if pythonic_resource.infer_schema_from_config_class is _infer_schema:
    pythonic_resource.infer_schema_from_config_class = _infer_schema_once_per_class  # type: ignore[assignment]


# 3. `ScopedResourcesBuilder.build` defines a new namedtuple class (an `exec` of generated
# source) every time a step, an output, an input load or a type check asks for its
# resources: ~40 class definitions per run, ~3 % of a Celery worker's CPU in a burst
# (py-spy). The class depends only on the resource keys; one is made per key set and the
# instance carries its own resources.
_ORIGINAL_RESOURCES = "_aura_original_resource_dict"
_resource_classes: dict[tuple[tuple[str, ...], bool], type] = {}


def _resources_class(keys: tuple[str, ...], contains_generator: bool) -> type:
    cls = _resource_classes.get((keys, contains_generator))
    if cls is None:
        bases = (namedtuple("_ScopedResources", keys), Resources,  # noqa: PYI024
                 *((IContainsGenerator,) if contains_generator else ()))

        def original_resource_dict(self: Any) -> Mapping[str, object]:
            return self.__dict__[_ORIGINAL_RESOURCES]

        cls = type("_ScopedResources", bases,
                   {"original_resource_dict": property(original_resource_dict)})
        _resource_classes[(keys, contains_generator)] = cls
    return cls


def _build_scoped_resources(self: ScopedResourcesBuilder,
                            required_resource_keys: Any) -> Resources:
    from dagster._config.pythonic_config import IAttachDifferentObjectToOpContext

    resource_instance_dict = {key: self.resource_instance_dict[key]
                              for key in (required_resource_keys or ())
                              if key in self.resource_instance_dict}
    attached = {k: (v.get_object_to_set_on_execution_context()
                    if isinstance(v, IAttachDifferentObjectToOpContext) else v)
                for k, v in resource_instance_dict.items()}
    resources = _resources_class(tuple(attached), bool(self.contains_generator))(**attached)
    resources.__dict__[_ORIGINAL_RESOURCES] = resource_instance_dict
    return resources


if not getattr(ScopedResourcesBuilder.build, "_aura_patched", False):
    _build_scoped_resources._aura_patched = True  # type: ignore[attr-defined]
    ScopedResourcesBuilder.build = _build_scoped_resources  # type: ignore[method-assign]


# 4. A run retry lost to a race in the daemon. Dagster stores a RUN_FAILURE event, then sets
# the run's status and its `dagster/will_retry` tag (`EventMethods.handle_new_event`). The
# daemon's retry thread (`EventLogConsumerDaemon`) reads new failure events from another
# thread; when it looks in between, the run is still STARTED, `should_retry` says no and the
# consumer's cursor moves past the event: the run is never retried, and the
# `publish_failed_outcome` sensor, which reads the tag a moment later, leaves the answer to a
# retry that never comes. Seen once in a test run (a Celery worker killed mid-run).
# a) The consumer is handed only runs with a new RUN_FAILURE or RUN_SUCCESS event, so a run
#    among them that is not finished yet is one whose status is about to be written: wait.
# b) Its cursor is an event id, and ids are taken before commit: an event committed after a
#    later one was read is skipped the same way. So every SWEEP_SECONDS the daemon also
#    retries failed runs that say they will retry but have no retry after SWEEP_AFTER_SECONDS
#    (Dagster's `retry_run` creates a run's retry only once).
SETTLE_SECONDS = 10.0
SWEEP_SECONDS = 30.0
SWEEP_AFTER_SECONDS = 30.0
SWEEP_WINDOW = dt.timedelta(hours=6)
_SETTLE_POLL_SECONDS = 0.05
_consume_for_reexecution = event_log_consumer.consume_new_runs_for_automatic_reexecution
_run_iteration = event_log_consumer.EventLogConsumerDaemon.run_iteration


def _settled(instance: Any, run_records: Sequence[RunRecord],
             timeout: float = SETTLE_SECONDS) -> list[RunRecord]:
    """The records again, once every run among them has its final status (or `timeout`)."""
    records = {r.dagster_run.run_id: r for r in run_records}
    deadline = time.monotonic() + timeout
    while True:
        pending = [run_id for run_id, r in records.items() if not r.dagster_run.is_finished]
        if not pending or time.monotonic() >= deadline:
            return list(records.values())
        time.sleep(_SETTLE_POLL_SECONDS)
        for record in instance.get_run_records(filters=RunsFilter(run_ids=pending)):
            records[record.dagster_run.run_id] = record


def _consume_settled_runs(workspace_process_context: Any, run_records: Sequence[RunRecord],
                          logger: logging.Logger) -> Iterator[None]:
    records = _settled(workspace_process_context.instance, run_records)
    yield from _consume_for_reexecution(workspace_process_context, records, logger)


def unretried_failures(instance: Any) -> list[RunRecord]:
    """Failed runs that will retry, failed over SWEEP_AFTER_SECONDS ago, with no retry yet."""
    now = dt.datetime.now(dt.UTC)
    records = instance.get_run_records(filters=RunsFilter(
        statuses=[DagsterRunStatus.FAILURE], tags={WILL_RETRY_TAG: "true"},
        updated_after=now - SWEEP_WINDOW, updated_before=now - dt.timedelta(
            seconds=SWEEP_AFTER_SECONDS)), limit=100)
    return [r for r in records if AUTO_RETRY_RUN_ID_TAG not in r.dagster_run.tags]


def _run_iteration_with_sweep(self: Any, workspace_process_context: Any) -> Iterator[Any]:
    yield from _run_iteration(self, workspace_process_context)
    now = time.monotonic()
    if now - getattr(self, "_aura_last_sweep", -SWEEP_SECONDS) < SWEEP_SECONDS:
        return
    self._aura_last_sweep = now
    # Each run once per daemon process: `retry_run` gives up on some runs (job renamed,
    # no remote origin) with an engine event and no tag, which must not repeat every pass.
    swept: set[str] = self.__dict__.setdefault("_aura_swept", set())
    missed = [r for r in unretried_failures(workspace_process_context.instance)
              if r.dagster_run.run_id not in swept]
    swept.update(r.dagster_run.run_id for r in missed)
    if missed:
        self._logger.warning(f"retrying {len(missed)} failed run(s) whose retry was missed: "
                             + ", ".join(r.dagster_run.run_id for r in missed))
        yield from _consume_for_reexecution(workspace_process_context, missed, self._logger)


if not getattr(_consume_for_reexecution, "_aura_patched", False):
    _consume_settled_runs._aura_patched = True  # type: ignore[attr-defined]
    _run_iteration_with_sweep._aura_patched = True  # type: ignore[attr-defined]
    # Looked up by name in `EventLogConsumerDaemon.handle_updated_runs_fns` at every pass.
    event_log_consumer.consume_new_runs_for_automatic_reexecution = _consume_settled_runs  # type: ignore[assignment]
    event_log_consumer.EventLogConsumerDaemon.run_iteration = _run_iteration_with_sweep  # type: ignore[method-assign]
