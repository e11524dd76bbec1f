"""Unreadable documents are failures, not skips (issue 8): a document of the processor's type
that exists but cannot be read makes the processor FAILED with the typed code, PERMANENT.
"Skipped" is only for a processor with no document of its type at all."""

from __future__ import annotations

import pytest

from aura_dagster.domain.documents.extraction import EXTRACTION_MAX_PAGES, extract_document
from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.processors.bank_statement import BankStatementProcessor
from aura_dagster.domain.processors.base import (
    PARTIALLY_READ_CONFIDENCE,
    ErrorClass,
    ExecutionStatus,
    UnderwritingContext,
)
from aura_dagster.domain.processors.tax_return import TaxReturnProcessor
from aura_dagster.domain.validation import review_decision
from aura_dagster.sample_data import bank_statements as bs
from aura_dagster.sample_data.bad_documents import BAD_DOCUMENTS, padded_statement

CASE = UnderwritingContext("uw_1", "org_1", "Acme Bakery LLC", "CA")


def _loaded(doc_id: str, content: bytes, doc_type: DocumentType, name: str = "s.pdf"):
    """What the load step hands the processors: fetched, extracted (at the load cap)."""
    doc = Document(doc_id, f"rev_{doc_id}", name, document_type=doc_type, filename=name,
                   content=content)
    return extract_document(doc, max_pages=EXTRACTION_MAX_PAGES)


@pytest.fixture(scope="module")
def january_pdf() -> bytes:
    [january] = [s for s in bs.sample_statements() if s.layout == "first_demo"][:1]
    return bs.render_pdf(january)


@pytest.mark.parametrize("kind", sorted(BAD_DOCUMENTS))
def test_an_unreadable_statement_fails_the_processor_with_its_code(kind: str) -> None:
    make, code = BAD_DOCUMENTS[kind]
    doc = _loaded("doc_bad", make(), DocumentType.BANK_STATEMENT)

    result = BankStatementProcessor().execute(CASE, [doc])

    assert result.status is ExecutionStatus.FAILED and not result.skipped
    assert result.error_code == code
    assert result.error_class is ErrorClass.PERMANENT
    assert not result.retryable
    assert "doc_bad" in result.output["unreadable_documents"][0]["document_id"]


def test_an_unreadable_tax_return_fails_too() -> None:
    make, code = BAD_DOCUMENTS["encrypted"]
    result = TaxReturnProcessor().execute(CASE, [_loaded("doc_tax", make(),
                                                         DocumentType.TAX_RETURN)])
    assert result.status is ExecutionStatus.FAILED and result.error_code == code


def test_skipped_only_without_a_document_of_its_type(january_pdf: bytes) -> None:
    other = _loaded("doc_tax", BAD_DOCUMENTS["corrupt"][0](), DocumentType.TAX_RETURN)
    result = BankStatementProcessor().execute(CASE, [other])
    assert result.status is ExecutionStatus.COMPLETED and result.skipped


def test_a_600_page_statement_parses_when_allowed_else_fails_too_many_pages(
        january_pdf: bytes) -> None:
    doc = _loaded("doc_long", padded_statement(january_pdf, 600), DocumentType.BANK_STATEMENT)
    assert doc.extraction_error is None and doc.page_count == 600  # the load step reads it

    refused = BankStatementProcessor().execute(CASE, [doc])
    assert refused.status is ExecutionStatus.FAILED
    assert refused.error_code == "TOO_MANY_PAGES"
    assert refused.error_class is ErrorClass.PERMANENT

    allowed = BankStatementProcessor().execute(CASE, [doc], {"max_pages": 1000})
    assert allowed.status is ExecutionStatus.COMPLETED and not allowed.skipped
    assert allowed.factors["bank_months_covered"] == 1
    assert allowed.output["statements"][0]["page_count"] == 600


def test_one_unreadable_among_readable_completes_and_waits_for_a_person(
        january_pdf: bytes) -> None:
    good = _loaded("doc_good", january_pdf, DocumentType.BANK_STATEMENT)
    bad = _loaded("doc_bad", BAD_DOCUMENTS["empty"][0](), DocumentType.BANK_STATEMENT)

    result = BankStatementProcessor().execute(CASE, [good, bad])

    assert result.status is ExecutionStatus.COMPLETED
    assert result.confidence == PARTIALLY_READ_CONFIDENCE
    assert [u["document_id"] for u in result.output["unreadable_documents"]] == ["doc_bad"]
    decision = review_decision([], {"p_bank_statement": result.confidence})
    assert decision.needs_review


def test_the_review_gate_parks_a_case_with_a_failed_processor() -> None:
    decision = review_decision([], {"p_tax_return": 1.0},
                               failed={"p_bank_statement": "ENCRYPTED_DOCUMENT: s.pdf"})
    assert decision.needs_review
    assert decision.reasons == ("p_bank_statement failed: ENCRYPTED_DOCUMENT: s.pdf",)
    assert not review_decision([], {"p_tax_return": 1.0}).needs_review
