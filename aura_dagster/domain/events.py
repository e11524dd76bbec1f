"""The two events on the bus: `underwriting.created` (in) and `processing.completed` (out).

Pure Python (pydantic v2, no Dagster): the sensor parses and fingerprints events here and
the publish op builds the completion event here.

Decisions:
- Unknown extra fields in `underwriting.created` are IGNORED, not rejected: the producer
  may add fields (timestamps, trace ids) without every event suddenly being dead-lettered.
  Ignored fields do not enter the fingerprint, so a republish that only differs in them
  is still the same event.
- Field types are strict (`"underwriting_id": 123` is malformed, not coerced to "123").
- `priority` may be absent or null: both mean "normal".
- In `processing.completed`, `failed_processors` and `timeout_processors` are disjoint
  and every count matches its list: total = completed + failed + timeout. `timeout_count`
  is added to the seed's summary so that `failed_count` keeps meaning "entries in
  failed_processors".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from aura_dagster.domain.bounded_json import JsonBoundsError, load_bounded_json

UNDERWRITING_CREATED = "underwriting.created"
PROCESSING_COMPLETED = "processing.completed"
EVENT_ATTRIBUTE = "event"  # Pub/Sub attribute that repeats the event type

Priority = Literal["normal", "high", "urgent"]

# Ids become Dagster partition keys, run keys and tag values: keep them boring.
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
EntityId = Annotated[StrictStr, Field(pattern=_ID_PATTERN)]


class MalformedEventError(ValueError):
    """An event that cannot be processed; `reason` is human-readable and safe to publish."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnderwritingCreatedData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    underwriting_id: EntityId
    organization_id: EntityId | None = None
    documents: list[EntityId]
    priority: Priority = "normal"

    @field_validator("priority", mode="before")
    @classmethod
    def _null_priority_is_normal(cls, value: Any) -> Any:
        return "normal" if value is None else value


class UnderwritingCreated(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event: Literal["underwriting.created"] = UNDERWRITING_CREATED
    data: UnderwritingCreatedData

    @property
    def underwriting_id(self) -> str:
        return self.data.underwriting_id


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "<root>"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def parse_underwriting_created(
    data: bytes, attributes: Mapping[str, str] | None = None
) -> UnderwritingCreated:
    """Parse a Pub/Sub message body into an event, or raise `MalformedEventError(reason)`."""
    attributes = attributes or {}
    try:
        payload = load_bounded_json(data)  # size, depth and numbers bounded first
    except JsonBoundsError as exc:
        raise MalformedEventError(str(exc)) from exc
    if not isinstance(payload, dict):
        raise MalformedEventError(
            f"message data must be a JSON object, got {type(payload).__name__}"
        )

    event_type = payload.get("event")
    if event_type != UNDERWRITING_CREATED:
        raise MalformedEventError(
            f"unknown event type {event_type!r} (expected {UNDERWRITING_CREATED!r})"
        )
    attribute_type = attributes.get(EVENT_ATTRIBUTE)
    if attribute_type is not None and attribute_type != event_type:
        raise MalformedEventError(
            f"event attribute {attribute_type!r} does not match body event {event_type!r}"
        )

    try:
        return UnderwritingCreated.model_validate(payload, strict=False)
    except ValidationError as exc:
        raise MalformedEventError(
            f"invalid {UNDERWRITING_CREATED}: {_describe_validation_error(exc)}"
        ) from exc


def event_fingerprint(event: UnderwritingCreated) -> str:
    """First 16 hex digits of the sha256 of the event's canonical JSON.

    Canonical: sorted keys, no whitespace, documents as a sorted set (their order carries
    no meaning), optional fields normalized. Two deliveries of the same event always agree.
    """
    canonical = {
        "event": event.event,
        "data": {
            "underwriting_id": event.data.underwriting_id,
            "organization_id": event.data.organization_id,
            "documents": sorted(set(event.data.documents)),
            "priority": event.data.priority,
        },
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:16]


def run_key_for(event: UnderwritingCreated) -> str:
    """Sensor run key: one run per (underwriting, distinct event content)."""
    return f"{event.underwriting_id}:{event_fingerprint(event)}"


# --- processing.completed -------------------------------------------------------------


class ProcessorRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    processor_id: str
    execution_id: str


class ProcessorFailure(ProcessorRef):
    error_message: str


class CompletionSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    total_processors: int = Field(ge=0)
    completed_count: int = Field(ge=0)
    failed_count: int = Field(ge=0)
    timeout_count: int = Field(default=0, ge=0)
    total_execution_time: float = Field(ge=0)  # seconds, summed over processors


# The outcome a `processing.completed` event reports (see docs/events.md):
# completed - the processors ran and the case is decided (auto-approved or approved);
# failed    - the case could not be processed (unknown underwriting / organization /
#             document, or the run failed for good); `reason` says why;
# rejected  - a reviewer rejected the parked case; `reason` carries the reviewer's note;
# declined  - the organization's lender rules declined the case (no person decided);
#             `reason` carries the declining rules' reasons.
ProcessingOutcome = Literal["completed", "failed", "rejected", "declined"]


class ProcessingCompleted(BaseModel):
    """Seed 000 step 7, plus organization_id, run_id, timeout_processors and timeout_count,
    and the case's `status` with its `reason` (docs/events.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Literal["processing.completed"] = PROCESSING_COMPLETED
    status: ProcessingOutcome = "completed"
    reason: str | None = None
    underwriting_id: str
    organization_id: str | None = None
    run_id: str
    completed_at: datetime
    summary: CompletionSummary
    completed_processors: list[ProcessorRef] = Field(default_factory=list)
    failed_processors: list[ProcessorFailure] = Field(default_factory=list)
    timeout_processors: list[ProcessorFailure] = Field(default_factory=list)

    @field_validator("completed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("completed_at must be timezone-aware")
        return value.astimezone(UTC)

    @field_serializer("completed_at")
    def _iso_z(self, value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # the seed's "2024-01-15T10:35:00Z"

    @model_validator(mode="after")
    def _counts_match_lists(self) -> ProcessingCompleted:
        s = self.summary
        expected = (
            len(self.completed_processors),
            len(self.failed_processors),
            len(self.timeout_processors),
        )
        if (s.completed_count, s.failed_count, s.timeout_count) != expected:
            raise ValueError(
                "summary counts (completed, failed, timeout) "
                f"{(s.completed_count, s.failed_count, s.timeout_count)} "
                f"do not match the processor lists {expected}"
            )
        if s.total_processors != sum(expected):
            raise ValueError(
                f"summary.total_processors={s.total_processors} but the lists hold "
                f"{sum(expected)} processors"
            )
        return self

    @classmethod
    def build(
        cls,
        *,
        underwriting_id: str,
        run_id: str,
        completed: Sequence[ProcessorRef],
        failed: Sequence[ProcessorFailure] = (),
        timed_out: Sequence[ProcessorFailure] = (),
        total_execution_time: float,
        organization_id: str | None = None,
        completed_at: datetime | None = None,
        status: ProcessingOutcome = "completed",
        reason: str | None = None,
    ) -> ProcessingCompleted:
        """Build the event from the three result lists; the summary is derived from them."""
        return cls(
            status=status,
            reason=reason,
            underwriting_id=underwriting_id,
            organization_id=organization_id,
            run_id=run_id,
            completed_at=completed_at or datetime.now(UTC),
            summary=CompletionSummary(
                total_processors=len(completed) + len(failed) + len(timed_out),
                completed_count=len(completed),
                failed_count=len(failed),
                timeout_count=len(timed_out),
                total_execution_time=round(total_execution_time, 3),
            ),
            completed_processors=list(completed),
            failed_processors=list(failed),
            timeout_processors=list(timed_out),
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON-ready dict that goes on the bus."""
        return self.model_dump(mode="json")
