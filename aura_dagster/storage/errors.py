"""Errors the storage layer raises on purpose (the caller can act on each)."""

from __future__ import annotations

from collections.abc import Sequence


class StorageError(Exception):
    """Base class of the storage layer's own errors."""


class NotFoundError(StorageError, LookupError):
    """A row the caller named does not exist (or belongs to another organization)."""


class TenantMismatchError(StorageError):
    """A write names an organization that does not own the row it touches."""


class IllegalStatusTransitionError(StorageError, ValueError):
    """An execution status may only move forward: pending -> running -> a final status."""

    def __init__(self, execution_id: str, current: str, requested: str) -> None:
        super().__init__(
            f"execution {execution_id}: status cannot move from {current!r} to {requested!r}"
        )
        self.execution_id = execution_id
        self.current = current
        self.requested = requested


class UnknownDocumentError(StorageError, LookupError):
    """Documents requested for an underwriting are not stored for it."""

    def __init__(self, underwriting_id: str | None, missing: Sequence[str]) -> None:
        where = f"underwriting {underwriting_id}: " if underwriting_id else ""
        super().__init__(f"{where}unknown document id(s): {', '.join(missing)}")
        self.underwriting_id = underwriting_id
        self.missing = list(missing)


class DuplicateRequestError(StorageError):
    """A request id is already being processed (seed 002: PROCESSING rejects duplicates)."""

    def __init__(self, request_id: str, status: str) -> None:
        super().__init__(f"request {request_id!r} is already {status}")
        self.request_id = request_id
        self.status = status


class RequestHashMismatchError(StorageError, ValueError):
    """A request id was reused with a different request body."""
