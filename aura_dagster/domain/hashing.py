"""Payload hashes: the identity of a processor's work, used to reuse completed executions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from aura_dagster.domain.money import canonical_json


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def execution_payload(*, processor_id: str, processor_version: str,
                      effective_config: Mapping[str, Any],
                      document_revision_ids: Iterable[str],
                      business: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What an execution depends on. Same payload, same result: it can be reused."""
    return {
        "processor": processor_id,
        "version": processor_version,
        "config": dict(effective_config),
        # Order of documents does not change a result; their revisions do.
        "document_revision_ids": sorted(document_revision_ids),
        "business": dict(business or {}),
    }


def payload_hash(payload: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json(payload))


def document_ids_hash(document_ids: Iterable[str]) -> str:
    return sha256_hex(canonical_json(sorted(document_ids)))
