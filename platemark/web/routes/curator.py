"""The curator view's API: recent searches and what visitors answered about them (password only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from platemark.web.deps import SavedSearchesDep, require_curator
from platemark.web.routes.public import url
from platemark.web.schemas import ErrorPublic, FeedbackPublic, RecentSearchesPublic, RecentSearchPublic

router = APIRouter(
    prefix="/api/curator",
    tags=["curator"],
    dependencies=[Depends(require_curator)],
    responses={401: {"model": ErrorPublic, "description": "No or a wrong curator password, or the view is off."}},
)


@router.get("/searches", response_model=RecentSearchesPublic)
def recent_searches(
    request: Request,
    saved: SavedSearchesDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RecentSearchesPublic:
    """Unexpired searches, newest first, with their best result and visitors' answers.

    Send the curator password (PLATEMARK_CURATOR_TOKEN) as `Authorization: Bearer <password>`.
    """
    page, total = saved.recent(offset, limit)
    data = [
        RecentSearchPublic(
            search_id=search.search_id,
            searched_at=made,
            expires_at=search.expires_at,
            query_url=url(request, f"api/searches/{search.search_id}/image"),
            best=(search.response.get("data") or [None])[0],
            count=len(search.response.get("data", [])),
            answers=[FeedbackPublic.model_validate(answer, from_attributes=True) for answer in answers],
        )
        for made, search, answers in page
    ]
    return RecentSearchesPublic(data=data, count=total, offset=offset, limit=limit)
