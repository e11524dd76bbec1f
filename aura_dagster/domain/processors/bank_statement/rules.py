"""What a transaction is: revenue or not, NSF / overdraft events, funder payments.

Every pattern comes from the processor config so a tenant can extend the lists;
the defaults here are the system layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aura_dagster.domain.processors.bank_statement.model import Transaction

DEFAULT_KNOWN_FUNDERS: tuple[str, ...] = (
    "OnDeck", "Kabbage", "Fundbox", "Credibly", "Rapid Finance", "Forward Financing",
    "CAN Capital", "Kapitus", "BlueVine", "Libertas Funding", "Yellowstone Capital",
    "Fora Financial", "National Funding", "Headway Capital", "Mulligan Funding",
    "Greenbox Capital", "Pearl Capital", "Everest Business Funding", "Reliant Funding",
    "IOU Financial",
)

# Card-processor and mobile-payment settlements: revenue even when the memo says TRANSFER.
DEFAULT_SETTLEMENT_PATTERNS: tuple[str, ...] = (
    r"\bSTRIPE\b", r"\bSQUARE\b", r"\bSQ \*", r"\bPAYPAL\b", r"\bSHOPIFY\b", r"\bCLOVER\b",
    r"\bMERCH(ANT)? (BNKCD|BANKCARD|DEP|SETTLE)", r"\bBANKCARD\b", r"\bAMEX\b.*\bSETTL",
    r"\bHEARTLAND\b", r"\bWORLDPAY\b", r"\bTOAST\b", r"\bVENMO\b", r"\bZELLE\b", r"\bCASH APP\b",
)

# Deposits that are not revenue, by category, checked in this order.
DEFAULT_REVENUE_EXCLUSIONS: dict[str, tuple[str, ...]] = {
    "tax_refund": (r"\bTAX REF", r"\bIRS TREAS", r"\bTREAS 310\b", r"\bTAX REFUND\b"),
    "loan_proceeds": (r"\bLOAN\b", r"\bPROCEEDS\b", r"\bCASH ADVANCE\b", r"\bADVANCE FUNDING\b",
                      r"\bSBA\b", r"\bFUNDING\b", r"\bLINE OF CREDIT\b"),
    "owner_contribution": (r"\bOWNER\b", r"\bCAPITAL CONTRIBUTION\b", r"\bSHAREHOLDER\b",
                           r"\bMEMBER CONTRIBUTION\b", r"\bPERSONAL FUNDS\b"),
    "own_account_transfer": (r"\bTRANSFER FROM\b", r"\bXFER FROM\b", r"\bONLINE TRANSFER\b",
                             r"\bINTERNAL TRANSFER\b", r"\bFROM (CHK|CHECKING|SAV|SAVINGS)\b",
                             r"\bOVERDRAFT PROTECTION\b"),
    "refund_reversal": (r"\bREFUND\b", r"\bREVERSAL\b", r"\bREVERSED\b", r"\bRETURNED ITEM\b",
                        r"\bCHARGEBACK\b", r"\bRETURN\b"),
}

# Fixed repeating debits that are not financing: payroll, rent, own-account sweeps, taxes.
DEFAULT_RECURRING_EXCLUSIONS: tuple[str, ...] = (
    r"\bPAYROLL\b", r"\bADP\b", r"\bGUSTO\b", r"\bPAYCHEX\b", r"\bRENT\b", r"\bLEASE\b",
    r"\bINSURANCE\b", r"\bTRANSFER TO\b", r"\bXFER TO\b", r"\bIRS\b", r"\bTAX\b",
)

DEFAULT_NSF_PATTERNS: tuple[str, ...] = (
    r"\bNSF\b", r"\bRETURNED (ITEM|CHECK)\b", r"\bINSUFFICIENT FUNDS\b",
)
DEFAULT_OVERDRAFT_PATTERNS: tuple[str, ...] = (
    r"\bOVERDRAFT (ITEM )?FEE\b", r"\bOD (ITEM )?FEE\b", r"\bOVERDRAFT ITEM\b", r"\bOD ITEM\b",
)
# A fee credited back is not an event.
_WAIVED = re.compile(r"\b(REVERSAL|REVERSED|REFUND|WAIVED|WAIVER)\b", re.IGNORECASE)
_FEE = re.compile(r"\bFEE\b", re.IGNORECASE)


def funder_pattern(name: str) -> re.Pattern[str]:
    """`OnDeck` matches ONDECK and ON DECK; `CAN Capital` matches CAN CAPITAL, CANCAPITAL."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|\d+", name)
    return re.compile(r"\b" + r"\s*".join(re.escape(w) for w in words) + r"\b", re.IGNORECASE)


def _compile(patterns: Any) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in patterns]


def _category_order(exclusions: Mapping[str, Any]) -> list[str]:
    """The default categories in their order, then a lender's own by name.

    Not the mapping's order: a config read back from PostgreSQL's JSONB has its keys in
    JSONB's order, and a deposit two categories match must land in the same one always."""
    defaults = [c for c in DEFAULT_REVENUE_EXCLUSIONS if c in exclusions]
    return defaults + sorted(c for c in exclusions if c not in DEFAULT_REVENUE_EXCLUSIONS)


@dataclass(frozen=True)
class Rules:
    funders: list[tuple[str, re.Pattern[str]]]
    settlements: list[re.Pattern[str]]
    exclusions: list[tuple[str, list[re.Pattern[str]]]]
    nsf: list[re.Pattern[str]]
    overdraft: list[re.Pattern[str]]
    recurring_exclusions: list[re.Pattern[str]]
    recurring_min_amount: Decimal
    recurring_min_daily: int
    recurring_min_weekly: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rules:
        exclusions = config.get("revenue_exclusion_patterns", DEFAULT_REVENUE_EXCLUSIONS)
        return cls(
            funders=[(name, funder_pattern(name))
                     for name in config.get("known_funders", DEFAULT_KNOWN_FUNDERS)],
            settlements=_compile(config.get("revenue_settlement_patterns",
                                            DEFAULT_SETTLEMENT_PATTERNS)),
            exclusions=[(category, _compile(exclusions[category]))
                        for category in _category_order(exclusions)],
            nsf=_compile(config.get("nsf_patterns", DEFAULT_NSF_PATTERNS)),
            overdraft=_compile(config.get("overdraft_patterns", DEFAULT_OVERDRAFT_PATTERNS)),
            recurring_exclusions=_compile(config.get("recurring_exclusion_patterns",
                                                     DEFAULT_RECURRING_EXCLUSIONS)),
            recurring_min_amount=Decimal(str(config.get("recurring_min_amount", "25.00"))),
            recurring_min_daily=int(config.get("recurring_min_daily_occurrences", 5)),
            recurring_min_weekly=int(config.get("recurring_min_weekly_occurrences", 4)),
        )

    def funder(self, description: str) -> str | None:
        return next((name for name, pattern in self.funders if pattern.search(description)), None)

    def recurring_candidate(self, txn: Transaction) -> bool:
        """A debit that may belong to an unnamed financing series."""
        return (txn.amount < 0 and -txn.amount >= self.recurring_min_amount
                and not any(p.search(txn.description) for p in self.recurring_exclusions))

    def deposit_category(self, txn: Transaction) -> str:
        """`card_mobile_settlement` and `other_deposit` are revenue; the rest are exclusions.

        Order matters: a returned payment to a funder is a reversal, money in from a
        funder is an advance, and a card settlement stays revenue whatever its memo.
        """
        text = txn.description
        exclusions = dict(self.exclusions)
        for category in _FIRST_EXCLUSIONS:
            if any(p.search(text) for p in exclusions.get(category, ())):
                return category
        if self.funder(text):
            return "loan_proceeds"
        if any(p.search(text) for p in self.settlements):
            return "card_mobile_settlement"
        for category, patterns in self.exclusions:
            if category not in _FIRST_EXCLUSIONS and any(p.search(text) for p in patterns):
                return category
        return "other_deposit"

    def is_revenue(self, txn: Transaction) -> bool:
        return txn.amount > 0 and self.deposit_category(txn) in REVENUE_CATEGORIES

    def event_line(self, txn: Transaction) -> tuple[str, bool] | None:
        """('nsf' | 'overdraft', is_fee_line) for a line that signals an event, else None."""
        text = txn.description
        for kind, patterns in (("nsf", self.nsf), ("overdraft", self.overdraft)):
            if any(p.search(text) for p in patterns):
                is_fee = bool(_FEE.search(text))
                if is_fee and (txn.amount > 0 or _WAIVED.search(text)):
                    return None  # a fee refunded, not an event
                return kind, is_fee
        return None


_FIRST_EXCLUSIONS = ("tax_refund", "refund_reversal")
REVENUE_CATEGORIES = frozenset({"card_mobile_settlement", "other_deposit"})
