"""UnderwritingRepository: underwritings and documents."""

from __future__ import annotations

import datetime as dt

import pytest

from aura_dagster.storage import Stores, TenantMismatchError, UnknownDocumentError
from aura_dagster.storage.errors import NotFoundError


def test_upsert_creates_then_updates_business_fields_but_keeps_status(stores: Stores) -> None:
    repo = stores.underwritings
    created = repo.upsert_underwriting("uw_1", "org_1", "Acme LLC", "CA")
    assert created["status"] == "created" and created["business_name"] == "Acme LLC"
    assert created["created_at"].tzinfo is dt.UTC
    repo.set_status("uw_1", "processing")
    again = repo.upsert_underwriting("uw_1", "org_1", business_state="NV", status="created")
    assert again["status"] == "processing"
    assert (again["business_name"], again["business_state"]) == ("Acme LLC", "NV")
    with pytest.raises(TenantMismatchError):
        repo.upsert_underwriting("uw_1", "org_2")
    with pytest.raises(ValueError):
        repo.upsert_underwriting("uw_2", "org_1", status="bogus")


def test_set_status_with_review_fields(stores: Stores) -> None:
    repo = stores.underwritings
    repo.upsert_underwriting("uw_1", "org_1")
    parked = repo.set_status("uw_1", "awaiting_review", review_reason="low confidence 0.41")
    assert parked["status"] == "awaiting_review"
    assert parked["review_reason"] == "low confidence 0.41"
    at = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    done = repo.set_status("uw_1", "completed", reviewed_by="alice", reviewed_at=at)
    assert done["reviewed_by"] == "alice" and done["reviewed_at"] == at
    assert done["review_reason"] == "low confidence 0.41"  # untouched when not given
    with pytest.raises(ValueError):
        repo.set_status("uw_1", "approved")
    with pytest.raises(NotFoundError):
        repo.set_status("uw_missing", "failed")
    assert repo.get_underwriting("uw_missing") is None


def test_documents_in_requested_order_and_unknown_ids_named(stores: Stores) -> None:
    repo = stores.underwritings
    repo.upsert_underwriting("uw_1", "org_1")
    repo.upsert_underwriting("uw_2", "org_1")
    for doc_id in ("doc_001", "doc_002", "doc_003"):
        repo.upsert_document(doc_id, "uw_1", document_type="bank_statement",
                             revision_id=f"{doc_id}_r1", content_location=f"docs/{doc_id}.csv",
                             metadata={"pages": 2, "tags": ["a"]})
    repo.upsert_document("doc_other", "uw_2", revision_id="r1")
    docs = repo.get_documents("uw_1", ["doc_003", "doc_001"])
    assert [d["id"] for d in docs] == ["doc_003", "doc_001"]
    assert docs[0]["metadata"] == {"pages": 2, "tags": ["a"]}
    assert docs[0]["processing_status"] == "received"
    assert [d["id"] for d in repo.get_documents("uw_1")] == ["doc_001", "doc_002", "doc_003"]
    with pytest.raises(UnknownDocumentError) as err:
        repo.get_documents("uw_1", ["doc_001", "doc_404", "doc_other"])
    assert err.value.missing == ["doc_404", "doc_other"]
    assert "doc_404" in str(err.value) and "doc_other" in str(err.value)


def test_upsert_and_update_document(stores: Stores) -> None:
    repo = stores.underwritings
    repo.upsert_underwriting("uw_1", "org_1")
    repo.upsert_underwriting("uw_2", "org_1")
    repo.upsert_document("doc_1", "uw_1", revision_id="r1", metadata={"a": 1})
    replaced = repo.upsert_document("doc_1", "uw_1", revision_id="r2", document_type="tax_return")
    assert replaced["revision_id"] == "r2" and replaced["metadata"] == {}
    with pytest.raises(TenantMismatchError):
        repo.upsert_document("doc_1", "uw_2", revision_id="r9")
    updated = repo.update_document("doc_1", processing_status="classified",
                                   metadata={"classifier": {"confidence": 0.93}})
    assert updated["processing_status"] == "classified"
    assert updated["revision_id"] == "r2"
    assert updated["metadata"] == {"classifier": {"confidence": 0.93}}
    with pytest.raises(UnknownDocumentError):
        repo.update_document("doc_nope", processing_status="failed")
    with pytest.raises(NotFoundError):
        repo.upsert_document("doc_9", "uw_missing", organization_id="org_1")


def test_list_underwritings_by_status(stores: Stores) -> None:
    repo = stores.underwritings
    repo.upsert_underwriting("uw_1", "org_1")
    repo.upsert_underwriting("uw_2", "org_1", status="processing")
    assert {u["id"] for u in repo.list_underwritings("org_1")} == {"uw_1", "uw_2"}
    assert [u["id"] for u in repo.list_underwritings("org_1", status="processing")] == ["uw_2"]
