"""The code-managed processor catalog (seed 001, system level)."""

from __future__ import annotations

from aura_dagster.domain.processors.bank_statement import BankStatementProcessor
from aura_dagster.domain.processors.base import BaseProcessor
from aura_dagster.domain.processors.business_report import ClearBusinessReportProcessor
from aura_dagster.domain.processors.drivers_license import DriversLicenseProcessor
from aura_dagster.domain.processors.secretary_of_state import SecretaryOfStateProcessor
from aura_dagster.domain.processors.tax_return import TaxReturnProcessor

PROCESSOR_CLASSES: tuple[type[BaseProcessor], ...] = (
    BankStatementProcessor,
    SecretaryOfStateProcessor,
    ClearBusinessReportProcessor,
    TaxReturnProcessor,
    DriversLicenseProcessor,
)

CATALOG: dict[str, type[BaseProcessor]] = {cls.PROCESSOR_ID: cls for cls in PROCESSOR_CLASSES}


class UnknownProcessorError(KeyError):
    pass


def processor_class(processor_id: str) -> type[BaseProcessor]:
    try:
        return CATALOG[processor_id]
    except KeyError:
        raise UnknownProcessorError(f"unknown processor {processor_id!r}") from None


def catalog_entries() -> list[dict[str, object]]:
    """The catalog as rows: id, name, version, default config, document types."""
    return [
        {
            "processor": cls.PROCESSOR_ID,
            "name": cls.NAME,
            "version": cls.VERSION,
            "config": dict(cls.CONFIG),
            "document_types": sorted(cls.REQUIRED_DOCUMENT_TYPES),
            "api_pool": cls.API_POOL,
        }
        for cls in PROCESSOR_CLASSES
    ]
