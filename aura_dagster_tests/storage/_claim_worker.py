"""Run in child processes by the idempotency test: one claim against a shared database."""

from __future__ import annotations

from aura_dagster.storage import Database, DuplicateRequestError, IdempotencyRepository


def claim_once(url: str, request_id: str) -> str:
    db = Database(url)
    try:
        result = IdempotencyRepository(db).claim(request_id, "proc_test")
        return "won" if result.won else "cached"
    except DuplicateRequestError:
        return "duplicate"
    finally:
        db.dispose()
