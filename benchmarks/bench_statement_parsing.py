"""Statement parsing speed: pypdfium2 (the processor's path) against pdfplumber.

Run: .venv/bin/python benchmarks/bench_statement_parsing.py

Generates the sample statements plus a long one (200 pages), reads each PDF's text
with both libraries, parses both texts with the same line parser, checks the
transactions are identical, and prints pages per second side by side.
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass

import pdfplumber

from aura_dagster.domain.documents.extraction import extract_text
from aura_dagster.domain.processors.bank_statement.pdf_text import parse_statement_text
from aura_dagster.sample_data.bank_statements import long_statement, render_pdf, sample_statements


@dataclass
class Row:
    name: str
    pages: int
    transactions: int
    pdfium_seconds: float
    plumber_seconds: float
    identical: bool


def _pdfium(content: bytes, name: str) -> tuple[list, int]:
    extracted = extract_text(content, name)
    statement = parse_statement_text(extracted.text, source=name, page_count=extracted.page_count)
    return statement.transactions, extracted.page_count


def _plumber(content: bytes, name: str) -> list:
    with pdfplumber.open(io.BytesIO(content)) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    return parse_statement_text(text, source=name).transactions


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def main() -> int:
    documents = [(f"{s.layout}_{s.period_start:%Y-%m}.pdf", render_pdf(s))
                 for s in sample_statements()]
    documents.append(("first_demo_long_200p.pdf", render_pdf(long_statement(pages=200))))
    rows: list[Row] = []
    for name, content in documents:
        (pdfium_txns, pages), pdfium_seconds = _timed(_pdfium, content, name)
        plumber_txns, plumber_seconds = _timed(_plumber, content, name)
        rows.append(Row(name, pages, len(pdfium_txns), pdfium_seconds, plumber_seconds,
                        pdfium_txns == plumber_txns))
    print(f"{'document':28} {'pages':>5} {'txns':>6} {'pypdfium2 p/s':>14} "
          f"{'pdfplumber p/s':>15} {'speed-up':>9} identical")
    for row in rows:
        print(f"{row.name:28} {row.pages:5d} {row.transactions:6d} "
              f"{row.pages / row.pdfium_seconds:14.1f} {row.pages / row.plumber_seconds:15.1f} "
              f"{row.plumber_seconds / row.pdfium_seconds:8.1f}x {row.identical}")
    pages = sum(r.pages for r in rows)
    pdfium_total = sum(r.pdfium_seconds for r in rows)
    plumber_total = sum(r.plumber_seconds for r in rows)
    print(f"{'total':28} {pages:5d} {sum(r.transactions for r in rows):6d} "
          f"{pages / pdfium_total:14.1f} {pages / plumber_total:15.1f} "
          f"{plumber_total / pdfium_total:8.1f}x {all(r.identical for r in rows)}")
    return 0 if all(r.identical for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
