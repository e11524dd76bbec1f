"""Which organizations the engine knows: the one rule every command and the intake share."""

from __future__ import annotations

from aura_dagster.storage import Stores


def known_organization(stores: Stores, organization_id: str) -> bool:
    """An organization is known once it bought a processor or has an underwriting."""
    return bool(stores.processors.get_purchased_processors_by_organization(organization_id)
                or stores.underwritings.list_underwritings(organization_id, limit=1))
