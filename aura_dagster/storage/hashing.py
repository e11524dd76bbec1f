"""Stable hashes for execution dedup (seed 001, pattern 3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from aura_dagster.storage.database import _json_default


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def compute_payload_hash(processor_version: str, effective_config: Mapping[str, Any],
                         document_revision_ids: Iterable[str]) -> str:
    """What makes two executions interchangeable: same processor version, same effective
    config and the same document revisions (in any order)."""
    return hashlib.sha256(canonical_json({
        "processor_version": processor_version,
        "config": dict(effective_config),
        "document_revision_ids": sorted(document_revision_ids),
    }).encode()).hexdigest()


def compute_document_ids_hash(document_ids: Iterable[str]) -> str:
    return hashlib.sha256(canonical_json(sorted(document_ids)).encode()).hexdigest()
