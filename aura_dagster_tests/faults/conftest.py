"""A whole engine on one machine for fault injection: the local stack (its own Pub/Sub
emulator and sandbox vendors, a DAGSTER_HOME with the repo's dagster.yaml, a real
dagster-daemon) with the store and warehouse on this module's own PostgreSQL database,
so its backends can be terminated without touching any other test's."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from aura_dagster.commands.local_stack import LocalStack
from aura_dagster.sample_data import write_bank_statement_samples
from aura_dagster.sample_data.tax_documents import write_tax_return_pdf
from aura_dagster.services.seeding import (
    DocumentSpec,
    UnderwritingSpec,
    register_tenant,
    register_underwriting,
    underwriting_created_event,
)
from aura_dagster_tests.conftest import PostgresDatabases

# One vendor API call (an op concurrency pool), a PDF statement and a tax return.
PURCHASES = {"p_bank_statement": None, "p_tax_return": None, "p_secretary_of_state": None}
_INHERITED = ("AURA_", "PUBSUB_", "DAGSTER_HOME")


@dataclass
class FaultStack:
    local: LocalStack
    stores: Any
    instance: DagsterInstance
    database_url: str
    tenants: tuple[str, ...]
    documents: list[tuple[Path, str]]
    _count: int = field(default=0)

    def underwritings(self, n: int) -> list[UnderwritingSpec]:
        specs = []
        for _ in range(n):
            self._count += 1
            uid = f"uw_fault_{uuid.uuid4().hex[:8]}"
            org = self.tenants[self._count % len(self.tenants)]
            spec = UnderwritingSpec(uid, org, "Sunrise Bakery LLC", "CA", tuple(
                DocumentSpec(f"{uid}_doc_{i}", path, doc_type)
                for i, (path, doc_type) in enumerate(self.documents, start=1)))
            register_underwriting(self.stores, spec, self.local.data_dir / "documents")
            specs.append(spec)
        return specs

    def publish(self, specs: list[UnderwritingSpec]) -> None:
        for spec in specs:
            self.local.publish_created(underwriting_created_event(spec))


@contextmanager
def stack_environment() -> Iterator[None]:
    """The stack's processes inherit this environment: drop what other fixtures exported
    (the engine fixture's topics, database, documents root) while it runs."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(_INHERITED)}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="module")
def fault_stack(postgres_databases: PostgresDatabases,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    url = postgres_databases.create("aura_faults")
    with stack_environment():
        data = tmp_path_factory.mktemp("faults") / "data"
        with LocalStack(data, listener=f"faults-listener-{uuid.uuid4().hex[:8]}",
                        database_url=url) as local:
            stores = local.open_stores()
            docs = local.data_dir / "documents"
            statements = {f.path.name: f.path
                          for f in write_bank_statement_samples(docs / "statements")}
            tax = write_tax_return_pdf(docs / "tax_return.pdf",
                                       business_name="Sunrise Bakery LLC", tax_year=2023,
                                       form="1120-S", gross_receipts=612_400,
                                       net_income=88_150)
            tenants = tuple(f"org_fault_{i}" for i in range(3))
            for org in tenants:
                register_tenant(stores, org, PURCHASES)
            local.start_dagster()
            with DagsterInstance.from_config(str(local.home)) as instance:
                # Three months of statements, as lenders ask for: fewer parks the case
                # under the default lender rules (short_history).
                yield FaultStack(local, stores, instance, url, tenants, [
                    *((statements[f"first_demo_bank_2024-0{m}.pdf"], "bank_statement")
                      for m in (1, 2, 3)),
                    (tax, "tax_return")])
