"""Where document bytes live: a local folder (embedded default, tests) or a GCS bucket."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource


class DocumentContentError(OSError):
    pass


class DocumentSourceResource(ConfigurableResource):
    """Fetches a document's content by its location.

    Locations: `gs://bucket/path` (Google Cloud Storage), `file:///abs/path`, or a path
    relative to `root`. Relative paths may not climb out of `root`.
    """

    root: str = "."

    def fetch(self, location: str) -> bytes:
        if location.startswith("gs://"):
            return self._fetch_gcs(location)
        path = Path(location.removeprefix("file://"))
        if not path.is_absolute():
            root = Path(self.root).resolve()
            path = (root / path).resolve()
            if not path.is_relative_to(root):
                raise DocumentContentError(f"{location!r} points outside the document root")
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise DocumentContentError(f"document content not found at {location!r}") from exc

    @staticmethod
    def _fetch_gcs(location: str) -> bytes:
        from google.cloud import storage  # installed with dagster-gcp

        bucket, _, name = location.removeprefix("gs://").partition("/")
        return storage.Client().bucket(bucket).blob(name).download_as_bytes()
