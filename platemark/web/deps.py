"""Dependencies of the routes, declared once as Annotated aliases."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from platemark.errors import CuratorOnly
from platemark.search.engine import Searcher
from platemark.search.saved import Retention, SavedSearches
from platemark.settings import Settings
from platemark.store import Catalog, open_catalog


class LiveSearcher:
    """Holds the worker's Searcher and brings it up to date after an ingest changed the catalog.

    `refresh` runs on the worker's maintenance thread, so searches and the event loop do not wait for
    what an ingest changed to be read.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._searcher = Searcher(open_catalog(settings.catalog, media=settings.media), threads=settings.search_threads)
        self._generation = self._searcher.catalog.generation
        #: Servers the page may load record images from (IIIF deep zoom).
        self.image_origins = self._searcher.catalog.image_origins()

    def get(self) -> Searcher:
        return self._searcher

    def refresh(self) -> None:
        """Bring the Searcher up to date if the catalog changed since it last was: it catches up in place
        (a new Searcher would read the whole global index again, seconds and a second copy in memory
        at 500,000 records, every RELOAD_CHECK_SECONDS while an ingest runs)."""
        generation = self._searcher.catalog.generation
        if generation != self._generation:
            self._searcher.refresh()
            self._generation = generation
            self.image_origins = self._searcher.catalog.image_origins()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_searcher(request: Request) -> Searcher:
    return request.app.state.live_searcher.get()


def get_catalog(searcher: Annotated[Searcher, Depends(get_searcher)]) -> Catalog:
    return searcher.catalog


def retention(settings: Settings) -> Retention:
    return Retention(
        photo_hours=settings.query_photo_hours,
        shared_days=settings.shared_search_days,
        feedback_days=settings.feedback_days,
        max_bytes=int(settings.saved_searches_max_mb * 1_000_000),
    )


def get_saved_searches(
    catalog: Annotated[Catalog, Depends(get_catalog)], settings: Annotated[Settings, Depends(get_settings)]
) -> SavedSearches:
    return SavedSearches(catalog, retention(settings))


def require_curator(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))],
) -> None:
    """Let through only requests with the curator password (PLATEMARK_CURATOR_TOKEN) as a Bearer token."""
    if settings.curator_token is None:
        raise CuratorOnly("the curator view is off: set PLATEMARK_CURATOR_TOKEN on the server to turn it on")
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), settings.curator_token.get_secret_value().encode()):
        raise CuratorOnly("wrong or missing curator password")


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SavedSearchesDep = Annotated[SavedSearches, Depends(get_saved_searches)]
