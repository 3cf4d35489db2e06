"""Turning library objects into API models: the URLs under which the web app finds images."""

from __future__ import annotations

from fastapi import Request

from platemark.search.engine import SearchHit
from platemark.store import StoredRecord
from platemark.web.schemas import IIIFMatchPublic, IIIFRecordPublic, RecordPublic, SearchHitPublic


def url(request: Request, path: str) -> str:
    """A root-relative URL that also works behind a reverse proxy serving under a prefix (--root-path)."""
    return f"{request.scope.get('root_path', '').rstrip('/')}/{path}"


def record_public(request: Request, record: StoredRecord) -> RecordPublic:
    return RecordPublic(
        collection=record.collection,
        record_id=record.record_id,
        metadata=record.metadata,
        year_min=record.year_min,
        year_max=record.year_max,
        width=record.width,
        height=record.height,
        image_url=url(request, f"images/{record.thumb_name}"),
        thumb_url=url(request, f"thumbs/{record.thumb_name}"),
        iiif=IIIFRecordPublic(**record.iiif.public()) if record.iiif else None,
    )


def hit_public(request: Request, hit: SearchHit) -> SearchHitPublic:
    return SearchHitPublic(
        record=record_public(request, hit.record),
        score=hit.score,
        verified=hit.verification.verified,
        verdict=str(hit.verdict),
        relation=str(hit.relation) if hit.relation else None,
        coverage=round(hit.agreement.coverage, 3) if hit.agreement else None,
        colour_difference=hit.agreement.colour_difference if hit.agreement else None,
        inliers=hit.verification.inliers,
        similarity=round(hit.similarity, 4),
        region=hit.verification.region,
        query_region=hit.verification.query_region,
        iiif=iiif_match_public(request, hit),
    )


def iiif_match_public(request: Request, hit: SearchHit) -> IIIFMatchPublic | None:
    """The hit's IIIF links, with a link into the configured IIIF viewer when there is one."""
    match = hit.iiif_match()
    if match is None:
        return None
    viewer = request.app.state.settings.iiif_viewer
    state = match["content_state"]
    return IIIFMatchPublic(**match, viewer_url=viewer.replace("{content_state}", state) if viewer and state else None)
