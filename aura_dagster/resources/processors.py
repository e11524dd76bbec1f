"""The processor catalog as a resource: builds processors with their vendor settings."""

from __future__ import annotations

from collections.abc import Mapping

from dagster import ConfigurableResource

from aura_dagster.domain.processors.base import BaseProcessor
from aura_dagster.domain.processors.registry import CATALOG
from aura_dagster.domain.processors.unavailable import UnavailableProcessor
from aura_dagster.domain.processors.vendor_http import VendorSettings

LOCAL_POOL = "local"  # processors that call no external API share no pool


def catalog_pools(catalog: Mapping[str, type[BaseProcessor]] = CATALOG) -> tuple[str, ...]:
    """The op groups of the fan-out: local first, then one per external API."""
    return (LOCAL_POOL, *sorted({c.API_POOL for c in catalog.values() if c.API_POOL}))


class ProcessorsResource(ConfigurableResource):
    """Vendor endpoints and keys; one place turns a processor id into a ready processor."""

    opencorporates_base_url: str = "http://127.0.0.1:8787"
    opencorporates_api_key: str | None = None
    clear_base_url: str = "http://127.0.0.1:8787"
    clear_api_key: str | None = None
    request_timeout_seconds: float = 10.0

    def catalog(self) -> Mapping[str, type[BaseProcessor]]:
        return CATALOG

    def lookup(self, processor_id: str) -> type[BaseProcessor] | None:
        return self.catalog().get(processor_id)

    def pool_of(self, processor_id: str) -> str:
        cls = self.lookup(processor_id)
        return (cls.API_POOL if cls is not None else None) or LOCAL_POOL

    def vendor_settings(self, pool: str) -> VendorSettings:
        base_url, api_key = {
            "opencorporates": (self.opencorporates_base_url, self.opencorporates_api_key),
            "clear": (self.clear_base_url, self.clear_api_key),
        }[pool]
        return VendorSettings(base_url=base_url, api_key=api_key or None,
                              request_timeout_seconds=self.request_timeout_seconds)

    def build(self, processor_id: str) -> BaseProcessor:
        cls = self.lookup(processor_id)
        if cls is None:
            return UnavailableProcessor(processor_id)
        if cls.API_POOL:
            return cls(settings=self.vendor_settings(cls.API_POOL))  # type: ignore[call-arg]
        return cls()
