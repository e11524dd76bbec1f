"""Document classification by weighted markers: bank statement, tax return, driver's license.

Each type has markers (phrases and structures) with weights; a type's score is the sum of
the weights it matched. The best type wins when it scores at least MIN_SCORE;
confidence = (best / (best + runner-up)) x min(1, best / SURE_SCORE), so it is high only
when the winner is both clear and well supported. Nothing convincing gives OTHER.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aura_dagster.domain.documents.model import Document, DocumentType, ProcessingStatus

MIN_SCORE = 3.0
SURE_SCORE = 8.0

_Marker = tuple[re.Pattern[str], float, str]


def _markers(*items: tuple[str, float]) -> list[_Marker]:
    return [(re.compile(pattern, re.IGNORECASE | re.MULTILINE), weight, pattern)
            for pattern, weight in items]


_MARKERS: dict[DocumentType, list[_Marker]] = {
    DocumentType.BANK_STATEMENT: _markers(
        (r"\b(beginning|opening|previous|starting) balance\b", 3.0),
        (r"\b(ending|closing|new) balance\b", 3.0),
        (r"\bstatement period\b", 2.0),
        (r"\b(account|checking|savings|share draft) (statement|summary|activity)\b", 2.0),
        (r"\b(deposits|withdrawals|debits|credits)\b", 1.0),
        (r"\brunning balance\b|\bdaily (ending )?balance\b", 2.0),
        (r"\b(bank|credit union)\b", 1.0),
        (r"OFXHEADER|<OFX>|<STMTTRN>|<BANKTRANLIST>", 8.0),
        (r"^\s*\"?(posting |transaction )?date\"?\s*,.*\b(amount|withdrawals?|deposits?|debit|"
         r"credit|balance)\b", 5.0),
    ),
    DocumentType.TAX_RETURN: _markers(
        (r"\bform\s+(1120(-?s)?|1065|1040|990)\b", 5.0),
        (r"\bincome tax return\b", 4.0),
        (r"\bschedule (c|k-1|e|l|m-1)\b", 2.0),
        (r"\bgross receipts or sales\b", 3.0),
        (r"\btax year\b", 2.0),
        (r"\binternal revenue service\b|\bdepartment of the treasury\b", 2.0),
        (r"\bemployer identification number\b|\bEIN\b", 1.5),
        (r"\btaxable income\b|\bordinary business income\b|\btotal deductions\b", 2.0),
        (r"\bOMB No\b", 1.0),
    ),
    DocumentType.DRIVERS_LICENSE: _markers(
        (r"\bdriver'?s?\s+licen[cs]e\b", 5.0),
        (r"\bDL\b", 1.5),
        (r"\bDOB\b|\bdate of birth\b", 2.0),
        (r"\bEXP\b|\bexpires\b", 1.0),
        (r"\bCLASS\b", 1.0),
        (r"\b(SEX|HGT|WGT|EYES|HAIR)\b", 1.0),
        (r"\b(RESTR|ENDORSEMENTS?|ISS|DD)\b", 1.0),
        (r"\b(DMV|department of motor vehicles|motor vehicle)\b", 2.0),
    ),
}

# The name counts a little: it often says what the uploader thought the file was.
_NAME_HINTS: dict[DocumentType, list[tuple[re.Pattern[str], float]]] = {
    DocumentType.BANK_STATEMENT: [(re.compile(r"statement|stmt|bank|\.(ofx|qfx|qbo)$", re.I),
                                   1.5)],
    DocumentType.TAX_RETURN: [(re.compile(r"tax|1120|1065|1040|return", re.I), 1.5)],
    DocumentType.DRIVERS_LICENSE: [(re.compile(r"licen[cs]e|driver|\bdl\b|_dl[_.]", re.I),
                                    1.5)],
}

# Transaction rows: a date, words, an amount at the end of a line.
_TRANSACTION_ROW = re.compile(
    r"^\s*\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b.*\d\.\d{2}\s*$"
    r"|^\s*[A-Z][a-z]{2} \d{1,2} .*\d\.\d{2}$",
    re.MULTILINE)


@dataclass(frozen=True)
class Classification:
    document_type: DocumentType
    confidence: float
    reasons: list[str]


def classify_text(text: str, filename: str | None = None) -> Classification:
    """Classify by markers in `text` (and a hint from `filename`); confidence in [0, 1]."""
    scores: dict[DocumentType, float] = {t: 0.0 for t in _MARKERS}
    reasons: dict[DocumentType, list[str]] = {t: [] for t in _MARKERS}
    sample = text[:200_000]
    for doc_type, markers in _MARKERS.items():
        for pattern, weight, label in markers:
            if pattern.search(sample):
                scores[doc_type] += weight
                reasons[doc_type].append(f"text matches {label!r}")
    rows = len(_TRANSACTION_ROW.findall(sample))
    if rows >= 5:
        scores[DocumentType.BANK_STATEMENT] += 3.0
        reasons[DocumentType.BANK_STATEMENT].append(f"{rows} transaction-like rows")
    if filename:
        for doc_type, hints in _NAME_HINTS.items():
            for pattern, weight in hints:
                if pattern.search(filename):
                    scores[doc_type] += weight
                    reasons[doc_type].append(f"file name {filename!r} suggests it")
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best_type, best), (_, runner_up) = ranked[0], ranked[1]
    if best < MIN_SCORE:
        return Classification(DocumentType.OTHER, round(1.0 - best / MIN_SCORE * 0.5, 3),
                              [f"no type reached {MIN_SCORE} (best {best_type}: {best})"])
    confidence = (best / (best + runner_up)) * min(1.0, best / SURE_SCORE)
    return Classification(best_type, round(confidence, 3), reasons[best_type])


def classify_document(doc: Document) -> Document:
    """Set document_type and classification_confidence.

    A type already given (by the document record or `metadata["document_type"]`) is kept
    with confidence 1.0. A document whose extraction failed is classified from its name
    only and keeps its FAILED status.
    """
    given = doc.document_type or _metadata_type(doc)
    if given is not None:
        status = (doc.processing_status if doc.processing_status is ProcessingStatus.FAILED
                  else ProcessingStatus.CLASSIFIED)
        return doc.with_changes(document_type=given, classification_confidence=1.0,
                                processing_status=status)
    if doc.text is None:
        hinted = next((t for t, hints in _NAME_HINTS.items()
                       if any(p.search(doc.name) for p, _ in hints)), DocumentType.OTHER)
        return doc.with_changes(document_type=hinted, classification_confidence=0.3)
    result = classify_text(doc.text, doc.name)
    return doc.with_changes(document_type=result.document_type,
                            classification_confidence=result.confidence,
                            processing_status=ProcessingStatus.CLASSIFIED)


def _metadata_type(doc: Document) -> DocumentType | None:
    value = doc.metadata.get("document_type") if doc.metadata else None
    try:
        return DocumentType(value) if value else None
    except ValueError:
        return None
