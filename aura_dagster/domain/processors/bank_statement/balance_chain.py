"""The balance chain: the judge of how a statement was read, whatever its format.

A reading is a list of signed amounts in chronological order, each with the
running balance the document prints after it (or None). Under the right reading,
opening + amounts reproduce every printed balance. Where nothing is printed per
row, the stated opening, closing and totals are checked the same way.

`judge` checks one reading; `choose` picks, among candidate readings (column roles,
sign convention, order), the first under which the chain holds, else the one that
breaks least, and says which rows break.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Stated:
    """Balances and totals the document states outside the rows (None: not stated)."""

    opening: Decimal | None = None
    closing: Decimal | None = None
    total_credits: Decimal | None = None
    total_debits: Decimal | None = None  # positive


@dataclass(frozen=True)
class Verdict:
    """What the chain says about one reading.

    `reconciles` is None when nothing can be checked: no running balance and no
    stated opening and closing. `opening` / `closing` are what the document states,
    directly or through the first / last row's printed balance (never a guess).
    """

    reconciles: bool | None
    opening: Decimal | None
    closing: Decimal | None
    opening_source: str  # stated | running_balance | absent
    breaks: list[str] = field(default_factory=list)  # human-readable, one per break
    checked_rows: int = 0

    @property
    def score(self) -> tuple[int, int]:
        """Lower is better: breaks first, then fewer checked rows is worse."""
        return (len(self.breaks), -self.checked_rows)


def judge(amounts: Sequence[Decimal], balances: Sequence[Decimal | None],
          labels: Sequence[str], stated: Stated = Stated()) -> Verdict:
    """Check one reading. `labels` name the rows in break messages."""
    breaks: list[str] = []
    checked = 0
    opening, opening_source = stated.opening, "stated" if stated.opening is not None else "absent"
    if opening is None and amounts and balances and balances[0] is not None:
        opening, opening_source = balances[0] - amounts[0], "running_balance"
    closing = stated.closing
    if closing is None and balances and balances[-1] is not None:
        closing = balances[-1]
    elif closing is not None and balances and balances[-1] is not None \
            and balances[-1] != closing:
        breaks.append(f"last row's balance {balances[-1]} differs from the stated closing "
                      f"balance {closing}")
    running = opening
    for amount, balance, label in zip(amounts, balances, labels, strict=True):
        if running is not None:
            running += amount
        if balance is None:
            continue
        checked += 1
        if running is not None and running != balance:
            breaks.append(f"{label}: balance {balance} but the chain gives {running}")
        running = balance  # resynchronise so one break is reported once
    credits = sum((a for a in amounts if a > 0), ZERO)
    debits = -sum((a for a in amounts if a < 0), ZERO)
    if stated.total_credits is not None and stated.total_credits != credits:
        breaks.append(f"stated total credits {stated.total_credits} but rows sum to {credits}")
    if stated.total_debits is not None and stated.total_debits != debits:
        breaks.append(f"stated total debits {stated.total_debits} but rows sum to {debits}")
    if opening is not None and closing is not None:
        difference = opening + credits - debits - closing
        if difference != 0 and not any("chain gives" in b for b in breaks):
            breaks.append(f"opening {opening} + credits - debits misses the closing balance "
                          f"{closing} by {difference}")
        reconciles: bool | None = not breaks
    elif breaks:
        reconciles = False
    else:
        reconciles = None
    return Verdict(reconciles, opening, closing, opening_source, breaks, checked)


T = TypeVar("T")


@dataclass(frozen=True)
class Choice(Generic[T]):
    reading: T
    verdict: Verdict
    index: int  # position among the candidates (0: the preferred reading)


def choose(candidates: Sequence[tuple[T, Verdict]]) -> Choice[T]:
    """The first candidate whose chain holds; if none holds, the first (preferred) one.

    Candidates come in order of preference (the file's own reading and order first,
    re-signed or re-ordered variants after), so when nothing holds the reading reported,
    with its breaks, is the one the file itself suggests rather than a variant that
    happens to break a little less.
    """
    if not candidates:
        raise ValueError("no candidate readings")
    for index, (reading, verdict) in enumerate(candidates):
        if verdict.reconciles is True:
            return Choice(reading, verdict, index)
    return Choice(candidates[0][0], candidates[0][1], 0)
