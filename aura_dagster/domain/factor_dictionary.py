"""The factor dictionary: every declared factor with the processor that produces it.

Generated from the processors' `FACTORS` declarations; `docs/factors.md` is its rendering
(`python -m aura_dagster.commands.factor_docs --write`), and the catalog's column
descriptions of the factor matrix come from the same entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aura_dagster.domain.factors import FactorType
from aura_dagster.domain.processors.base import BaseProcessor


@dataclass(frozen=True)
class FactorEntry:
    name: str
    type: FactorType
    unit: str | None
    description: str
    processor: str
    processor_name: str
    processor_version: str

    @property
    def column_description(self) -> str:
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.description}{unit} — {self.processor} {self.processor_version}"


def factor_dictionary(processors: Iterable[type[BaseProcessor]] | None = None
                      ) -> list[FactorEntry]:
    """Entries in catalog order, then declaration order. A name declared twice is an error."""
    if processors is None:
        from aura_dagster.domain.processors.registry import PROCESSOR_CLASSES
        processors = PROCESSOR_CLASSES
    entries: list[FactorEntry] = []
    seen: dict[str, str] = {}
    for cls in processors:
        for spec in cls.FACTORS:
            if spec.name in seen:
                raise ValueError(f"factor {spec.name} is declared by {seen[spec.name]} and "
                                 f"{cls.PROCESSOR_ID}")
            seen[spec.name] = cls.PROCESSOR_ID
            entries.append(FactorEntry(spec.name, spec.type, spec.unit, spec.description,
                                       cls.PROCESSOR_ID, cls.NAME, cls.VERSION))
    return entries


def matrix_columns(entries: Iterable[FactorEntry] | None = None) -> list[tuple[str, str]]:
    """(factor name, type) for each column of the factor matrix."""
    return [(e.name, e.type.value) for e in (entries if entries is not None
                                              else factor_dictionary())]


def render_markdown(entries: Iterable[FactorEntry] | None = None) -> str:
    entries = list(entries if entries is not None else factor_dictionary())
    lines = [
        "# Factor dictionary",
        "",
        "<!-- Generated from the processors' FACTORS declarations by",
        "     `python -m aura_dagster.commands.factor_docs --write`. Do not edit by hand. -->",
        "",
        f"{len(entries)} factors. Each is a row of `underwriting_factors` (long table) and a "
        "column of `underwriting_factor_matrix` (one row per underwriting). Types: "
        "`number` and `integer` are also in `value_numeric`; `list` and `object` are JSON.",
    ]
    processor = None
    for entry in entries:
        if entry.processor != processor:
            processor = entry.processor
            lines += ["", f"## {entry.processor_name} (`{entry.processor}` "
                      f"{entry.processor_version})", "",
                      "| factor | type | unit | meaning |", "|---|---|---|---|"]
        description = entry.description.replace("|", "\\|")
        lines.append(f"| `{entry.name}` | {entry.type.value} | {entry.unit or ''} "
                     f"| {description} |")
    return "\n".join(lines) + "\n"


__all__ = ["FactorEntry", "FactorType", "factor_dictionary", "matrix_columns",
           "render_markdown"]
