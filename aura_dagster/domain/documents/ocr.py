"""OCR of scanned (image-only) PDF pages into words with boxes, like a text layer gives.

Each page is rendered with PDFium to grey pixels at `dpi`, straightened (deskewed), cleaned
of dust specks (3x3 median), its paper whitened, and read by the tesseract binary (Debian
package `tesseract-ocr`), whose word boxes are scaled from pixels to PDF points by 72 / dpi
(the deskewed image keeps the page's size, so points are the page's points). The result is the same
`PageWords` the text layer gives (with source="ocr"), so one table reader with one set of
tolerances reads both.

Why deskew: scans come 0.3-2 degrees crooked, and 1 degree over a letter page's width moves
a table row by 9.6 points, more than a row is high (8-point print on 13-point rows), so the
words of one row would land in two. The angle is the one that makes the horizontal
projection of the ink sharpest (text lines become thin, dense bands), searched coarse then
fine on a reduced copy of the page.

Tesseract runs single-threaded (OMP_THREAD_LIMIT=1): processors run in parallel on a
two-core machine and its OpenMP threads would fight them for the cores.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from aura_dagster.domain.documents.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    OcrFailedError,
    OcrUnavailableError,
    TooManyPagesError,
)
from aura_dagster.domain.documents.extraction import _PDFIUM_LOCK
from aura_dagster.domain.documents.words import PageWords, Word

DEFAULT_OCR_DPI = 300
PAGE_TIMEOUT_SECONDS = 60.0
# Page segmentation mode 11, "sparse text": every word found on its own, wherever it is.
# A statement page is a table with wide gaps between its cells; mode 6 ("one uniform
# block") forces each printed row into one text line and now and then misreads or splits a
# cell ("27,331" "15"). Measured on 60 scanned sample-statement pages (200 dpi scans, skew
# -1.5 to 1.8 degrees, grain and dust) read at 300 dpi: mode 11 recovered 4015 of 4024
# amounts, mode 6 4008, and mode 11's word middles sit closer to the text layer's (95% within
# 0.5 point against 0.8), for about 15% more tesseract time. At 200 dpi both read fewer
# (mode 11: 984 of 1006 where it read 1005 at 300).
PSM = 11
# Words below this confidence (0-100) are dropped, unless they hold a digit: a figure
# read with doubt is kept for the parser's checks (balances must reconcile) to judge,
# never lost without a trace. What this drops is mostly specks read as punctuation.
MIN_CONFIDENCE = 30.0
MAX_SKEW_DEGREES = 5.0
_INSTALL_HINT = "install the Debian package tesseract-ocr (apt-get install tesseract-ocr)"


def tesseract_path() -> str | None:
    """The tesseract binary on PATH now (looked up on each call), or None."""
    return shutil.which("tesseract")


def ocr_available() -> bool:
    return tesseract_path() is not None


@dataclass(frozen=True)
class _Rendered:
    number: int
    width: float  # points
    height: float
    image: Image.Image  # mode "L"


# -- reading the PDF ---------------------------------------------------------------------------
def _open(content: bytes, max_pages: int,
          document_id: str | None) -> tuple[pdfium.PdfDocument, int]:
    """The open PDF and its page count; the caller holds the PDFium lock."""
    try:
        pdf = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) in (pdfium_c.FPDF_ERR_PASSWORD,
                                              pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedDocumentError("the PDF is password-protected",
                                         document_id=document_id) from exc
        raise CorruptDocumentError(f"the PDF cannot be read: {exc}",
                                   document_id=document_id) from exc
    page_count = len(pdf)
    if page_count == 0 or page_count > max_pages:
        pdf.close()
        if page_count == 0:
            raise CorruptDocumentError("the PDF has no pages", document_id=document_id)
        raise TooManyPagesError(f"{page_count} pages, above the limit of {max_pages}",
                                document_id=document_id)
    return pdf, page_count


def _render(pdf: pdfium.PdfDocument, index: int, dpi: int,
            document_id: str | None) -> _Rendered:
    """One page as grey pixels; the caller holds the PDFium lock."""
    try:
        page = pdf[index]
        try:
            width, height = page.get_size()
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            try:
                # convert() copies (also from "L" to "L"): the image owns its pixels once the
                # bitmap closes
                image = bitmap.to_pil().convert("L")
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        raise CorruptDocumentError(f"page {index + 1} cannot be rendered: {exc}",
                                   document_id=document_id) from exc
    return _Rendered(index + 1, width, height, image)


# -- cleaning the image ------------------------------------------------------------------------
def _ink_threshold(pixels: np.ndarray) -> float:
    """Halfway between the ink and the paper, both taken from the page's own greys."""
    ink, paper = np.percentile(pixels, [1.0, 90.0])
    return float(ink + paper) / 2


def estimate_skew(image: Image.Image, *, max_degrees: float = MAX_SKEW_DEGREES) -> float:
    """The page's skew in degrees, counter-clockwise positive (as PIL's `rotate` takes it):
    `image.rotate(-angle)` straightens it. 0.0 for a blank page."""
    # About 100 dpi is plenty: a text line stays several pixels high, and averaging while
    # reducing melts the dust specks into the paper.
    factor = max(1, round(image.width / 850))
    small = np.asarray(image.reduce(factor) if factor > 1 else image, dtype=np.float32)
    ys, xs = np.nonzero(small < _ink_threshold(small))
    if len(ys) < 50:
        return 0.0
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64) - small.shape[1] / 2

    def sharpness(degrees: float) -> float:
        # A line turned counter-clockwise by `degrees` rises to the right, y = y0 - x tan a
        # (y grows downwards): y + x tan a is the same along it.
        rows = ys + xs * math.tan(math.radians(degrees))
        counts = np.bincount(np.round(rows - rows.min()).astype(np.int64))
        return float(np.dot(counts, counts))

    def best(candidates: np.ndarray) -> float:
        scores = [sharpness(float(angle)) for angle in candidates]
        return float(candidates[int(np.argmax(scores))])

    coarse = best(np.arange(-max_degrees, max_degrees + 1e-9, 0.25))
    fine = best(np.arange(coarse - 0.25, coarse + 0.25 + 1e-9, 0.02))
    return round(fine, 2)


def deskew(image: Image.Image) -> tuple[Image.Image, float]:
    """The image turned straight about its centre (same size, paper-coloured corners)."""
    angle = estimate_skew(image)
    if abs(angle) < 0.05:  # under a fifth of a point across a page: leave the pixels be
        return image, angle
    paper = int(np.percentile(np.asarray(image.reduce(4)), 90.0))
    return image.rotate(-angle, resample=Image.Resampling.BICUBIC, fillcolor=paper), angle


def whiten(image: Image.Image) -> Image.Image:
    """Paper and its grain to pure white, ink to black, edges grey (a levels stretch).

    Tesseract binarizes a page with one Otsu threshold over the whole page. On a page that
    is mostly paper (a blank back, a last page with one line) that threshold falls inside
    the paper's own grain, half the paper turns black, and tesseract reads noise for
    minutes. Here the paper's grey and grain come from the page's histogram (its median and
    the spread below it), so whatever is within five times the grain of the paper is paper.
    """
    counts = np.bincount(np.asarray(image, dtype=np.uint8).ravel(), minlength=256)
    cumulative = np.cumsum(counts) / counts.sum()

    def percentile(q: float) -> int:
        return int(np.searchsorted(cumulative, q / 100))

    paper = percentile(50)  # a statement page is mostly paper
    grain = max(2, paper - percentile(16))  # one standard deviation, below the median
    white = paper - 5 * grain
    if white < 80:
        return image  # a dark or inverted page: leave it to tesseract
    ink = min(percentile(1), white - 80)  # a blank page has no ink: keep the ramp wide
    ramp = np.clip((np.arange(256) - ink) * 255 / (white - ink), 0, 255).round()
    return image.point(ramp.astype(np.uint8).tolist())


# Devillard's 19 compare-exchanges that leave the median of 9 values in the middle slot.
_MEDIAN_OF_9 = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
                (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))


def median3(image: Image.Image) -> Image.Image:
    """3x3 median of a grey image, the same pixels as PIL's MedianFilter(3) at under half
    its time (0.23 s against 0.6 s for a letter page at 300 dpi): a sorting network on
    the nine shifted copies of the page, edges repeated."""
    pixels = np.asarray(image, dtype=np.uint8)
    height, width = pixels.shape
    padded = np.pad(pixels, 1, mode="edge")
    values = [padded[dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3)]
    for low, high in _MEDIAN_OF_9:
        values[low], values[high] = (np.minimum(values[low], values[high]),
                                     np.maximum(values[low], values[high]))
    return Image.fromarray(values[4], "L")


def preprocess(image: Image.Image) -> Image.Image:
    """Straighten; take out dust specks with a 3x3 median (strokes of 8-point print are 3
    pixels wide and more at 300 dpi and stay); whiten the paper.

    Without the median, tesseract read 97% of the amounts on the scanned statements
    instead of 99.9%: specks next to digits become commas or split words."""
    straight, _ = deskew(image)
    return whiten(median3(straight))


# -- tesseract -------------------------------------------------------------------------------
def _tesseract_tsv(binary: str, image: Image.Image, dpi: int, psm: int, number: int,
                   document_id: str | None) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PPM")  # mode L: binary PGM, read by leptonica without decoding work
    env = dict(os.environ, OMP_THREAD_LIMIT="1")  # handed on to the child, not read
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "-l", "eng", "--psm", str(psm), "--dpi", str(dpi),
             "tsv"],
            input=buffer.getvalue(), capture_output=True, env=env,
            timeout=PAGE_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OcrFailedError(f"tesseract ran over {PAGE_TIMEOUT_SECONDS:.0f} s on page {number}",
                             document_id=document_id) from exc
    except OSError as exc:  # removed or not executable between the look-up and the call
        raise OcrUnavailableError(f"tesseract cannot be started ({exc}): {_INSTALL_HINT}",
                                  document_id=document_id) from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise OcrFailedError(f"tesseract exited with {done.returncode} on page {number}: "
                             + " | ".join(tail), document_id=document_id)
    return done.stdout.decode("utf-8", "replace")


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _reading_order(words: list[Word]) -> list[Word]:
    """Top to bottom, then left to right: words whose middles lie within a third of a
    word's height of a line's first word are on that line (sparse text mode reads each
    word on its own, in no line order)."""
    if not words:
        return words
    heights = sorted(w.bottom - w.top for w in words)
    reach = heights[len(heights) // 2] / 3
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.middle, w.x0)):
        if lines and word.middle - lines[-1][0].middle <= reach:
            lines[-1].append(word)
        else:
            lines.append([word])
    return [word for line in lines for word in sorted(line, key=lambda w: w.x0)]


def _words(tsv: str, scale: float) -> list[Word]:
    """Word rows (level 5) of tesseract's TSV in reading order, boxes in points."""
    words: list[Word] = []
    for line in tsv.splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        text = "\t".join(cells[11:]).strip()
        if not text:
            continue
        try:
            left, top, width, height = (int(cells[i]) for i in (6, 7, 8, 9))
            confidence = float(cells[10])
        except ValueError:
            continue
        if confidence < MIN_CONFIDENCE and not _has_digit(text):
            continue
        words.append(Word(text, left * scale, (left + width) * scale, top * scale,
                          (top + height) * scale))
    return _reading_order(words)


def ocr_image(image: Image.Image, *, dpi: int, number: int = 1, width: float | None = None,
              height: float | None = None, psm: int = PSM,
              document_id: str | None = None) -> PageWords:
    """One page image (rendered at `dpi`) read into words with boxes in points."""
    binary = tesseract_path()
    if binary is None:
        raise OcrUnavailableError(f"OCR needs the tesseract binary, not found on PATH: "
                                  f"{_INSTALL_HINT}", document_id=document_id)
    scale = 72 / dpi
    tsv = _tesseract_tsv(binary, preprocess(image.convert("L")), dpi, psm, number,
                         document_id)
    return PageWords(number, width if width is not None else image.width * scale,
                     height if height is not None else image.height * scale,
                     _words(tsv, scale), "ocr")


def ocr_pages(content: bytes, *, max_pages: int, dpi: int = DEFAULT_OCR_DPI,
              document_id: str | None = None) -> list[PageWords]:
    """Every page of a PDF read by OCR: words with boxes in points, source="ocr".

    Raises OcrUnavailableError when tesseract is not installed (checked before any
    rendering), OcrFailedError when it fails on a page, and the PDF errors of
    `documents.errors` (empty, corrupt, encrypted, too many pages).

    PDFium is held (its lock) only while a page renders, not while tesseract reads it,
    so other processors' PDF work goes on meanwhile; one page image is in memory at a time.
    """
    if not ocr_available():
        raise OcrUnavailableError(f"this PDF has no text layer and OCR needs the tesseract "
                                  f"binary, not found on PATH: {_INSTALL_HINT}",
                                  document_id=document_id)
    if not content or not content.strip():
        raise EmptyDocumentError("the file is empty", document_id=document_id)
    if b"%PDF-" not in content[:1024]:
        raise CorruptDocumentError("named like a PDF but has no PDF header",
                                   document_id=document_id)
    with _PDFIUM_LOCK:
        pdf, page_count = _open(content, max_pages, document_id)
    try:
        pages: list[PageWords] = []
        for index in range(page_count):
            with _PDFIUM_LOCK:
                rendered = _render(pdf, index, dpi, document_id)
            pages.append(ocr_image(rendered.image, dpi=dpi, number=rendered.number,
                                   width=rendered.width, height=rendered.height,
                                   document_id=document_id))
        return pages
    finally:
        with _PDFIUM_LOCK:
            pdf.close()
