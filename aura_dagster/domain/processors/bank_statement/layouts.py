"""The table of known CSV layouts (`csv_layouts.toml`) and the reading each one implies."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

ROLES = frozenset({"date", "time", "description", "amount", "amount_out", "debit", "credit",
                   "balance", "indicator", "status", "skip"})


@dataclass(frozen=True)
class Reading:
    """Which column plays which role; -1 for a role no column plays."""

    name: str  # a layout's name or "inferred:<how>"
    date: int
    description: tuple[int, ...] = ()
    amount: int = -1
    amount_sign: int = 1  # -1: positive amounts are money out (card exports)
    debit: int = -1
    credit: int = -1
    balance: int = -1
    indicator: int = -1
    status: int = -1
    time: int = -1
    date_order: str | None = None  # "mdy" | "dmy" | "ymd" when the layout says
    # Why the amounts' direction is in doubt (a DEBIT/CREDIT column that disagrees with the
    # signs on some rows, not all): a warning unless every row's running balance confirms.
    doubt: str = ""

    @property
    def money_columns(self) -> tuple[int, ...]:
        return tuple(c for c in (self.amount, self.debit, self.credit) if c >= 0)

    def describe(self) -> str:
        parts = [f"date={self.date}"]
        for role in ("amount", "debit", "credit", "balance", "indicator", "status", "time"):
            value = getattr(self, role)
            if value >= 0:
                parts.append(f"{role}={value}")
        if self.amount_sign < 0:
            parts.append("positive=out")
        return ",".join(parts)


@dataclass(frozen=True)
class Layout:
    name: str
    source: str
    header: tuple[str, ...] | None
    columns: tuple[str, ...]
    date_order: str | None
    delimiter: str

    def reading(self) -> Reading:
        roles: dict[str, int] = {}
        descriptions: list[int] = []
        for index, role in enumerate(self.columns):
            if role == "description":
                descriptions.append(index)
            elif role == "amount_out":
                roles["amount"] = index
            elif role != "skip":
                roles.setdefault(role, index)
        return Reading(name=self.name, description=tuple(descriptions),
                       amount_sign=-1 if "amount_out" in self.columns else 1,
                       date_order=self.date_order, **roles)


def normalize(cell: str) -> str:
    return re.sub(r"\s+", " ", cell.strip().strip('"').lower())


@cache
def known_layouts() -> tuple[Layout, ...]:
    text = resources.files(__package__).joinpath("csv_layouts.toml").read_text("utf-8")
    layouts = []
    for entry in tomllib.loads(text)["layout"]:
        columns = tuple(entry["columns"])
        unknown = set(columns) - ROLES
        if unknown or "date" not in columns:
            raise ValueError(f"layout {entry['name']}: bad columns {sorted(unknown)}")
        header = entry.get("header")
        if header is not None and len(header) != len(columns):
            raise ValueError(f"layout {entry['name']}: header and columns differ in length")
        layouts.append(Layout(entry["name"], entry["source"],
                              None if header is None else tuple(normalize(h) for h in header),
                              columns, entry.get("date_order"), entry.get("delimiter", ",")))
    return tuple(layouts)


def layout_for_header(cells: list[str]) -> Layout | None:
    """The known layout whose header is exactly this row (trailing empty cells ignored)."""
    row = [normalize(c) for c in cells]
    while row and not row[-1]:
        row.pop()
    for layout in known_layouts():
        if layout.header is not None and tuple(row) == layout.header:
            return layout
    return None


def headerless_layouts(width: int) -> list[Layout]:
    return [lay for lay in known_layouts() if lay.header is None and len(lay.columns) == width]
