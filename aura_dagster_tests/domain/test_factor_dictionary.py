"""The factor dictionary comes from the processors' declarations, and docs/factors.md is
its current rendering."""

from __future__ import annotations

import pytest

from aura_dagster.commands.factor_docs import DOCS_PATH, main
from aura_dagster.domain.factor_dictionary import factor_dictionary, render_markdown
from aura_dagster.domain.factors import FactorSpec, FactorType, factor, value_matches
from aura_dagster.domain.processors.registry import PROCESSOR_CLASSES


def test_every_processor_declares_its_factors() -> None:
    entries = factor_dictionary()
    for cls in PROCESSOR_CLASSES:
        declared = [e for e in entries if e.processor == cls.PROCESSOR_ID]
        assert declared, f"{cls.PROCESSOR_ID} declares no FACTORS"
        assert all(e.processor_version == cls.VERSION for e in declared)
    assert len({e.name for e in entries}) == len(entries) >= 90
    assert all(e.description.strip() and isinstance(e.type, FactorType) for e in entries)


def test_docs_factors_md_is_generated_from_the_code() -> None:
    assert DOCS_PATH.read_text(encoding="utf-8") == render_markdown(), (
        "docs/factors.md is out of date: python -m aura_dagster.commands.factor_docs --write")
    assert main(["--check"]) == 0
    text = DOCS_PATH.read_text(encoding="utf-8")
    for entry in factor_dictionary():
        assert f"| `{entry.name}` | {entry.type.value} |" in text


def test_a_name_declared_twice_is_refused() -> None:
    class A:
        PROCESSOR_ID, NAME, VERSION = "p_a", "A", "1"
        FACTORS = (factor("x", "number", "x"),)

    class B(A):
        PROCESSOR_ID = "p_b"

    with pytest.raises(ValueError, match="declared by p_a and p_b"):
        factor_dictionary([A, B])  # type: ignore[list-item]


@pytest.mark.parametrize(("type_", "good", "bad"), [
    ("number", 1.5, "1.5"), ("integer", 3, 3.5), ("boolean", False, 0),
    ("date", "2024-01-31", "Jan 31"), ("list", [], {}), ("object", {}, []),
    ("string", "x", 1)])
def test_value_matches_declared_type(type_: str, good: object, bad: object) -> None:
    spec = FactorSpec("f", FactorType(type_), "f")
    assert value_matches(spec, good) and value_matches(spec, None)
    assert not value_matches(spec, bad)
