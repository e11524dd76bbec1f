"""Semantic rejects: an event for an unknown organization, underwriting or document.

Such an event is well-formed (it is not dead-lettered) but cannot be processed. The
platform must hear back, so a reject ends in a published `processing.completed` with
`status: "failed"`, the reason and no executions (docs/events.md), an audit row
(`intake_rejected`), and the underwriting, if it exists, belongs to the event's
organization and was never accepted for processing (`created`), set to `failed`. A case
in flight, parked or decided keeps its state: only a new, accepted processing changes it.
The sensor checks before it requests a run; the run's first step checks again (runs started
from the UI or a backfill, or the store was unreachable when the sensor looked).

One answer per distinct event: the audit row carries a key (the sensor's run key, or the
run's) and a reject already recorded under that key is not published again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aura_dagster.domain.events import ProcessingCompleted
from aura_dagster.services.completion import completion_payload
from aura_dagster.services.organizations import known_organization
from aura_dagster.storage import Stores, UnknownDocumentError

AUDIT_EVENT = "intake_rejected"
UNKNOWN_ORGANIZATION = "UNKNOWN_ORGANIZATION"
UNKNOWN_UNDERWRITING = "UNKNOWN_UNDERWRITING"
UNKNOWN_DOCUMENT = "UNKNOWN_DOCUMENT"
# audit_log.organization_id is required; an event naming no known organization gets this.
NO_ORGANIZATION = "(unknown)"
NO_RUN = ""  # run_id of a reject answered by the sensor: no run was started

Publish = Callable[[ProcessingCompleted], str]


@dataclass(frozen=True)
class Rejection:
    code: str
    reason: str
    underwriting_id: str
    organization_id: str | None  # what the answer is addressed to
    owned: bool  # the underwriting exists and belongs to the event's organization


def check_event(stores: Stores, underwriting_id: str, organization_id: str | None,
                document_ids: Sequence[str] | None) -> Rejection | None:
    """The reject for this event, or None when the store knows everything it names."""
    row = stores.underwritings.get_underwriting(underwriting_id)
    owner = row["organization_id"] if row is not None else None
    if organization_id is not None and organization_id != owner and not known_organization(
            stores, organization_id):
        return Rejection(UNKNOWN_ORGANIZATION, f"organization {organization_id!r} is not known",
                         underwriting_id, organization_id, owned=False)
    if row is None or (organization_id is not None and organization_id != owner):
        # Another tenant's underwriting reads as unknown: its existence is not told.
        org = organization_id or owner
        return Rejection(UNKNOWN_UNDERWRITING,
                         f"underwriting {underwriting_id!r} does not exist"
                         + (f" for organization {org!r}" if org else ""),
                         underwriting_id, org, owned=False)
    if document_ids:
        try:
            stores.underwritings.get_documents(underwriting_id, document_ids,
                                               organization_id=owner)
        except UnknownDocumentError as exc:
            return Rejection(UNKNOWN_DOCUMENT, str(exc), underwriting_id, owner, owned=True)
    return None


def rejection_key(tags: Mapping[str, str], run_id: str) -> str:
    """The key a run answers under: its sensor run key (the sensor's own answer has the
    same key), else the run it re-executes, else itself."""
    return tags.get("dagster/run_key") or tags.get("dagster/root_run_id") or run_id


def failure_event(rejection: Rejection, run_id: str = NO_RUN) -> ProcessingCompleted:
    return ProcessingCompleted.model_validate(completion_payload(
        underwriting_id=rejection.underwriting_id, organization_id=rejection.organization_id,
        run_id=run_id, executions=[], status="failed", reason=rejection.reason))


def answer(stores: Stores, publish: Publish, rejection: Rejection, *, key: str,
           source: str, run_id: str = NO_RUN,
           detail: dict[str, Any] | None = None) -> str | None:
    """Publish the failure, then audit it and fail the underwriting it names (if owned).

    Returns the published message id, or None when this key was answered before. Raises
    if the publish fails: the caller leaves its message unacked / its step failed so the
    answer is retried, never dropped.
    """
    org = rejection.organization_id or NO_ORGANIZATION
    if _answered(stores, rejection.underwriting_id, org, key):
        return None
    message_id = publish(failure_event(rejection, run_id))
    stores.audit.record(AUDIT_EVENT, organization_id=org,
                        underwriting_id=rejection.underwriting_id, run_id=run_id or None,
                        step_key=source, detail={
                            "key": key, "code": rejection.code, "reason": rejection.reason,
                            "published_message_id": message_id, **(detail or {})})
    if rejection.owned:
        # Only a case never accepted for processing takes this answer as its outcome: a
        # re-sent or forged event must not undo a case in flight, parked or decided.
        stores.underwritings.transition(rejection.underwriting_id, "created", "failed",
                                        review_reason=rejection.reason)
    return message_id


def _answered(stores: Stores, underwriting_id: str, organization_id: str, key: str) -> bool:
    return any(row["event"] == AUDIT_EVENT and (row["detail"] or {}).get("key") == key
               for row in stores.audit.list_for_underwriting(underwriting_id, organization_id))
