"""OCR of scanned statements with the real tesseract binary (no mocks).

A statement PDF from the sample data is scanned (rendered to pixels, turned, blurred, with
grain and dust; see fixtures/scans.py) into an image-only PDF, read back by OCR, and
compared with the original's text layer: the amounts must all come back, and each word
must sit on its original line (deskewing works: a 0.8 degree skew alone moves the ends of
a row 7 points apart, more than half a row's pitch).
"""

from __future__ import annotations

import collections
import re
import statistics
import time

import pytest
from fpdf import FPDF

from aura_dagster.domain.documents.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    OcrFailedError,
    OcrUnavailableError,
    TooManyPagesError,
)
from aura_dagster.domain.documents.extraction import extract_pdf_words
from aura_dagster.domain.documents.ocr import estimate_skew, ocr_available, ocr_pages
from aura_dagster.domain.documents.words import PageWords, Word
from aura_dagster.sample_data.bank_statements import render_pdf, sample_statements
from aura_dagster_tests.fixtures.scans import render_pages, scan_pdf

AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})*\.\d{2}")
ROW_TOLERANCE = 2.5  # points; rows are 13 points apart, print is 8 points high


def _amounts(words: list[Word]) -> collections.Counter[str]:
    """The amount strings in the words ("$8,000.00" and "-289.00" hold one each)."""
    return collections.Counter(match.group() for word in words
                               for match in AMOUNT.finditer(word.text))


def _nearest(word: Word, candidates: list[Word]) -> Word | None:
    """The OCR word with the text of `word` that starts where it starts, if any."""
    same = [c for c in candidates
            if c.text == word.text and abs(c.x0 - word.x0) < 6 and abs(c.middle - word.middle) < 20]
    return min(same, key=lambda c: abs(c.middle - word.middle), default=None)


def _table_pdf(rows: int = 40) -> bytes:
    """One letter page of statement-like rows (fpdf2, Helvetica 8 on 13-point rows)."""
    pdf = FPDF(orientation="P", unit="pt", format="letter")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 8)
    for index in range(rows):
        pdf.set_xy(42, 60 + index * 13)
        pdf.cell(70, 13, f"03/{index % 28 + 1:02d}/2024")
        pdf.cell(270, 13, f"ACH DEBIT VENDOR PAYMENT {index:04d}")
        pdf.cell(80, 13, f"{(index * 137.31) % 5000:,.2f}", align="R")
        pdf.cell(80, 13, f"{10000 + index * 911.17:,.2f}", align="R")
    return bytes(pdf.output())


@pytest.fixture(scope="module")
def first_demo() -> tuple[list[PageWords], list[PageWords]]:
    """The first sample statement (3 pages): text layer, and OCR of its 200 dpi scan."""
    original = render_pdf(sample_statements()[0])
    scan = scan_pdf(original, dpi=200, skew_degrees=0.8, noise=0.04, seed=1)
    return extract_pdf_words(original), ocr_pages(scan, max_pages=10, dpi=300)


def test_scan_is_image_only_and_deterministic() -> None:
    original = _table_pdf()
    scan = scan_pdf(original, dpi=200, skew_degrees=0.8, seed=7)
    assert scan == scan_pdf(original, dpi=200, skew_degrees=0.8, seed=7)
    assert scan != scan_pdf(original, dpi=200, skew_degrees=0.8, seed=8)
    assert b"/CreationDate" not in scan and b"/ModDate" not in scan
    [page] = extract_pdf_words(scan)
    assert page.words == []  # no text layer at all
    assert (page.width, page.height) == (612, 792)


@pytest.mark.parametrize("skew", [-2.0, -0.8, 0.3, 0.8, 1.3])
def test_estimate_skew(skew: float) -> None:
    scan = scan_pdf(_table_pdf(), dpi=200, skew_degrees=skew, seed=3)
    [image] = render_pages(scan, 300)
    assert estimate_skew(image) == pytest.approx(skew, abs=0.1)


def test_ocr_recovers_every_amount(first_demo: tuple[list[PageWords], list[PageWords]]) -> None:
    text_pages, ocr_pages_ = first_demo
    assert [p.number for p in ocr_pages_] == [1, 2, 3]
    assert all(p.source == "ocr" and (p.width, p.height) == (612, 792) for p in ocr_pages_)
    for text_page, ocr_page in zip(text_pages, ocr_pages_, strict=True):
        wanted = _amounts(text_page.words)
        assert sum(wanted.values()) > 40
        missing = wanted - _amounts(ocr_page.words)
        assert not missing, f"page {text_page.number}: amounts not read {dict(missing)}"


def test_ocr_words_stay_on_their_rows(
        first_demo: tuple[list[PageWords], list[PageWords]]) -> None:
    """Each OCR'd word's middle is within a few points of its word in the text layer, so the
    cells of a row (date at the left margin, balance at the right) still make one row."""
    text_pages, ocr_pages_ = first_demo
    for text_page, ocr_page in zip(text_pages, ocr_pages_, strict=True):
        offsets: list[float] = []
        rows: dict[float, list[float]] = collections.defaultdict(list)
        for word in text_page.words:
            match = _nearest(word, ocr_page.words)
            if match is None:
                continue
            offsets.append(match.middle - word.middle)
            rows[round(word.middle)].append(match.middle)
        assert len(offsets) > 0.97 * len(text_page.words)  # nearly every word read exactly
        worst = max(offsets, key=abs)
        assert abs(worst) <= ROW_TOLERANCE, f"page {text_page.number}: a word {worst:+.1f} pt off"
        spread = max(max(middles) - min(middles) for middles in rows.values())
        assert spread <= ROW_TOLERANCE, f"page {text_page.number}: a row {spread:.1f} pt tall"
        assert abs(statistics.mean(offsets)) < 1.0


def test_ocr_reading_order_is_rows_then_columns(
        first_demo: tuple[list[PageWords], list[PageWords]]) -> None:
    page = first_demo[1][0]
    first_row = [w.text for w in page.words[:9]]
    assert first_row == ["First", "Demo", "Bank", "-", "Business", "Checking", "Statement",
                         "Page", "1"]
    middles = [w.middle for w in page.words]
    assert all(b > a - ROW_TOLERANCE for a, b in zip(middles, middles[1:], strict=False))


def test_ocr_of_a_blank_page_has_no_words() -> None:
    blank = FPDF(unit="pt", format="letter")
    blank.add_page()
    [page] = ocr_pages(scan_pdf(bytes(blank.output()), noise=0.04), max_pages=5)
    assert page.words == [] and page.source == "ocr"


def test_ocr_speed_per_page(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints seconds per page (tesseract single-threaded); bounds only gross regressions."""
    scan = scan_pdf(_table_pdf(), dpi=200, skew_degrees=0.8)
    for dpi in (200, 300):
        started = time.perf_counter()
        [page] = ocr_pages(scan, max_pages=1, dpi=dpi)
        seconds = time.perf_counter() - started
        with capsys.disabled():
            print(f"\nOCR at {dpi} dpi: {seconds:.2f} s/page, {len(page.words)} words")
        assert seconds < 30
        assert len(page.words) >= 40 * 8


def test_missing_tesseract_is_a_typed_error(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path) -> None:
    """With no tesseract on PATH (an empty directory), OCR says what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not ocr_available()
    with pytest.raises(OcrUnavailableError) as caught:
        ocr_pages(scan_pdf(_table_pdf(rows=3)), max_pages=5, document_id="doc-1")
    assert caught.value.code == "OCR_UNAVAILABLE"
    assert "apt-get install tesseract-ocr" in str(caught.value)
    assert str(caught.value).startswith("doc-1: ")


def test_tesseract_failure_is_a_typed_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Tesseract without its language data (an empty TESSDATA_PREFIX) exits non-zero."""
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    with pytest.raises(OcrFailedError) as caught:
        ocr_pages(scan_pdf(_table_pdf(rows=3)), max_pages=5)
    assert caught.value.code == "OCR_FAILED"
    assert "page 1" in str(caught.value)


def test_pdf_errors_are_the_extraction_errors() -> None:
    with pytest.raises(EmptyDocumentError):
        ocr_pages(b"", max_pages=5)
    with pytest.raises(CorruptDocumentError):
        ocr_pages(b"%PDF-1.4\nnot really a PDF", max_pages=5)
    with pytest.raises(TooManyPagesError):
        ocr_pages(scan_pdf(render_pdf(sample_statements()[3]), noise=0), max_pages=1)
