"""The operational store (SQLite embedded, PostgreSQL in production) as a resource."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from dagster import ConfigurableResource

from aura_dagster.domain.processors.base import BaseProcessor
from aura_dagster.storage import Database, Stores

_stores: dict[tuple[str, int], Stores] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def open_stores(url: str, *, migrate: bool = False,
                catalog: Mapping[str, type[BaseProcessor]] | None = None) -> Stores:
    """One pooled set of repositories per database (and catalog) per process."""
    key = (url, id(catalog) if catalog is not None else 0)
    with _lock:
        stores = _stores.get(key)
        if stores is None:
            stores = Stores(Database(url), catalog=catalog)
            _stores[key] = stores
        if migrate and url not in _migrated:
            stores.db.upgrade()
            _migrated.add(url)
        return stores


class StoreResource(ConfigurableResource):
    """`database_url` is a SQLAlchemy URL; `auto_migrate` applies migrations on first use
    (the embedded default does; production runs `python -m aura_dagster.storage upgrade`)."""

    database_url: str
    auto_migrate: bool = False

    def open(self, catalog: Mapping[str, type[BaseProcessor]] | None = None) -> Stores:
        return open_stores(self.database_url, migrate=self.auto_migrate, catalog=catalog)
