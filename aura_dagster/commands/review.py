"""Review a parked underwriting: list, approve, reject.

`approve` / `reject` accept only a case in `awaiting_review`. They check everything the
resume needs (store and case, Dagster instance, Pub/Sub, the job and its config) before
claiming the review's idempotency key, then submit `resume_after_review` through the
instance's queue and launcher (never in-process, so the UI can re-execute the run), and
record the decision (idempotency response, audit row, run tags). The run itself (the
review asset) sets the case's reviewer and status and publishes `processing.completed`:
"completed" after an approval, "rejected" after a rejection (docs/events.md).

The UI does the same: launch `resume_after_review` for the partition with
`ops: {underwriting_review: {config: {decision: approve|reject, reviewer: NAME, note: ...}}}`.

Two reviewers deciding the same parking at once start one run: the second is told it is
in progress, or gets the first one's run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aura_dagster.commands.launch import WORKSPACE, open_workspace, prepare_run, submit_run
from aura_dagster.commands.preflight import (
    CommandError,
    check_pubsub,
    load_instance,
    open_store,
    require_known_organization,
)
from aura_dagster.services.progress import split_reasons
from aura_dagster.settings import Settings, load_settings
from aura_dagster.storage import DuplicateRequestError, RequestHashMismatchError, Stores
from aura_dagster.tags import (
    ORGANIZATION_ID_TAG,
    REVIEW_DECISION_TAG,
    REVIEWER_TAG,
    UNDERWRITING_ID_TAG,
)

RESUME_JOB = "resume_after_review"
PARKED = "awaiting_review"
PARTITION_TAG = "dagster/partition"
PARTITIONS = "underwriting"  # the dynamic partitions' name (aura_dagster/partitions.py)
REVIEW_AUDIT_EVENTS = {"approve": "review_approved", "reject": "review_rejected"}

Decision = Literal["approve", "reject"]


class ReviewError(CommandError):
    """The underwriting cannot be reviewed (unknown, not parked, decided differently)."""


@dataclass(frozen=True)
class ReviewOutcome:
    underwriting_id: str
    decision: str
    reviewer: str
    run_id: str
    already_submitted: bool = False  # an earlier identical decision started the run


def review_run_config(decision: Decision, reviewer: str, note: str | None) -> dict[str, Any]:
    """The resume job's config: the contract with the review asset."""
    return {"ops": {"underwriting_review": {"config": {
        "decision": decision, "reviewer": reviewer, "note": note}}}}


def review_tags(underwriting_id: str, organization_id: str, decision: Decision,
                reviewer: str) -> dict[str, str]:
    return {PARTITION_TAG: underwriting_id, UNDERWRITING_ID_TAG: underwriting_id,
            ORGANIZATION_ID_TAG: organization_id, REVIEWER_TAG: reviewer,
            REVIEW_DECISION_TAG: decision}


def _parked_case(stores: Stores, underwriting_id: str, settings: Settings) -> dict[str, Any]:
    row = stores.underwritings.get_underwriting(underwriting_id)
    if row is None:
        raise ReviewError(f"underwriting {underwriting_id!r} does not exist in the store of "
                          f"{settings.data_dir}")
    if row["status"] != PARKED:
        raise ReviewError(f"underwriting {underwriting_id!r} is {row['status']}, not awaiting "
                          "review: only a parked case can be approved or rejected")
    return row


def decide(underwriting_id: str, decision: Decision, *, reviewer: str,
           note: str | None = None, settings: Settings | None = None,
           stores: Stores | None = None, instance: Any = None, workspace: Any = None,
           workspace_file: Path = WORKSPACE) -> ReviewOutcome:
    """Validate, claim, submit the resume run; returns the run that carries the decision.
    `workspace`: an open request context to reuse (else one is opened on workspace.yaml)."""
    if decision not in ("approve", "reject"):
        raise ReviewError(f"decision must be approve or reject, not {decision!r}")
    if not reviewer.strip():
        raise ReviewError("a reviewer name is needed (--by)")
    if decision == "reject" and not (note or "").strip():
        raise ReviewError("a rejection needs a reason (--reason)")
    settings = settings or load_settings()
    # Everything the resume needs is checked before anything is claimed or changed.
    stores = stores or open_store(settings)
    row = _parked_case(stores, underwriting_id, settings)
    decided = _already_decided(stores, row, decision)
    if decided is not None:
        return decided  # read-only: the run exists, nothing left to validate or claim
    owned = instance is None
    instance = instance or load_instance(settings)
    try:
        if not instance.has_dynamic_partition(PARTITIONS, underwriting_id):
            raise CommandError(f"the Dagster instance in {instance.root_directory} has no "
                               f"partition {underwriting_id!r}: is it the engine's "
                               "DAGSTER_HOME?")
        check_pubsub(settings)
        opened = (nullcontext(workspace) if workspace is not None
                  else open_workspace(instance, workspace_file))
        with opened as request_context:
            prepared = prepare_run(request_context, RESUME_JOB,
                                   review_run_config(decision, reviewer, note))
            return _claim_and_submit(stores, instance, request_context, prepared, row,
                                     decision, reviewer, note)
    finally:
        if owned:
            instance.dispose()


def _request(row: dict[str, Any], decision: str) -> tuple[str, str]:
    """The review's idempotency key and request hash. One parking, one decision: the key
    changes when the case is parked again later; the hash tells approve from reject."""
    return (f"review:{row['id']}:{row['updated_at'].isoformat()}",
            hashlib.sha256(decision.encode()).hexdigest())


def _already_decided(stores: Stores, row: dict[str, Any],
                     decision: Decision) -> ReviewOutcome | None:
    request_id, request_hash = _request(row, decision)
    earlier = stores.idempotency.get(request_id)
    if earlier is None or earlier["status"] != "COMPLETED":
        return None
    response = earlier.get("response_data") or {}
    if earlier["request_hash"] != request_hash:
        raise ReviewError(f"underwriting {row['id']!r} was already decided otherwise: "
                          f"{response.get('decision')} by {response.get('reviewer')} "
                          f"(run {response.get('run_id')})")
    return ReviewOutcome(row["id"], response.get("decision", decision),
                         response.get("reviewer", ""), response.get("run_id", ""),
                         already_submitted=True)


def _claim_and_submit(stores: Stores, instance: Any, workspace: Any, prepared: Any,
                      row: dict[str, Any], decision: Decision, reviewer: str,
                      note: str | None) -> ReviewOutcome:
    underwriting_id, organization_id = row["id"], row["organization_id"]
    request_id, request_hash = _request(row, decision)
    try:
        claim = stores.idempotency.claim(request_id, RESUME_JOB, request_hash=request_hash,
                                         organization_id=organization_id)
    except RequestHashMismatchError:
        earlier = stores.idempotency.get(request_id) or {}
        response = earlier.get("response_data") or {}
        raise ReviewError(f"underwriting {underwriting_id!r} was already decided otherwise"
                          + (f": {response.get('decision')} by {response.get('reviewer')} "
                             f"(run {response.get('run_id')})" if response else "")) from None
    except DuplicateRequestError:
        raise ReviewError(f"a review of {underwriting_id!r} is being submitted right now; "
                          "check `aura-dagster status` in a moment") from None
    if not claim.won:
        response = claim.response or {}
        return ReviewOutcome(underwriting_id, response.get("decision", decision),
                             response.get("reviewer", reviewer), response.get("run_id", ""),
                             already_submitted=True)
    try:
        run = submit_run(instance, workspace, prepared,
                         review_tags(underwriting_id, organization_id, decision, reviewer))
    except BaseException as exc:
        stores.idempotency.fail(request_id, f"{type(exc).__name__}: {exc}")
        raise
    stores.idempotency.complete(request_id, {"run_id": run.run_id, "decision": decision,
                                             "reviewer": reviewer})
    stores.audit.record(REVIEW_AUDIT_EVENTS[decision],
                        organization_id=organization_id, underwriting_id=underwriting_id,
                        run_id=run.run_id,
                        detail={"decision": decision, "reviewer": reviewer, "note": note,
                                "job": RESUME_JOB})
    return ReviewOutcome(underwriting_id, decision, reviewer, run.run_id)


def approve(underwriting_id: str, *, reviewer: str, note: str | None = None,
            **kwargs: Any) -> ReviewOutcome:
    return decide(underwriting_id, "approve", reviewer=reviewer, note=note, **kwargs)


def reject(underwriting_id: str, *, reviewer: str, reason: str, **kwargs: Any) -> ReviewOutcome:
    return decide(underwriting_id, "reject", reviewer=reviewer, note=reason, **kwargs)


NOT_STORED = object()  # a column the store does not have (yet)


@dataclass(frozen=True)
class ParkedCase:
    underwriting_id: str
    organization_id: str
    business_name: str | None
    reasons: list[str]
    parked_at: dt.datetime
    age_seconds: float
    reason: str | None = None  # review_reason as stored, whole
    rules_version: Any = NOT_STORED  # the lender rules that parked it, once stored

    def as_dict(self) -> dict[str, Any]:
        shown = {"underwriting_id": self.underwriting_id,
                 "organization_id": self.organization_id, "business_name": self.business_name,
                 "reasons": self.reasons, "reason": self.reason,
                 "parked_at": self.parked_at.isoformat(), "age_seconds": round(self.age_seconds)}
        if self.rules_version is not NOT_STORED:
            shown["rules_version"] = self.rules_version
        return shown


def list_parked(organization_id: str | None = None, *, settings: Settings | None = None,
                stores: Stores | None = None,
                now: dt.datetime | None = None) -> list[ParkedCase]:
    """Cases awaiting review, longest-waiting first (parked since the status last changed).
    An organization that is not known is an error (a typo must not read as "nothing")."""
    stores = stores or open_store(settings or load_settings())
    if organization_id is not None:
        require_known_organization(stores, organization_id)
    now = now or dt.datetime.now(dt.UTC)
    return [ParkedCase(r["id"], r["organization_id"], r.get("business_name"),
                       split_reasons(r.get("review_reason")), r["updated_at"],
                       (now - r["updated_at"]).total_seconds(), reason=r.get("review_reason"),
                       rules_version=r.get("rules_version", NOT_STORED))
            for r in stores.underwritings.list_by_status(PARKED, organization_id)]


def format_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"
