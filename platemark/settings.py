"""Settings of the web service, from PLATEMARK_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What `platemark serve` needs to know; every field can be set as PLATEMARK_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="PLATEMARK_", env_file=".env", extra="ignore")

    catalog: str = Field("catalog", description="Catalog to serve: a directory, or postgresql://user@host/database.")
    media: Path | None = Field(
        None, description="Images and index files of a PostgreSQL catalog (default: the directory it recorded)."
    )
    max_upload_mb: float = Field(20.0, gt=0, description="Largest photo upload accepted, in megabytes.")
    search_threads: int = Field(1, ge=1, description="CPU threads one search may use (per worker process).")
    searches_per_worker: int = Field(
        1, ge=1, description="Searches a worker process runs at once; more wait their turn, browsing never does."
    )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)
