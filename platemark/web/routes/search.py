"""POST /api/search and saved searches."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse

from platemark.errors import InvalidQuery, UploadTooLarge
from platemark.ingest.images import encode_jpeg, prepare_query, write_atomically
from platemark.store.filters import RecordFilter
from platemark.web.deps import CatalogDep, SearcherDep, SettingsDep
from platemark.web.routes.public import hit_public, url
from platemark.web.schemas import ErrorPublic, SearchRequestPublic, SearchResultPublic

router = APIRouter(prefix="/api", tags=["search"])

ERRORS = {
    400: {"model": ErrorPublic, "description": "Not an image, or an impossible crop or rotation."},
    413: {"model": ErrorPublic, "description": "Upload larger than the configured limit."},
    422: {"model": ErrorPublic, "description": "Malformed field or unknown filter value."},
}


def _crop(value: str | None) -> tuple[int, int, int, int] | None:
    if not value:
        return None
    try:
        x, y, width, height = (round(float(v)) for v in value.split(","))
    except ValueError:
        raise InvalidQuery(f"crop must be four numbers x,y,w,h, not {value!r}") from None
    return x, y, width, height


def _read_limited(upload: UploadFile, limit: int) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge(f"the photo is larger than the limit of {limit / 1e6:g} MB")
    return data


@router.post("/search", response_model=SearchResultPublic, responses=ERRORS)
def search(
    request: Request,
    searcher: SearcherDep,
    settings: SettingsDep,
    image: Annotated[UploadFile, File(description="The photo (JPEG, PNG, WebP, TIFF, ...).")],
    crop: Annotated[str | None, Form(description="x,y,w,h in pixels of the (rotated) photo.")] = None,
    rotate: Annotated[int, Form(description="Clockwise turn applied before the crop: 0, 90, 180 or 270.")] = 0,
    top_k: Annotated[int, Form(ge=1, le=100)] = 10,
    collection: Annotated[list[str] | None, Form()] = None,
    classification: Annotated[list[str] | None, Form()] = None,
    material_technique: Annotated[list[str] | None, Form()] = None,
    institution: Annotated[list[str] | None, Form()] = None,
    year_min: Annotated[int | None, Form()] = None,
    year_max: Annotated[int | None, Form()] = None,
    person: Annotated[str | None, Form()] = None,
) -> SearchResultPublic:
    """Search the catalog with a photo. The search is saved: `search_id` opens it again."""
    where = RecordFilter.of(
        collection=collection,
        classification=classification,
        material_technique=material_technique,
        institution=institution,
        year_min=year_min,
        year_max=year_max,
        person=person,
    )
    cut = _crop(crop)
    rgb = prepare_query(_read_limited(image, settings.max_upload_bytes), rotate=rotate, crop=cut)
    with request.app.state.search_slots:  # CPU-bound: running more at once per process only thrashes
        response = searcher.search(rgb, top_k=top_k, where=where, name=image.filename)
    search_id = secrets.token_urlsafe(9)
    write_atomically(searcher.catalog.searches_dir / f"{search_id}.jpg", encode_jpeg(rgb, quality=88))
    result = SearchResultPublic(
        search_id=search_id,
        query_url=url(request, f"api/searches/{search_id}/image"),
        query_width=rgb.shape[1],
        query_height=rgb.shape[0],
        request=SearchRequestPublic(
            top_k=top_k,
            rotate=rotate,
            crop=list(cut) if cut else None,
            collection=list(where.collections),
            classification=list(where.classification),
            material_technique=list(where.material_technique),
            institution=list(where.institution),
            year_min=year_min,
            year_max=year_max,
            person=where.person,
        ),
        data=[hit_public(request, hit) for hit in response.results],
        count=len(response.results),
        elapsed_ms=round(response.elapsed_ms, 1),
        stages_ms={stage: round(ms, 1) for stage, ms in response.stages_ms.items()},
    )
    searcher.catalog.save_search(search_id, result.request.model_dump(), result.model_dump())
    return result


@router.get("/searches/{search_id}", response_model=SearchResultPublic, responses={404: {"model": ErrorPublic}})
def saved_search(search_id: str, catalog: CatalogDep) -> SearchResultPublic:
    """A saved search, as POST /api/search returned it: the page behind a shared link."""
    _, response = catalog.get_search(search_id)
    return SearchResultPublic.model_validate(response)


@router.get("/searches/{search_id}/image", response_class=FileResponse, responses={404: {"model": ErrorPublic}})
def saved_search_image(search_id: str, catalog: CatalogDep) -> FileResponse:
    """The query photo of a saved search (rotated and cropped as searched)."""
    catalog.get_search(search_id)  # 404 for unknown ids before touching the file system
    return FileResponse(
        catalog.searches_dir / f"{search_id}.jpg",
        media_type="image/jpeg",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
