"""Response models of the REST API (they make the OpenAPI schema at /docs)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from platemark.search.relation import MAX_INK_DIFFERENCE, MAX_STRETCH
from platemark.search.saved import Answer

Quad = list[list[float]]


class IIIFRecordPublic(BaseModel):
    """Where a harvested record lives in IIIF."""

    manifest: str | None = Field(None, description="IIIF Presentation manifest the record came from.")
    canvas: str | None = Field(None, description="The canvas that shows the record's image.")
    image_service: str | None = Field(None, description="IIIF Image API service of the image (base URL).")
    image_api_version: int | None = Field(None, description="2 or 3.")
    image_api_level: int | None = Field(None, description="Compliance level 0, 1 or 2; level 0 serves no regions.")
    image_width: int | None = Field(None, description="Pixel width of the full image the service serves.")
    image_height: int | None = None
    tile_width: int | None = Field(None, description="Tile size the service offers (info.json), if it said.")
    tile_height: int | None = None
    scale_factors: list[int] = Field([], description="Scale factors the tiles come in (info.json).")


class IIIFMatchPublic(BaseModel):
    """IIIF links that open a match in the record's own IIIF resources."""

    region_url: str | None = Field(
        None,
        description="Image API URL of the matched region at full resolution "
        "({service}/x,y,w,h/max/0/default.jpg; coordinates in the full image). None at level 0.",
    )
    target: str | None = Field(None, description="The canvas with the region as a fragment: {canvas}#xywh=x,y,w,h.")
    content_state: str | None = Field(
        None,
        description="IIIF Content State 1.0 (encoded) for the target: give it to a viewer as ?iiif-content=…",
    )
    viewer_url: str | None = Field(
        None, description="The match opened in the IIIF viewer the server is configured with (PLATEMARK_IIIF_VIEWER)."
    )


class RecordPublic(BaseModel):
    """A catalogue record with links to its images."""

    collection: str
    record_id: str
    metadata: dict[str, str]
    year_min: int | None = None
    year_max: int | None = None
    width: int = Field(description="Pixel width of image_url; regions are in these pixels.")
    height: int
    image_url: str
    thumb_url: str
    iiif: IIIFRecordPublic | None = Field(None, description="The record's IIIF manifest, canvas and image service.")


class SearchHitPublic(BaseModel):
    """One result of a search."""

    record: RecordPublic
    score: float = Field(
        description="What results are ranked by within a verdict: a verified match's inliers plus its global "
        "similarity (0-1); an unverified one's similarity plus how far its inliers got beyond chance (6) "
        "towards verification (18), from 0 to 1."
    )
    verified: bool = Field(description="Geometric verification says the photo shows this record.")
    verdict: str = Field(
        description="What to tell the visitor: `answer` (the best verified record), `also_in_photo` (verified, "
        "on another part of the photo), `related` (verified on a part a better record covers: a companion "
        "piece, a copy), `candidate` (not verified). Results come in this order."
    )
    relation: str | None = Field(
        None,
        description="For a verified hit, what the photographed sheet is to this record: `same_sheet` (this "
        "record's sheet), `detail` (a part of it), `same_plate` (another impression of its plate or block, or "
        "a page reusing it: the inliers cover only a part of the overlap, or the colours differ) or `mirror` "
        "(its mirror image: a counterproof or reversed copy). Only `same_sheet` and `detail` say the photo "
        "shows this record. None when not verified.",
    )
    coverage: float | None = Field(
        None, description="Share of the record's keypoints in the overlap with an inlier nearby (0-1)."
    )
    colour_difference: float | None = Field(
        None, description="How far the colours differ after a per-channel correction (Lab a/b units)."
    )
    inliers: int
    similarity: float
    region: Quad | None = Field(None, description="The photo's footprint on the record image (4 corners).")
    query_region: Quad | None = Field(None, description="The record's outline in the query photo (4 corners).")
    iiif: IIIFMatchPublic | None = Field(None, description="Links that open the match in IIIF (harvested records).")


class SearchRequestPublic(BaseModel):
    """The parameters a search was made with."""

    top_k: int
    rotate: int
    crop: list[int] | None
    collection: list[str]
    classification: list[str]
    material_technique: list[str]
    institution: list[str]
    year_min: int | None
    year_max: int | None
    person: str | None


class SearchResultPublic(BaseModel):
    """Results of one search; `search_id` opens it again at GET /api/searches/{search_id}."""

    search_id: str
    query_url: str
    query_width: int
    query_height: int
    expires_at: float = Field(description="When the saved search and its photo are deleted (Unix time).")
    request: SearchRequestPublic
    data: list[SearchHitPublic]
    count: int
    elapsed_ms: float
    stages_ms: dict[str, float] = Field(
        description="Where the time went: features (global descriptor and first local features, side by "
        "side), global, local_votes, fetch, verify; local_features (the wait for the larger scale, extracted "
        "while the mirrored photo is tried) when the first pass verified nothing, and verify_exact when a pass "
        "verified nothing or a candidate is not indexed yet."
    )


class SharedSearchPublic(BaseModel):
    """A saved search kept longer because its link was shared."""

    search_id: str
    expires_at: float = Field(description="When it is deleted now (Unix time).")


class PrivacyPublic(BaseModel):
    """How long a search's photo and results are kept."""

    query_photo_hours: float
    shared_search_days: float
    feedback_days: float = Field(description="How long a search is kept once its results were answered.")


class FeedbackCreate(BaseModel):
    """A visitor's answer: a result is (`this`) or is not (`not_this`) the print, or `none` of them is."""

    answer: Answer
    collection: str | None = Field(None, max_length=500, description="The result answered about; not for `none`.")
    record_id: str | None = Field(None, max_length=500)


class FeedbackPublic(BaseModel):
    """One answer about a search's result."""

    answer: Answer
    collection: str = Field(description="Empty for `none`.")
    record_id: str = Field(description="Empty for `none`.")
    answered_at: float = Field(description="Unix time.")


class FeedbackSavedPublic(BaseModel):
    """An answer was kept; the search (its photo, as ground truth) is kept until `expires_at`."""

    search_id: str
    expires_at: float


class RecentSearchPublic(BaseModel):
    """A recent search as the curator view lists it."""

    search_id: str
    searched_at: float = Field(description="Unix time.")
    expires_at: float
    query_url: str
    best: SearchHitPublic | None = Field(description="The first result, if any.")
    count: int = Field(description="Results shown.")
    answers: list[FeedbackPublic]


class RecentSearchesPublic(BaseModel):
    data: list[RecentSearchPublic]
    count: int = Field(description="Unexpired searches, over all pages.")
    offset: int
    limit: int


class RecordsPublic(BaseModel):
    data: list[RecordPublic]
    count: int = Field(description="Records matching the filters, over all pages.")
    offset: int
    limit: int


class CollectionPublic(BaseModel):
    name: str
    records: int


class CollectionsPublic(BaseModel):
    data: list[CollectionPublic]
    count: int


class FiltersPublic(BaseModel):
    """Values the filter UI offers."""

    collections: list[str]
    classification: list[str]
    material_technique: list[str]
    institution: list[str]
    years: list[int] = Field(description="[earliest, latest] year, or empty.")


class Health(BaseModel):
    status: str
    records: int


class ErrorPublic(BaseModel):
    detail: str


class DuplicatePairPublic(BaseModel):
    """Two records showing the same print (see `platemark duplicates`), the evidence, and the decision."""

    group: int = Field(description="Connected component of the pairs, numbered largest first.")
    a: RecordPublic
    b: RecordPublic
    relation: str = Field(
        description="`identical` (same file), `rescan` (the same sheet), `detail` (one shows a part of the other), "
        "`same_plate` (another impression of the plate or block), `mirror` (a counterproof or reversed copy) or "
        "`overlap` (they agree on a part only: a shared block or border)."
    )
    inliers: int
    similarity: float = Field(description="Global (CNN) similarity of the two images.")
    region_a: Quad | None = Field(None, description="Where b appears in a (a's image pixels).")
    region_b: Quad | None = Field(None, description="Where a appears in b (b's image pixels).")
    coverage_a: float = Field(description="Share of a's image that b covers.")
    coverage_b: float = Field(description="Share of b's image that a covers.")
    inlier_coverage: float | None = Field(None, description="Share of b's keypoints in the overlap near an inlier.")
    colour_difference: float | None = Field(None, description="Colour difference after a per-channel correction.")
    residual: float | None = Field(None, description="Median inlier residual, share of the long side.")
    ink_difference: float | None = Field(
        None,
        description="How differently the two are inked (0-1), for pairs that agree everywhere: above "
        f"{MAX_INK_DIFFERENCE} they are `same_plate`, the same lines pulled again.",
    )
    stretch: float | None = Field(
        None,
        description="How unevenly one image is stretched against the other once a smooth lens distortion "
        f"is taken out (share of the long side), for pairs that agree everywhere: above {MAX_STRETCH} they "
        "are `same_plate`, the same lines on another sheet of paper.",
    )
    decision: str | None = Field(None, description="A curator's decision: same_record, other_impression, different.")


class DuplicatesPublic(BaseModel):
    data: list[DuplicatePairPublic]
    count: int = Field(description="Pairs matching the filters, over all pages.")
    groups: int = Field(description="Groups the matching pairs form.")
    offset: int
    limit: int


class RecordNamePublic(BaseModel):
    collection: str = Field(max_length=200)
    record_id: str = Field(max_length=500)


class DuplicateDecisionPublic(BaseModel):
    """A curator's decision about two records; `decision` null withdraws it."""

    a: RecordNamePublic
    b: RecordNamePublic
    decision: str | None = Field(description="same_record, other_impression, different, or null.")
