"""Record images and thumbnails (content-addressed, so cached forever), and the health check."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from platemark.errors import RecordNotFound
from platemark.web.deps import CatalogDep, SearcherDep
from platemark.web.schemas import ErrorPublic, Health

router = APIRouter(tags=["media"])

#: Only file names the catalog itself writes: a sha256 and .jpg. Nothing else reaches the disk.
IMAGE_NAME = Path(pattern=r"^[0-9a-f]{64}\.jpg$", description="sha256 of the source image + .jpg")
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


def _serve(folder: FilePath, name: str) -> FileResponse:
    path = folder / name
    if not path.is_file():
        raise RecordNotFound(f"no image {name}")
    return FileResponse(path, media_type="image/jpeg", headers=IMMUTABLE)


@router.get("/images/{name}", response_class=FileResponse, responses={404: {"model": ErrorPublic}})
def image(name: Annotated[str, IMAGE_NAME], catalog: CatalogDep) -> FileResponse:
    """A record's image at the size regions refer to (long side up to 1600 px)."""
    return _serve(catalog.images_dir, name)


@router.get("/thumbs/{name}", response_class=FileResponse, responses={404: {"model": ErrorPublic}})
def thumbnail(name: Annotated[str, IMAGE_NAME], catalog: CatalogDep) -> FileResponse:
    """A record's thumbnail (long side up to 512 px)."""
    return _serve(catalog.thumbs_dir, name)


@router.get("/healthz", response_model=Health)
async def healthz(searcher: SearcherDep) -> Health:
    """Liveness and readiness: the worker answers and holds a loaded catalog (its record count).

    Answered on the event loop, without a thread or a database query, so it stays fast under load.
    """
    return Health(status="ok", records=searcher.record_count)
