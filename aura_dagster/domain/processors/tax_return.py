"""Business tax returns (Form 1120, 1120-S, 1065 and Schedule C) read from their text layer.

Per return: form, tax year, gross receipts (line 1a / Schedule C line 1), total
income, net income (1120-S and 1065: ordinary business income; 1120: taxable income
before NOL and special deductions; Schedule C: net profit), business name and the
EIN, kept masked. With several returns the most recent year gives the factors and
the year before it (or the nearest earlier year) the growth of gross receipts.

A document whose form cannot be recognised fails with TAX_FORM_UNRECOGNIZED, one
missing a required line with TAX_RETURN_INCOMPLETE; when other returns of the
case can be read, the unreadable ones are reported in the output and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from aura_dagster.domain.documents.model import Document, DocumentType
from aura_dagster.domain.factors import FactorSpec, factor
from aura_dagster.domain.money import to_cents
from aura_dagster.domain.processors.base import (
    BaseProcessor,
    ExecutionContext,
    PermanentProcessorError,
    ProcessOutcome,
)
from aura_dagster.domain.processors.secretary_of_state import split_business_name
from aura_dagster.domain.processors.text_documents import parse_each_document

RATIO = Decimal("0.0001")


@dataclass(frozen=True)
class FormSpec:
    form: str
    entity_type: str
    cues: tuple[str, ...]  # regexes; any one identifies the form
    total_income_caption: str  # regex of the caption, at the start of the line after its number
    net_income_caption: str


# Order matters: "Form 1120-S" must be tried before "Form 1120".
FORM_SPECS: tuple[FormSpec, ...] = (
    FormSpec("1120-S", "s_corporation",
             (r"\bForm\s+1120[-\s]?S\b", r"Income Tax Return for an S Corporation"),
             r"Total income \(loss\)", r"Ordinary business income \(loss\)"),
    FormSpec("1065", "partnership",
             (r"\bForm\s+1065\b", r"Return of Partnership Income"),
             r"Total income \(loss\)", r"Ordinary business income \(loss\)"),
    FormSpec("Schedule C", "sole_proprietorship",
             (r"\bSCHEDULE\s+C\b", r"Profit or Loss From Business"),
             r"Gross income", r"Net profit or \(loss\)"),
    FormSpec("1120", "c_corporation",
             (r"\bForm\s+1120(?![-\s]?S\b)\b", r"U\.S\. Corporation Income Tax Return"),
             r"Total income", r"Taxable income before net operating loss"),
)

# An amount at the end of a line: needs cents, a thousands separator or a dot leader
# before it, so "Add lines 3 through 5" with the amount missing does not read as $5.
_AMOUNT_AT_END = re.compile(
    r"(?:(?<=\s)|^)(?P<neg>-)?(?P<open>\()?\$?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?"
    r"|\d+\.\d{1,2}|(?<=\.\s)\d+|(?<=\.\.)\d+)(?P<close>\))?\.?\s*$")
_YEAR_PATTERNS = (re.compile(r"\bTax\s+year[:\s]+(\d{4})\b", re.IGNORECASE),
                  re.compile(r"\bcalendar\s+year\s+(\d{4})\b", re.IGNORECASE))
_NAME_PATTERNS = (re.compile(r"^\s*Business name[:.\s]+(\S.*?)\s*$", re.IGNORECASE | re.MULTILINE),
                  re.compile(r"^\s*Name[:\s]+(\S.*?)\s*$", re.IGNORECASE | re.MULTILINE))
_EIN_PATTERN = re.compile(
    r"(?:Employer identification number|Employer ID number|\bEIN\b)[^\n\d]*(\d{2})-?(\d{7})\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class TaxReturnData:
    document_id: str
    form: str
    entity_type: str
    tax_year: int
    gross_receipts: Decimal
    total_income: Decimal | None
    net_income: Decimal
    business_name: str | None
    ein_masked: str | None

    @classmethod
    def from_output(cls, row: Mapping[str, Any]) -> TaxReturnData:
        """Back from a stored (JSON) output, amounts as Decimal again."""
        def money(value: Any) -> Decimal | None:
            return None if value is None else to_cents(str(value))
        return cls(row["document_id"], row["form"], row["entity_type"], int(row["tax_year"]),
                   money(row["gross_receipts"]) or Decimal("0"), money(row.get("total_income")),
                   money(row["net_income"]) or Decimal("0"), row.get("business_name"),
                   row.get("ein_masked"))


def parse_amount(line: str) -> Decimal | None:
    match = _AMOUNT_AT_END.search(line)
    if not match:
        return None
    value = to_cents(match.group("num").replace(",", ""))
    negative = match.group("neg") or (match.group("open") and match.group("close"))
    return -value if negative else value


def line_amount(text: str, caption: str) -> Decimal | None:
    """The amount on the first line whose caption (after an optional line number) matches."""
    pattern = re.compile(rf"^\s*(?:\d{{1,2}}[a-c]?\s+)?{caption}.*$", re.IGNORECASE | re.MULTILINE)
    for match in pattern.finditer(text):
        amount = parse_amount(match.group(0))
        if amount is not None:
            return amount
    return None


def detect_form(text: str) -> FormSpec | None:
    for spec in FORM_SPECS:
        if any(re.search(cue, text, re.IGNORECASE) for cue in spec.cues):
            return spec
    return None


def mask_ein(ein: str) -> str:
    """Keep the last four digits only: enough to compare, not enough to misuse."""
    return f"XX-XXX{ein[-4:]}"


def parse_tax_return(text: str | None, document_id: str = "") -> TaxReturnData:
    """Read one return; PermanentProcessorError with a stable code when it cannot."""
    if not text or not text.strip():
        raise PermanentProcessorError("TAX_RETURN_NO_TEXT",
                                      f"{document_id}: the document has no text to read")
    spec = detect_form(text)
    if spec is None:
        raise PermanentProcessorError(
            "TAX_FORM_UNRECOGNIZED",
            f"{document_id}: not a Form 1120, 1120-S, 1065 or Schedule C")
    year = next((int(m.group(1)) for p in _YEAR_PATTERNS if (m := p.search(text))), None)
    gross = line_amount(text, r"Gross receipts or sales")
    total_income = line_amount(text, spec.total_income_caption)
    net = line_amount(text, spec.net_income_caption)
    missing = [name for name, value in (("tax year", year), ("gross receipts", gross),
                                        ("net income", net)) if value is None]
    if missing:
        raise PermanentProcessorError(
            "TAX_RETURN_INCOMPLETE",
            f"{document_id}: Form {spec.form} without {', '.join(missing)}")
    assert year is not None and gross is not None and net is not None
    name = next((m.group(1) for p in _NAME_PATTERNS if (m := p.search(text))), None)
    ein = _EIN_PATTERN.search(text)
    return TaxReturnData(document_id, spec.form, spec.entity_type, year, gross, total_income, net,
                         name, mask_ein(ein.group(2)) if ein else None)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator == 0:
        return None
    return (numerator / denominator).quantize(RATIO, rounding=ROUND_HALF_UP)


def factors_for(returns: Sequence[TaxReturnData]) -> dict[str, Any]:
    """Factors of the most recent year (a later document wins a tie), growth vs the prior one."""
    by_year: dict[int, TaxReturnData] = {}
    for tax_return in returns:
        by_year[tax_return.tax_year] = tax_return
    years = sorted(by_year)
    latest = by_year[years[-1]]
    factors: dict[str, Any] = {
        "tax_year": latest.tax_year,
        "tax_form": latest.form,
        "tax_entity_type": latest.entity_type,
        "tax_business_name": latest.business_name,
        "tax_ein_masked": latest.ein_masked,
        "tax_gross_receipts": latest.gross_receipts,
        "tax_total_income": latest.total_income,
        "tax_net_income": latest.net_income,
        "tax_profit_margin": _ratio(latest.net_income, latest.gross_receipts),
        "tax_return_count": len(years),
        "tax_years": years,
    }
    if len(years) > 1:
        prior = by_year[years[-2]]
        factors |= {
            "tax_prior_year": prior.tax_year,
            "tax_prior_gross_receipts": prior.gross_receipts,
            "tax_gross_receipts_growth": _ratio(latest.gross_receipts - prior.gross_receipts,
                                                prior.gross_receipts),
        }
    return factors


class TaxReturnProcessor(BaseProcessor):
    PROCESSOR_ID: ClassVar[str] = "p_tax_return"
    VERSION: ClassVar[str] = "1.0.0"
    NAME: ClassVar[str] = "Business tax return"
    REQUIRED_DOCUMENT_TYPES: ClassVar[frozenset[DocumentType]] = frozenset(
        {DocumentType.TAX_RETURN})
    CONFIG: ClassVar[dict[str, Any]] = {"timeout_seconds": 30.0, "cost_cents": 0}
    FACTORS: ClassVar[tuple[FactorSpec, ...]] = (
        factor("tax_year", "integer", "Tax year of the most recent return."),
        factor("tax_form", "string", "Form of that return (1120, 1120-S, 1065, Schedule C)."),
        factor("tax_entity_type", "string", "Entity type the form implies."),
        factor("tax_business_name", "string", "Business name printed on the return."),
        factor("tax_ein_masked", "string", "Employer identification number, masked."),
        factor("tax_gross_receipts", "number", "Gross receipts (line 1a / Schedule C line 1).",
               "USD"),
        factor("tax_total_income", "number", "Total income.", "USD"),
        factor("tax_net_income", "number",
               "Ordinary business income, taxable income or net profit, by form.", "USD"),
        factor("tax_profit_margin", "number", "Net income divided by gross receipts.", "ratio"),
        factor("tax_return_count", "integer", "Distinct tax years read.", "count"),
        factor("tax_years", "list", "Tax years read, ascending."),
        factor("tax_prior_year", "integer", "The year before the latest one read, if any."),
        factor("tax_prior_gross_receipts", "number", "Gross receipts of the prior year.", "USD"),
        factor("tax_gross_receipts_growth", "number",
               "Growth of gross receipts over the prior year.", "ratio"),
        factor("tax_name_matches_business", "boolean",
               "The name on the return matches the underwriting's business name."),
    )

    def process(self, ctx: ExecutionContext, documents: Sequence[Document]) -> ProcessOutcome:
        returns, unreadable = parse_each_document(
            ctx, documents, parse_tax_return, none_readable_code="TAX_RETURN_NO_TEXT",
            none_readable_message="no readable tax return among the documents")
        factors = factors_for(returns)
        factors |= self._name_match(ctx, factors.get("tax_business_name"))
        ctx.trace("consolidate", f"tax year {factors['tax_year']}",
                  f"{len(returns)} return(s), {len(unreadable)} unreadable",
                  output_data={"years": factors["tax_years"]})
        for tax_return in returns:
            ctx.add_evidence("tax_return_lines", asdict(tax_return), source=tax_return.document_id)
        return ProcessOutcome(
            output={"returns": [asdict(r) for r in returns], "unreadable": unreadable},
            factors=factors)

    @staticmethod
    def _name_match(ctx: ExecutionContext, name_on_return: str | None) -> dict[str, Any]:
        wanted = ctx.underwriting.business_name
        if not wanted or not name_on_return:
            return {}
        same = split_business_name(wanted)[0] == split_business_name(name_on_return)[0]
        return {"tax_name_matches_business": same}

    @classmethod
    def consolidate(cls, outputs: Sequence[Mapping[str, Any]],
                    config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Several executions (one per upload): pool their returns, recompute from all years."""
        returns = [TaxReturnData.from_output(row) for output in outputs
                   for row in output.get("returns", [])]
        if not returns:
            return super().consolidate(outputs, config)
        factors = factors_for(returns)
        for output in reversed(outputs):  # the name check of the latest execution that made one
            if "tax_name_matches_business" in output.get("factors", {}):
                factors["tax_name_matches_business"] = output["factors"][
                    "tax_name_matches_business"]
                break
        return factors
