"""Duplicates for curators: the pairs `platemark duplicates` found, and curators' decisions about them."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from platemark.search.duplicates import DuplicatePair, DuplicatesListing, decide, write_csv
from platemark.web.deps import CatalogDep, require_curator
from platemark.web.routes.public import record_public
from platemark.web.schemas import DuplicateDecisionPublic, DuplicatePairPublic, DuplicatesPublic, ErrorPublic

router = APIRouter(
    prefix="/api/duplicates",
    tags=["duplicates"],
    dependencies=[Depends(require_curator)],
    responses={401: {"model": ErrorPublic, "description": "No or a wrong curator password, or the view is off."}},
)


def _matching_pairs(
    request: Request,
    catalog: CatalogDep,
    collection: Annotated[
        str | None, Query(max_length=200, description="Only pairs with a record of this collection.")
    ] = None,
    relation: Annotated[str | None, Query(max_length=40, description="Only pairs of this relation.")] = None,
    across_collections: Annotated[bool, Query(description="Also pairs of records of different collections.")] = False,
    undecided: Annotated[bool, Query(description="Only pairs no curator has decided about.")] = False,
) -> list[tuple[int, DuplicatePair]]:
    """(group, pair) of the stored pairs the query's filters admit (both routes take the same filters),
    from the worker's listing, which re-reads pairs only after they changed."""
    listing: DuplicatesListing = request.app.state.duplicates_listing
    return listing.numbered(
        catalog, collection=collection, across_collections=across_collections, relation=relation, undecided=undecided
    )


PairsDep = Annotated[list[tuple[int, DuplicatePair]], Depends(_matching_pairs)]


@router.get("", response_model=DuplicatesPublic, responses={400: {"model": ErrorPublic}})
def list_duplicates(
    request: Request,
    numbered: PairsDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DuplicatesPublic:
    """Pairs of records showing the same print, group by group (largest first), most certain first within.

    The pairs are those the last `platemark duplicates` run kept. Send the curator password
    (PLATEMARK_CURATOR_TOKEN) as `Authorization: Bearer <password>`.
    """
    data = [_public(request, pair, number) for number, pair in numbered[offset : offset + limit]]
    groups = len({number for number, _ in numbered})
    return DuplicatesPublic(data=data, count=len(numbered), groups=groups, offset=offset, limit=limit)


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_duplicates(numbered: PairsDep) -> Response:
    """The pairs and their decisions as CSV: the columns of `platemark duplicates --csv`."""
    out = io.StringIO()
    write_csv([pair for _, pair in numbered], out)
    headers = {"Content-Disposition": 'attachment; filename="platemark-duplicates.csv"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.put("/decision", status_code=204, responses={400: {"model": ErrorPublic}, 404: {"model": ErrorPublic}})
def decide_pair(body: DuplicateDecisionPublic, catalog: CatalogDep) -> Response:
    """Keep a curator's decision about two records (`same_record`, `other_impression`, `different`);
    null withdraws it. Decided pairs are left out with `undecided=true`."""
    decide(catalog, (body.a.collection, body.a.record_id), (body.b.collection, body.b.record_id), body.decision)
    return Response(status_code=204)


def _public(request: Request, pair: DuplicatePair, group: int) -> DuplicatePairPublic:
    return DuplicatePairPublic(
        group=group,
        a=record_public(request, pair.a),
        b=record_public(request, pair.b),
        relation=pair.relation,
        inliers=pair.inliers,
        decision=pair.decision,
        **pair.evidence(),
    )
