"""Publish an outcome at most once per run group, through the idempotency keys (seed 002).

A step retried after its publish succeeded (its output write then failed), or a run retry,
must not publish `processing.completed` again. The first publish of a key records the
message id; later attempts with the same key get it back without publishing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aura_dagster.storage import DuplicateRequestError

log = logging.getLogger(__name__)
ORCHESTRATOR = "processing.completed"


def completion_key(root_run_id: str) -> str:
    """One outcome per run group (a run and its retries share the root run id)."""
    return f"processing.completed:{root_run_id}"


def publish_once(stores: Any, key: str, publish: Callable[[], str], *,
                 organization_id: str | None = None) -> tuple[str | None, bool]:
    """(message id, published now). A key already COMPLETED returns its message id."""
    try:
        claim = stores.idempotency.claim(key, ORCHESTRATOR, organization_id=organization_id)
    except DuplicateRequestError:
        # An earlier attempt claimed the key and died before recording its publish: it may
        # or may not have published. Publish: a duplicate beats a lost outcome.
        log.warning("%s: earlier attempt unfinished; publishing again", key)
        return publish(), True
    if not claim.won:
        return (claim.response or {}).get("message_id"), False
    try:
        message_id = publish()
    except BaseException as exc:
        stores.idempotency.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    stores.idempotency.complete(key, {"message_id": message_id})
    return message_id, True


def already_published(stores: Any, key: str) -> bool:
    row = stores.idempotency.get(key)
    return row is not None and row["status"] == "COMPLETED"
