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
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from platemark import errors
from platemark.settings import Settings
from platemark.store.filters import UnknownFilterValue
from platemark.web.deps import LiveSearcher
from platemark.web.routes import media, records, search

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
    errors.CatalogNotFound: 503,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for one catalog. The catalog's indexes load once, when the app starts.

    Example:
        >>> app = create_app(Settings(catalog="./catalog"))
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _limit_threads(settings.search_threads)
        app.state.live_searcher = LiveSearcher(settings)
        app.state.search_slots = threading.BoundedSemaphore(settings.searches_per_worker)
        yield

    app = FastAPI(
        title="platemark",
        summary="Find the catalogue record of a print from a phone photo.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(search.router)
    app.include_router(records.router)
    app.include_router(media.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.exception_handler(errors.PlatemarkError)
    async def platemark_error(request: Request, exc: errors.PlatemarkError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": problems or "invalid request"}, status_code=422)

    @app.middleware("http")
    async def limit_and_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > settings.max_upload_bytes + 64_000:
            response: Response = JSONResponse(
                {"detail": f"the upload is larger than the limit of {settings.max_upload_mb:g} MB"}, status_code=413
            )
        else:
            response = await call_next(request)
        log.info(
            "%s %s %d %.0fms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and multi-worker serving: settings come from PLATEMARK_* variables."""
    return create_app(Settings())


def _limit_threads(threads: int) -> None:
    """Let one search use `threads` cores, so concurrent searches share the machine instead of fighting."""
    import cv2
    import faiss
    import torch

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    cv2.setNumThreads(threads)
