"""IdempotencyRepository: atomic claims from threads and processes, states, TTL clean-up."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest

from aura_dagster.storage import (
    Database,
    DuplicateRequestError,
    IdempotencyRepository,
    RequestHashMismatchError,
    Stores,
)
from aura_dagster_tests.storage._claim_worker import claim_once


def test_claim_states(stores: Stores) -> None:
    repo = stores.idempotency
    first = repo.claim("req-1", "underwriting", request_hash="abc")
    assert (first.won, first.status, first.attempts) == (True, "PROCESSING", 1)
    with pytest.raises(DuplicateRequestError) as err:
        repo.claim("req-1", "underwriting", request_hash="abc")
    assert err.value.status == "PROCESSING"
    assert repo.complete("req-1", {"run_id": "r1", "factors": {"a": 1}}) is True
    cached = repo.claim("req-1", "underwriting", request_hash="abc")
    assert (cached.won, cached.status, cached.response) == (
        False, "COMPLETED", {"run_id": "r1", "factors": {"a": 1}})
    assert repo.complete("req-1", {}) is False  # only PROCESSING completes
    with pytest.raises(RequestHashMismatchError):
        repo.claim("req-1", "underwriting", request_hash="other")
    row = repo.get("req-1")
    assert row["status"] == "COMPLETED" and row["completed_at"] is not None


def test_failed_request_may_be_claimed_again(stores: Stores) -> None:
    repo = stores.idempotency
    repo.claim("req-2", "underwriting")
    assert repo.fail("req-2", "boom") is True
    assert repo.get("req-2")["error_message"] == "boom"
    again = repo.claim("req-2", "underwriting")
    assert (again.won, again.attempts) == (True, 2)
    assert repo.get("req-2")["error_message"] is None
    assert repo.fail("req-unknown", "x") is False


def test_ttl_cleanup_and_expired_keys_are_claimable(stores: Stores) -> None:
    repo = stores.idempotency
    repo.claim("req-old", "underwriting", ttl=dt.timedelta(seconds=-1))
    repo.claim("req-new", "underwriting", ttl=dt.timedelta(hours=1))
    assert repo.claim("req-old", "underwriting", ttl=dt.timedelta(minutes=30)).won is True
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert repo.cleanup_expired(now=dt.datetime.now(dt.UTC)) == 0
    assert repo.cleanup_expired(now=later) == 2
    assert repo.get("req-new") is None


def test_concurrent_claims_from_threads_exactly_one_wins(stores: Stores) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        try:
            result = stores.idempotency.claim("req-race", "underwriting")
            outcome = "won" if result.won else "cached"
        except DuplicateRequestError:
            outcome = "duplicate"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["duplicate"] * 7 + ["won"]


def test_concurrent_reclaims_of_a_failed_request(stores: Stores) -> None:
    stores.idempotency.claim("req-f", "underwriting")
    stores.idempotency.fail("req-f", "temporary")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def claim() -> None:
        barrier.wait()
        try:
            outcomes.append("won" if stores.idempotency.claim("req-f", "u").won else "cached")
        except DuplicateRequestError:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["duplicate"] * 5 + ["won"]


def test_concurrent_claims_from_processes_exactly_one_wins(db: Database, db_url: str) -> None:
    db.dispose()  # no pooled connection may cross the fork
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=4, mp_context=ctx) as pool:
        outcomes = list(pool.map(claim_once, [db_url] * 4, ["req-proc"] * 4))
    assert sorted(outcomes) == ["duplicate"] * 3 + ["won"]
    repo = IdempotencyRepository(db)
    repo.complete("req-proc", {"ok": True})
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        assert list(pool.map(claim_once, [db_url] * 2, ["req-proc"] * 2)) == ["cached"] * 2
