"""Words with their boxes: what both a PDF's text layer and OCR of a scan give the table reader.

Coordinates are PDF points (1/72 inch) from the page's top-left corner, whatever the
source: OCR scales its pixel boxes by 72 / dpi, so one reader with one set of
tolerances reads both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Word(NamedTuple):
    """A tuple: a page holds hundreds, and building them is the text layer's hot loop."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class PageWords:
    """One page's words in reading order (top to bottom, then left to right)."""

    number: int  # 1-based
    width: float
    height: float
    words: list[Word] = field(default_factory=list)
    source: str = "text"  # "text": the PDF's text layer | "ocr": read from the page image
