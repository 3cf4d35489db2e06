"""Settings of the web service, from PLATEMARK_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
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
    search_queue: int = Field(
        4, ge=0, description="Searches that may wait for a free slot per worker; more are refused with 503."
    )
    search_wait_seconds: float = Field(
        10.0, gt=0, description="Longest a search waits for a slot before it is refused with 503 + Retry-After."
    )
    searches_per_minute: float = Field(
        60.0, ge=0, description="Searches one client address may start per minute and worker (0: no limit); 429."
    )
    search_burst: int = Field(20, ge=1, description="Searches a client may start at once before the rate applies.")
    query_photo_hours: float = Field(
        24.0, gt=0, description="How long a search's photo and results are kept (the link to it works that long)."
    )
    shared_search_days: float = Field(
        30.0, gt=0, description="How long a search is kept once its share link was copied."
    )
    feedback_days: float = Field(
        90.0,
        gt=0,
        description="How long a search is kept once the visitor said whether a result is right: "
        "its photo and answer are ground truth for `platemark feedback export`.",
    )
    curator_token: SecretStr | None = Field(
        None,
        description="Password of the curator view (recent searches and their feedback, with visitors' photos); "
        "the view is off without one.",
    )
    saved_searches_max_mb: float = Field(
        2000.0, gt=0, description="Disk quota for saved query photos; when full, searches are refused with 507."
    )
    cleanup_minutes: float = Field(10.0, gt=0, description="How often each worker deletes expired searches.")
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="A connection must send a request's headers within this time, or it is closed."
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest pause allowed while an upload is received; then 408."
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Other sites' origins (https://host) whose pages may call the API; none by default.",
    )

    iiif_viewer: str = Field(
        "",
        description="A IIIF viewer that opens a Content State, with {content_state} where it goes, e.g. "
        "https://viewer.museum.example/?iiif-content={content_state}: results then link to the match in it.",
    )

    @field_validator("iiif_viewer")
    @classmethod
    def _viewer_is_a_link_template(cls, value: str) -> str:
        if value and (not value.startswith(("https://", "http://")) or "{content_state}" not in value):
            raise ValueError("must be an http(s) URL containing {content_state}")
        return value

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)
