"""The demo's tenants and underwritings, built on generated documents and sandbox businesses.

Two tenants: Acme Lending buys every processor; Birch Capital buys the bank statement
analysis and the two vendor lookups, with a short vendor deadline and no retries. Each
underwriting tells one story (clean file, adverse report, statement that does not
reconcile, vendor timeout, documents typed by the classifier).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura_dagster.sample_data import write_bank_statement_samples
from aura_dagster.sample_data.tax_documents import write_drivers_license_pdf, write_tax_return_pdf
from aura_dagster.services.seeding import (
    DocumentSpec,
    UnderwritingSpec,
    register_tenant,
    register_underwriting,
    underwriting_created_event,
)
from aura_dagster.storage import Stores

ACME = "org_acme_lending"
BIRCH = "org_birch_capital"

TENANT_PURCHASES: dict[str, dict[str, dict[str, Any] | None]] = {
    ACME: {"p_bank_statement": None, "p_secretary_of_state": None,
           "p_clear_business_report": None, "p_tax_return": None, "p_drivers_license": None},
    BIRCH: {"p_bank_statement": None,
            "p_secretary_of_state": {"timeout_seconds": 3, "max_attempts": 1},
            "p_clear_business_report": {"timeout_seconds": 3, "max_attempts": 1}},
}


@dataclass(frozen=True)
class DemoCase:
    spec: UnderwritingSpec
    story: str
    priority: str = "normal"

    @property
    def event(self) -> dict[str, Any]:
        return underwriting_created_event(self.spec, priority=self.priority)


def _write_identity_documents(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "tax_sunrise": write_tax_return_pdf(
            folder / "sunrise_1120s_2023.pdf", business_name="Sunrise Bakery LLC",
            tax_year=2023, form="1120-S", gross_receipts=612_400, net_income=88_150,
            cost_of_goods_sold=241_000),
        "tax_redwood": write_tax_return_pdf(
            folder / "redwood_1065_2023.pdf", business_name="Redwood Auto Repair LLC",
            tax_year=2023, form="1065", gross_receipts=1_204_900, net_income=41_300,
            cost_of_goods_sold=655_000),
        "dl_valid": write_drivers_license_pdf(
            folder / "dl_maria_lopez.pdf", name="Maria Elena Lopez", state="CA",
            license_number="D4829113", dob=dt.date(1984, 3, 9), issued=dt.date(2021, 6, 2),
            expires=dt.date(2029, 3, 9), sex="F"),
        "dl_expired": write_drivers_license_pdf(
            folder / "dl_james_chen.pdf", name="James Chen", state="CA",
            license_number="E1177302", dob=dt.date(1979, 11, 21), issued=dt.date(2017, 1, 5),
            expires=dt.date(2022, 11, 21)),
    }


def _docs(underwriting_id: str, *paths: tuple[Path, str | None]) -> tuple[DocumentSpec, ...]:
    return tuple(DocumentSpec(f"{underwriting_id}_doc_{n}", path, doc_type)
                 for n, (path, doc_type) in enumerate(paths, start=1))


def build_demo_cases(stores: Stores, documents_root: Path) -> list[DemoCase]:
    """Write the documents, register tenants and underwritings; returns the cases."""
    samples = {f.path.name: f.path
               for f in write_bank_statement_samples(documents_root / "statements")}
    ids = _write_identity_documents(documents_root / "identity")
    bank = "bank_statement"
    cases = [
        DemoCase(UnderwritingSpec(
            "uw_demo_1001", ACME, "Sunrise Bakery LLC", "CA", _docs(
                "uw_demo_1001",
                (samples["first_demo_bank_2024-01.pdf"], bank),
                (samples["first_demo_bank_2024-02.pdf"], bank),
                (samples["first_demo_bank_2024-03.pdf"], bank),
                (ids["tax_sunrise"], "tax_return"), (ids["dl_valid"], "drivers_license"))),
            "clean file, three PDF statements: auto-approved", priority="high"),
        DemoCase(UnderwritingSpec(
            "uw_demo_1002", ACME, "Redwood Auto Repair LLC", "CA", _docs(
                "uw_demo_1002",
                (samples["first_demo_bank_2024-01_to_2024-03.csv"], None),
                (samples["first_demo_bank_2024-01.ofx"], None),
                (ids["tax_redwood"], None), (ids["dl_expired"], None))),
            "adverse business report (active bankruptcy), expired license, documents typed "
            "by the classifier: declined by the lender rules, with their reasons"),
        DemoCase(UnderwritingSpec(
            "uw_demo_1003", ACME, "Golden Gate Dry Cleaners Inc", "CA", _docs(
                "uw_demo_1003",
                (samples["harbor_cu_2024-01.pdf"], bank),
                (samples["harbor_cu_2024-02.pdf"], bank),
                (samples["harbor_cu_2024-03.pdf"], bank))),
            "a statement that does not reconcile: parked for review, then approved"),
        DemoCase(UnderwritingSpec(
            "uw_demo_2001", BIRCH, "Harbor Freight Logistics Inc", "TX", _docs(
                "uw_demo_2001",
                (samples["harbor_cu_2024-01.csv"], bank),
                (samples["harbor_cu_2024-02.ofx"], bank))),
            "CSV and OFX 2.x exports, second tenant"),
        DemoCase(UnderwritingSpec(
            "uw_demo_2002", BIRCH, "Slowpoke Trading Co", "CA", _docs(
                "uw_demo_2002",
                (samples["first_demo_bank_2024-01_to_2024-03.csv"], bank))),
            "vendor APIs too slow: both lookups time out, the rest completes", priority="urgent"),
    ]
    for organization_id, purchases in TENANT_PURCHASES.items():
        register_tenant(stores, organization_id, purchases)
    for case in cases:
        register_underwriting(stores, case.spec, documents_root)
    return cases
