"""A loopback sandbox for the external business-data vendors (OpenCorporates, Clear)."""

from aura_dagster.sandbox.businesses import (
    SANDBOX_BUSINESSES,
    Behaviour,
    SandboxBusiness,
    business_named,
)
from aura_dagster.sandbox.server import (
    CLEAR_REPORT_PATH,
    OPENCORPORATES_SEARCH_PATH,
    SandboxServer,
)

__all__ = [
    "CLEAR_REPORT_PATH",
    "OPENCORPORATES_SEARCH_PATH",
    "SANDBOX_BUSINESSES",
    "Behaviour",
    "SandboxBusiness",
    "SandboxServer",
    "business_named",
]
