"""`underwriting.created` on Pub/Sub -> one dynamic partition and one run per underwriting.

Delivery guarantees:
- Run keys: `run_key_for(event)` = underwriting id + event fingerprint. Dagster skips a
  run request whose key already has a run from this sensor, so a duplicate or redelivered
  identical event never starts a second run.
- No message is lost: Dagster creates the runs only after this function returns, so a
  valid message is not acked in the tick that requests its run. Its ack id and run key
  are kept in the cursor ("held") and its lease is extended every tick; a later tick
  acks it once a run with that key exists. If the sensor dies, the lease lapses and
  Pub/Sub redelivers; a redelivered message whose run exists is acked at once.
- A held message whose run still does not exist after `MAX_HOLD_SECONDS` (the request
  was lost) is released: no more lease extensions, so Pub/Sub redelivers it and it is
  planned again.
- Malformed messages go to the dead-letter topic (reason as attribute and in the body)
  and are acked only once that publish succeeded. Decoding is bounded (size, depth,
  number length) and guarded: whatever one message raises dead-letters that message, with
  the exception's class as the reason; it never fails the tick.
- Well-formed events for an unknown organization, underwriting or document get no run:
  `processing.completed` with status "failed" is published (services/rejections.py) and
  the message is acked only after that.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from aura_dagster.domain.events import (
    MalformedEventError,
    UnderwritingCreated,
    parse_underwriting_created,
    run_key_for,
)
from aura_dagster.partitions import underwriting_partitions
from aura_dagster.resources.pubsub import PubSubResource, ReceivedMessage
from aura_dagster.resources.store import StoreResource
from aura_dagster.services.rejections import answer, check_event
from aura_dagster.storage import Stores
from aura_dagster.tags import (
    DOCUMENT_IDS_TAG,
    EVENT_ID_TAG,
    JOB_NAME,
    ORGANIZATION_ID_TAG,
    PRIORITY_TAG,
    PRIORITY_VALUES,
    UNDERWRITING_ID_TAG,
)

SENSOR_NAME = "underwriting_created_sensor"
MINIMUM_INTERVAL_SECONDS = 1
MAX_HOLD_SECONDS = 300.0
# Dagster's own tags on sensor runs (dagster._core.storage.tags; not exported publicly).
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"


# --- cursor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldMessage:
    """A valid message pulled but not yet acked: waiting for its run to exist."""

    ack_id: str
    run_key: str
    message_id: str
    held_since: float  # unix time of the pull


@dataclass(frozen=True)
class SensorCursor:
    held: tuple[HeldMessage, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"held": [asdict(h) for h in self.held]}, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | None) -> SensorCursor:
        """An empty or unreadable cursor means nothing is held (leases then simply lapse)."""
        if not raw:
            return cls()
        try:
            return cls(tuple(HeldMessage(**item) for item in json.loads(raw)["held"]))
        except (ValueError, KeyError, TypeError):
            return cls()


# --- decode -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidMessage:
    message: ReceivedMessage
    event: UnderwritingCreated
    run_key: str


@dataclass(frozen=True)
class MalformedMessage:
    message: ReceivedMessage
    reason: str


def decode(
    messages: Iterable[ReceivedMessage],
) -> tuple[list[ValidMessage], list[MalformedMessage]]:
    valid: list[ValidMessage] = []
    malformed: list[MalformedMessage] = []
    for message in messages:
        try:
            event = parse_underwriting_created(message.data, message.attributes)
            run_key = run_key_for(event)
        except MalformedEventError as exc:
            malformed.append(MalformedMessage(message, exc.reason))
        except Exception as exc:  # noqa: BLE001 - one message must never fail the tick
            malformed.append(MalformedMessage(
                message, f"{type(exc).__name__} while decoding: {str(exc)[:200]}"))
        else:
            valid.append(ValidMessage(message, event, run_key))
    return valid, malformed


# --- plan -------------------------------------------------------------------------------


def run_tags_for(event: UnderwritingCreated, message_id: str) -> dict[str, str]:
    tags = {
        UNDERWRITING_ID_TAG: event.underwriting_id,
        DOCUMENT_IDS_TAG: json.dumps(list(event.data.documents)),
        EVENT_ID_TAG: message_id,
        PRIORITY_TAG: str(PRIORITY_VALUES[event.data.priority]),
    }
    if event.data.organization_id:
        tags[ORGANIZATION_ID_TAG] = event.data.organization_id
    return tags


def run_request_for(valid: ValidMessage) -> RunRequest:
    return RunRequest(
        run_key=valid.run_key,
        partition_key=valid.event.underwriting_id,
        tags=run_tags_for(valid.event, valid.message.message_id),
    )


@dataclass
class TickPlan:
    run_requests: list[RunRequest] = field(default_factory=list)
    new_partition_keys: list[str] = field(default_factory=list)
    ack_ids: list[str] = field(default_factory=list)  # their run exists
    held: list[HeldMessage] = field(default_factory=list)  # keep + extend
    released: list[HeldMessage] = field(default_factory=list)  # let Pub/Sub redeliver
    duplicates: int = 0  # pulled messages whose run already existed

    def summary(self) -> str:
        return (
            f"requested {len(self.run_requests)} run(s), acked {len(self.ack_ids)} with "
            f"existing run ({self.duplicates} duplicate/redelivered), holding "
            f"{len(self.held)}, released {len(self.released)}"
        )


def plan_tick(
    held: Sequence[HeldMessage],
    pulled: Sequence[ValidMessage],
    *,
    run_exists: Callable[[str], bool],
    partition_exists: Callable[[str], bool],
    now: float,
    max_hold_seconds: float = MAX_HOLD_SECONDS,
) -> TickPlan:
    """Decide, without I/O of its own, what to request, ack, hold and release."""
    plan = TickPlan()
    known: dict[str, bool] = {}

    def exists(run_key: str) -> bool:  # one instance query per key per tick
        if run_key not in known:
            known[run_key] = run_exists(run_key)
        return known[run_key]

    for message in held:
        if exists(message.run_key):
            plan.ack_ids.append(message.ack_id)
        elif now - message.held_since > max_hold_seconds:
            plan.released.append(message)
        else:
            plan.held.append(message)

    requested: set[str] = set()
    for valid in pulled:
        if exists(valid.run_key):
            plan.ack_ids.append(valid.message.ack_id)
            plan.duplicates += 1
            continue
        plan.held.append(
            HeldMessage(valid.message.ack_id, valid.run_key, valid.message.message_id, now)
        )
        if valid.run_key in requested:
            continue  # same event twice in one pull: one request, both messages held
        requested.add(valid.run_key)
        plan.run_requests.append(run_request_for(valid))
        key = valid.event.underwriting_id
        if key not in plan.new_partition_keys and not partition_exists(key):
            plan.new_partition_keys.append(key)
    return plan


def sensor_run_exists(instance: DagsterInstance, run_key: str) -> bool:
    """Mirrors Dagster's run-key dedup: a run with this key, launched by this sensor."""
    runs = instance.get_runs(filters=RunsFilter(tags={RUN_KEY_TAG: run_key}))
    return any(run.tags.get(SENSOR_NAME_TAG) == SENSOR_NAME for run in runs)


# --- the sensor -------------------------------------------------------------------------


def dead_letter(
    pubsub: PubSubResource, malformed: Sequence[MalformedMessage],
    context: SensorEvaluationContext,
) -> list[str]:
    """Publish each malformed message to the dead-letter topic; return the ack ids of
    those published (a failed publish leaves the message unacked, to be redelivered)."""
    ack_ids: list[str] = []
    for item in malformed:
        try:
            pubsub.publish_dead_letter(item.message, item.reason)
        except Exception as exc:  # keep going: the message will come back
            context.log.error(
                f"could not dead-letter message {item.message.message_id}: {exc!r}"
            )
            continue
        context.log.warning(
            f"dead-lettered message {item.message.message_id}: {item.reason}"
        )
        ack_ids.append(item.message.ack_id)
    return ack_ids


def screen(
    valid: Sequence[ValidMessage], run_exists: Callable[[str], bool], stores: Stores | None,
    pubsub: PubSubResource, context: SensorEvaluationContext,
) -> tuple[list[ValidMessage], list[str]]:
    """Answer events for an unknown organization / underwriting / document without a run.

    Returns the messages to plan and the ack ids of the rejected ones whose failure was
    published. A message whose run already exists is not checked (it is only acked); when
    the store cannot be read the event goes on to its run, whose first step checks again.
    """
    if stores is None:
        return list(valid), []
    accepted: list[ValidMessage] = []
    ack_ids: list[str] = []
    for item in valid:
        if run_exists(item.run_key):
            accepted.append(item)
            continue
        data = item.event.data
        try:
            rejection = check_event(stores, data.underwriting_id, data.organization_id,
                                    data.documents)
        except Exception as exc:  # noqa: BLE001 - the load step checks again
            context.log.warning(f"could not check {item.run_key} against the store ({exc!r}); "
                                "its run will check at its first step")
            accepted.append(item)
            continue
        if rejection is None:
            accepted.append(item)
            continue
        try:
            answer(stores, pubsub.publish_completed, rejection, key=item.run_key,
                   source=SENSOR_NAME, detail={"message_id": item.message.message_id})
        except Exception as exc:  # noqa: BLE001 - unacked: redelivered, answered then
            context.log.error(f"could not answer rejected event {item.run_key}: {exc!r}")
            continue
        context.log.warning(f"rejected {item.run_key} (message {item.message.message_id}): "
                            f"{rejection.code}: {rejection.reason}; published status=failed")
        ack_ids.append(item.message.ack_id)
    return accepted, ack_ids


def evaluate(
    context: SensorEvaluationContext, pubsub: PubSubResource, store: StoreResource, *,
    now: float | None = None,
) -> SensorResult:
    cursor = SensorCursor.from_json(context.cursor)
    messages = pubsub.pull_waiting()
    valid, malformed = decode(messages)
    dead_lettered = dead_letter(pubsub, malformed, context)

    instance = context.instance
    known: dict[str, bool] = {}

    def run_exists(run_key: str) -> bool:  # one instance query per key per tick
        if run_key not in known:
            known[run_key] = sensor_run_exists(instance, run_key)
        return known[run_key]

    try:
        stores: Stores | None = store.open()
    except Exception as exc:  # noqa: BLE001 - intake goes on; the load step checks
        context.log.warning(f"store unavailable, events not checked here: {exc!r}")
        stores = None
    valid, rejected = screen(valid, run_exists, stores, pubsub, context)
    plan = plan_tick(
        cursor.held,
        valid,
        run_exists=run_exists,
        partition_exists=lambda key: instance.has_dynamic_partition(
            underwriting_partitions.name, key
        ),
        now=time.time() if now is None else now,
    )
    to_ack = plan.ack_ids + dead_lettered + rejected
    if to_ack:
        pubsub.acknowledge(to_ack)
    if plan.held:
        pubsub.extend([h.ack_id for h in plan.held], pubsub.ack_extension_seconds)
    for released in plan.released:
        context.log.warning(
            f"no run for {released.run_key} after {MAX_HOLD_SECONDS:.0f}s; releasing "
            f"message {released.message_id} for redelivery"
        )

    if messages or cursor.held:
        context.log.info(
            f"pulled {len(messages)} ({len(valid)} valid, {len(malformed)} malformed, "
            f"{len(dead_lettered)} dead-lettered, {len(rejected)} rejected); {plan.summary()}"
        )
    return SensorResult(
        run_requests=plan.run_requests,
        dynamic_partitions_requests=(
            [underwriting_partitions.build_add_request(plan.new_partition_keys)]
            if plan.new_partition_keys else []
        ),
        cursor=SensorCursor(tuple(plan.held)).to_json(),
    )


@sensor(
    name=SENSOR_NAME,
    job_name=JOB_NAME,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Pulls underwriting.created from Pub/Sub; adds the underwriting partition and "
        "requests one run per distinct event; acks once the run exists."
    ),
)
def underwriting_created_sensor(
    context: SensorEvaluationContext, pubsub: PubSubResource, store: StoreResource
) -> SensorResult:
    return evaluate(context, pubsub, store)
