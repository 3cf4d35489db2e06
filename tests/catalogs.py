"""Test support: the backends every store, search and API test runs against, and where a catalog lives."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

BACKENDS = ["sqlite", "postgres"]


class CatalogLocation(NamedTuple):
    """Where a test catalog lives: a directory, or a database URL plus its media directory."""

    backend: str
    location: str
    media: Path | None

    def cli_args(self) -> list[str]:
        """--catalog (and --media) for the command line."""
        return ["--catalog", self.location, *(["--media", str(self.media)] if self.media else [])]
