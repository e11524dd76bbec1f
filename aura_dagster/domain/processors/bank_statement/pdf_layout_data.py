"""The PDF layout knowledge of `pdf_layouts.toml`, loaded once."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

SECTION_KINDS = frozenset({"credit", "debit", "checks", "pending", "skip"})
COLUMN_ROLES = ("date", "second_date", "description", "amount", "debit", "credit", "balance",
                "check_number", "reference", "other")


def normalize(text: str) -> str:
    """Lowercase words separated by single spaces; a trailing colon dropped."""
    return " ".join(text.lower().replace("\u2019", "'").split()).rstrip(":").strip()


@dataclass(frozen=True)
class Bank:
    layout: str
    match: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class PdfKnowledge:
    # (words of a header name, role), longest names first
    column_names: tuple[tuple[tuple[str, ...], str], ...]
    sections: dict[str, str]  # normalized heading -> kind
    opening_labels: tuple[str, ...]
    closing_labels: tuple[str, ...]
    available_labels: tuple[str, ...]
    period_start_labels: tuple[str, ...]
    period_end_labels: tuple[str, ...]
    banks: tuple[Bank, ...]

    @cached_property
    def column_names_by_first(self) -> dict[str, tuple[tuple[tuple[str, ...], str], ...]]:
        """`column_names` by their first word, longest first (a header line is tried word by
        word against these)."""
        index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for name, role in self.column_names:
            index.setdefault(name[0], []).append((name, role))
        return {first: tuple(names) for first, names in index.items()}

    def section_kind(self, line_text: str) -> tuple[str, str] | None:
        """(kind, heading) when the whole line is a section heading."""
        text = normalize(_CONTINUED.sub("", line_text))
        text = text.strip(" -:")
        kind = self.sections.get(text)
        if kind is None and "(" in text:
            # "Summary of checks written (checks listed are also displayed in ...)"
            text = text.split("(")[0].strip(" -:")
            kind = self.sections.get(text)
        return (kind, text) if kind else None

    def bank_layout(self, first_page_text: str) -> str | None:
        text = first_page_text.lower()
        for bank in self.banks:
            if any(phrase in text for phrase in bank.match):
                return bank.layout
        return None


_CONTINUED = re.compile(r"[-\u2013\u2014(]*\s*\(?\s*continued\s*(on next page)?\s*\)?\s*$",
                        re.IGNORECASE)


@cache
def knowledge() -> PdfKnowledge:
    text = resources.files(__package__).joinpath("pdf_layouts.toml").read_text("utf-8")
    data = tomllib.loads(text)
    names: list[tuple[tuple[str, ...], str]] = []
    for role, synonyms in data["columns"].items():
        if role not in COLUMN_ROLES:
            raise ValueError(f"pdf_layouts.toml: unknown column role {role!r}")
        names.extend((tuple(normalize(s).split()), role) for s in synonyms)
    names.sort(key=lambda item: -len(item[0]))
    sections: dict[str, str] = {}
    for entry in data["section"]:
        if entry["kind"] not in SECTION_KINDS:
            raise ValueError(f"pdf_layouts.toml: unknown section kind {entry['kind']!r}")
        for heading in entry["headings"]:
            sections.setdefault(normalize(heading), entry["kind"])
    balances, periods = data["balances"], data["period_labels"]
    banks = tuple(Bank(b["layout"], tuple(m.lower() for m in b["match"]), b["source"])
                  for b in data["bank"])
    return PdfKnowledge(tuple(names), sections, tuple(balances["opening"]),
                        tuple(balances["closing"]), tuple(balances["available"]),
                        tuple(periods["start"]), tuple(periods["end"]), banks)
