"""create_app(settings): the FastAPI application serving the REST API and the web app."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from platemark import errors
from platemark.search.duplicates import DuplicatesListing
from platemark.search.saved import SavedSearches
from platemark.settings import Settings
from platemark.store.filters import UnknownFilterValue
from platemark.web.admission import RateLimiter, SearchAdmission, ShedBeforeReading
from platemark.web.deps import LiveSearcher, retention
from platemark.web.guard import RequestLimits, SecurityHeaders
from platemark.web.routes import curator, duplicates, media, records, search

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("platemark.web")

#: HTTP status for each library error; anything else a PlatemarkError is 400.
STATUS = {
    errors.UnreadableImage: 400,
    errors.InvalidQuery: 400,
    errors.UploadTooLarge: 413,
    UnknownFilterValue: 422,
    errors.RecordNotFound: 404,
    errors.SearchNotFound: 404,
    errors.CuratorOnly: 401,
    errors.CatalogNotFound: 503,
    errors.RateLimited: 429,
    errors.Overloaded: 503,
    errors.StorageFull: 507,
}

#: The web app's pages: search by photo, browse, many photos, and the curator view.
PAGES = {
    "/": "index.html",
    "/browse": "browse.html",
    "/batch": "batch.html",
    "/curator": "curator.html",
    "/duplicates": "duplicates.html",
}

#: Multipart framing and the form fields around the photo.
FORM_OVERHEAD_BYTES = 64_000


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for one catalog. The catalog's indexes load once, when the app starts.

    Example:
        >>> app = create_app(Settings(catalog="./catalog"))
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.live_searcher = LiveSearcher(settings)
        app.state.admission = SearchAdmission(
            running=settings.searches_per_worker,
            queued=settings.search_queue,
            wait_seconds=settings.search_wait_seconds,
        )
        app.state.rate_limiter = RateLimiter(per_minute=settings.searches_per_minute, burst=settings.search_burst)
        stop = threading.Event()
        threading.Thread(target=_maintain, args=(app, stop), name="maintenance", daemon=True).start()
        yield
        stop.set()

    app = FastAPI(
        title="platemark",
        summary="Find the catalogue record of a print from a phone photo.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.duplicates_listing = DuplicatesListing()
    app.include_router(search.router)
    app.include_router(records.router)
    app.include_router(media.router)
    app.include_router(curator.router)
    app.include_router(duplicates.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    for path, page in PAGES.items():
        app.add_api_route(path, _page(page), methods=["GET"], include_in_schema=False)

    @app.exception_handler(errors.PlatemarkError)
    async def platemark_error(request: Request, exc: errors.PlatemarkError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, errors.Overloaded) else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": problems or "invalid request"}, status_code=422)

    @app.middleware("http")
    async def log_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        log.info(
            "%s %s %d %.0fms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    # Outermost last: limits and the cross-site check act before anything reads the request.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"], max_age=600
        )
    app.add_middleware(
        RequestLimits,
        max_bytes=settings.max_upload_bytes,
        overhead=FORM_OVERHEAD_BYTES,
        body_timeout=settings.body_timeout_seconds,
    )
    app.add_middleware(ShedBeforeReading)
    app.add_middleware(
        SecurityHeaders,
        allowed_origins=tuple(settings.cors_origins),
        image_origins=lambda: live.image_origins if (live := getattr(app.state, "live_searcher", None)) else (),
    )
    return app


def _page(name: str) -> Callable[[], FileResponse]:
    def page() -> FileResponse:
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return page


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and multi-worker serving: settings come from PLATEMARK_* variables."""
    return create_app(Settings())


#: How often (seconds) a worker checks whether an ingest changed the catalog.
RELOAD_CHECK_SECONDS = 10.0


def _maintain(app: FastAPI, stop: threading.Event) -> None:
    """The worker's maintenance thread, until the app stops: every RELOAD_CHECK_SECONDS it swaps in
    new indexes after an ingest, and every `cleanup_minutes` it deletes expired saved searches."""
    settings: Settings = app.state.settings
    next_cleanup = 0.0
    while True:
        try:
            app.state.live_searcher.refresh()
        except Exception:  # the old indexes keep answering; the next check retries
            log.exception("reloading the catalog failed")
        if time.monotonic() >= next_cleanup:
            next_cleanup = time.monotonic() + settings.cleanup_minutes * 60
            try:
                catalog = app.state.live_searcher.get().catalog
                if deleted := SavedSearches(catalog, retention(settings)).clean():
                    log.info("deleted %d expired saved search photo(s)", deleted)
            except Exception:  # a failed cleanup must not end the loop; the next one retries
                log.exception("cleaning saved searches failed")
        if stop.wait(RELOAD_CHECK_SECONDS):
            return
