"""POST /api/search and saved searches."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import FileResponse

from platemark.errors import InvalidQuery, UploadTooLarge
from platemark.images import prepare_query
from platemark.store.filters import MAX_PERSON_CHARS, YEAR_RANGE, RecordFilter
from platemark.web.deps import SavedSearchesDep, SearcherDep, SettingsDep
from platemark.web.routes.public import hit_public, url
from platemark.web.schemas import (
    ErrorPublic,
    FeedbackCreate,
    FeedbackSavedPublic,
    PrivacyPublic,
    SearchRequestPublic,
    SearchResultPublic,
    SharedSearchPublic,
)

router = APIRouter(prefix="/api", tags=["search"])

ERRORS = {
    400: {"model": ErrorPublic, "description": "Not an image, or an impossible crop or rotation."},
    403: {"model": ErrorPublic, "description": "Sent from another site's page (cross-site request)."},
    408: {"model": ErrorPublic, "description": "The upload stalled."},
    413: {"model": ErrorPublic, "description": "Upload larger than the configured limit."},
    422: {"model": ErrorPublic, "description": "Malformed field or unknown filter value."},
    429: {"model": ErrorPublic, "description": "Too many searches from this address; see Retry-After."},
    503: {"model": ErrorPublic, "description": "Too many searches waiting; see Retry-After."},
    507: {"model": ErrorPublic, "description": "Saved searches have used up their disk quota."},
}
#: Ids that `secrets.token_urlsafe` makes; nothing else reaches the store or the disk.
SEARCH_ID = Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")
YEAR = Form(ge=YEAR_RANGE[0], le=YEAR_RANGE[1])
#: Longest crop coordinate accepted: far beyond any photo the pixel limit lets through.
MAX_CROP = 1_000_000


def _crop(value: str | None) -> tuple[int, int, int, int] | None:
    if not value:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) and abs(n) <= MAX_CROP for n in numbers):
        raise InvalidQuery(f"crop must be four numbers x,y,w,h (pixels of the photo), not {value[:80]!r}")
    x, y, width, height = (round(n) for n in numbers)
    return x, y, width, height


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge(f"the photo is larger than the limit of {limit / 1e6:g} MB")
    return data


@router.post("/search", response_model=SearchResultPublic, responses=ERRORS)
async def search(
    request: Request,
    searcher: SearcherDep,
    settings: SettingsDep,
    saved: SavedSearchesDep,
    image: Annotated[UploadFile, File(description="The photo (JPEG, PNG, WebP, TIFF, BMP or GIF).")],
    crop: Annotated[str | None, Form(max_length=200, description="x,y,w,h in pixels of the (rotated) photo.")] = None,
    rotate: Annotated[int, Form(ge=0, le=270, description="Clockwise turn before the crop: 0, 90, 180 or 270.")] = 0,
    top_k: Annotated[int, Form(ge=1, le=100)] = 10,
    collection: Annotated[list[str] | None, Form()] = None,
    classification: Annotated[list[str] | None, Form()] = None,
    material_technique: Annotated[list[str] | None, Form()] = None,
    institution: Annotated[list[str] | None, Form()] = None,
    year_min: Annotated[int | None, YEAR] = None,
    year_max: Annotated[int | None, YEAR] = None,
    person: Annotated[str | None, Form(max_length=MAX_PERSON_CHARS)] = None,
) -> SearchResultPublic:
    """Search the catalog with a photo. The search is saved for a while: `search_id` opens it again.

    Searches beyond the per-client rate get 429, beyond the server's queue 503 (both with
    Retry-After, and before the upload is read: see ShedBeforeReading); when saved searches
    have used up their disk quota, 507.
    """
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
    data = await _read_limited(image, settings.max_upload_bytes)

    def work() -> SearchResultPublic:
        saved.check_space()
        rgb = prepare_query(data, rotate=rotate, crop=cut)  # decoding counts as search work: one at a time
        response = searcher.search(rgb, top_k=top_k, where=where, name=image.filename)
        search_id = secrets.token_urlsafe(12)
        result = SearchResultPublic(
            search_id=search_id,
            query_url=url(request, f"api/searches/{search_id}/image"),
            query_width=rgb.shape[1],
            query_height=rgb.shape[0],
            expires_at=saved.new_expiry(),
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
        saved.save(search_id, rgb, result.request.model_dump(), result.model_dump(), expires_at=result.expires_at)
        return result

    return await request.app.state.admission.run(work)


@router.get("/searches/{search_id}", response_model=SearchResultPublic, responses={404: {"model": ErrorPublic}})
def saved_search(search_id: Annotated[str, SEARCH_ID], saved: SavedSearchesDep) -> SearchResultPublic:
    """A saved search, as POST /api/search returned it: the page behind a shared link."""
    found = saved.get(search_id)
    return SearchResultPublic.model_validate({**found.response, "expires_at": found.expires_at})


@router.post("/searches/{search_id}/share", response_model=SharedSearchPublic, responses={404: {"model": ErrorPublic}})
def share_search(search_id: Annotated[str, SEARCH_ID], saved: SavedSearchesDep) -> SharedSearchPublic:
    """Keep a saved search as long as shared searches are kept (the page calls this on "Copy share link")."""
    return SharedSearchPublic(search_id=search_id, expires_at=saved.share(search_id))


@router.post(
    "/searches/{search_id}/feedback",
    response_model=FeedbackSavedPublic,
    responses={400: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)
def search_feedback(
    search_id: Annotated[str, SEARCH_ID], feedback: FeedbackCreate, saved: SavedSearchesDep
) -> FeedbackSavedPublic:
    """Say whether a result is the print ("this", "not_this") or that none is ("none"). The answer and
    the photo are then kept `feedback_days` as ground truth (`platemark feedback export`)."""
    record = (feedback.collection, feedback.record_id) if feedback.collection or feedback.record_id else None
    if record is not None and not all(record):
        raise InvalidQuery("name the result by both collection and record_id")
    return FeedbackSavedPublic(search_id=search_id, expires_at=saved.answer(search_id, feedback.answer, record))


@router.get("/searches/{search_id}/image", response_class=FileResponse, responses={404: {"model": ErrorPublic}})
def saved_search_image(search_id: Annotated[str, SEARCH_ID], saved: SavedSearchesDep) -> FileResponse:
    """The query photo of a saved search (rotated and cropped as searched), while the search is kept.

    A visitor's photo is personal data: it is never cached by shared caches, and goes when the search expires.
    """
    return FileResponse(
        saved.photo(search_id),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=600", "X-Robots-Tag": "noindex"},
    )


@router.get("/privacy", response_model=PrivacyPublic)
def privacy(settings: SettingsDep) -> PrivacyPublic:
    """What is kept of a search, and for how long: the page tells visitors."""
    return PrivacyPublic(
        query_photo_hours=settings.query_photo_hours,
        shared_search_days=settings.shared_search_days,
        feedback_days=settings.feedback_days,
    )
