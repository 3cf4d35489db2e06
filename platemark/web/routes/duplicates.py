"""Duplicates for curators: the pairs `platemark duplicates` found, and curators' decisions about them."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from platemark.search.duplicates import DuplicatePair, decide, duplicate_pairs, groups, write_csv
from platemark.web.deps import CatalogDep, require_curator
from platemark.web.routes.public import record_public
from platemark.web.schemas import DuplicateDecisionPublic, DuplicatePairPublic, DuplicatesPublic, ErrorPublic

router = APIRouter(
    prefix="/api/duplicates",
    tags=["duplicates"],
    dependencies=[Depends(require_curator)],
    responses={401: {"model": ErrorPublic, "description": "No or a wrong curator password, or the view is off."}},
)

Collection = Annotated[str | None, Query(max_length=200, description="Only pairs with a record of this collection.")]
Relation = Annotated[str | None, Query(max_length=40, description="Only pairs of this relation.")]
Across = Annotated[bool, Query(description="Also pairs of records of different collections.")]
Undecided = Annotated[bool, Query(description="Only pairs no curator has decided about.")]


@router.get("", response_model=DuplicatesPublic, responses={400: {"model": ErrorPublic}})
def list_duplicates(
    request: Request,
    catalog: CatalogDep,
    collection: Collection = None,
    relation: Relation = None,
    across_collections: Across = False,
    undecided: Undecided = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DuplicatesPublic:
    """Pairs of records showing the same print, group by group (largest first), most certain first within.

    The pairs are those the last `platemark duplicates` run kept. Send the curator password
    (PLATEMARK_CURATOR_TOKEN) as `Authorization: Bearer <password>`.
    """
    pairs = duplicate_pairs(
        catalog, collection=collection, across_collections=across_collections, relation=relation, undecided=undecided
    )
    group_of = {key: number for number, group in enumerate(groups(pairs), start=1) for key in group}
    ordered = sorted(pairs, key=lambda pair: group_of[pair.a.key])  # stable: most certain first within a group
    data = [_public(request, pair, group_of[pair.a.key]) for pair in ordered[offset : offset + limit]]
    return DuplicatesPublic(data=data, count=len(pairs), groups=len(set(group_of.values())), offset=offset, limit=limit)


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_duplicates(
    catalog: CatalogDep,
    collection: Collection = None,
    relation: Relation = None,
    across_collections: Across = False,
    undecided: Undecided = False,
) -> Response:
    """The pairs and their decisions as CSV: the columns of `platemark duplicates --csv`."""
    pairs = duplicate_pairs(
        catalog, collection=collection, across_collections=across_collections, relation=relation, undecided=undecided
    )
    out = io.StringIO()
    write_csv(pairs, out)
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
