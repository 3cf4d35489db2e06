"""Browsing the catalog: records, collections, filter values."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from platemark.errors import RecordNotFound
from platemark.store.filters import MAX_PERSON_CHARS, MAX_TEXT_CHARS, YEAR_RANGE, RecordFilter
from platemark.web.deps import SearcherDep
from platemark.web.routes.public import record_public
from platemark.web.schemas import (
    CollectionPublic,
    CollectionsPublic,
    ErrorPublic,
    FiltersPublic,
    RecordPublic,
    RecordsPublic,
)

router = APIRouter(prefix="/api", tags=["records"])

#: Deepest page offset: beyond any catalog, and within every database's integer range.
MAX_OFFSET = 1_000_000_000


@router.get("/records", response_model=RecordsPublic, responses={422: {"model": ErrorPublic}})
def list_records(
    request: Request,
    searcher: SearcherDep,
    collection: Annotated[list[str] | None, Query()] = None,
    classification: Annotated[list[str] | None, Query()] = None,
    material_technique: Annotated[list[str] | None, Query()] = None,
    institution: Annotated[list[str] | None, Query()] = None,
    year_min: Annotated[int | None, Query(ge=YEAR_RANGE[0], le=YEAR_RANGE[1])] = None,
    year_max: Annotated[int | None, Query(ge=YEAR_RANGE[0], le=YEAR_RANGE[1])] = None,
    person: Annotated[str | None, Query(max_length=MAX_PERSON_CHARS)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_TEXT_CHARS,
            description="Words to find in the record id and any metadata; each may be the start of a word.",
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RecordsPublic:
    """Records matching the filters and the text query `q`, in collection and record id order, one page at a time."""
    where = RecordFilter.of(
        collection=collection,
        classification=classification,
        material_technique=material_technique,
        institution=institution,
        year_min=year_min,
        year_max=year_max,
        person=person,
        text=q,
    )
    page, count = searcher.browse(where, offset, limit)
    return RecordsPublic(
        data=[record_public(request, r) for r in page],
        count=count,
        offset=offset,
        limit=limit,
    )


@router.get("/records/{collection}/{record_id}", response_model=RecordPublic, responses={404: {"model": ErrorPublic}})
def get_record(collection: str, record_id: str, request: Request, searcher: SearcherDep) -> RecordPublic:
    """One record with all its metadata."""
    record = searcher.catalog.find(collection, record_id)
    if record is None:
        raise RecordNotFound(f"no record {record_id!r} in collection {collection!r}")
    return record_public(request, record)


@router.get("/collections", response_model=CollectionsPublic)
def collections(searcher: SearcherDep) -> CollectionsPublic:
    """The catalog's collections and their sizes."""
    data = [CollectionPublic(name=name, records=n) for name, n in searcher.catalog.collections().items()]
    return CollectionsPublic(data=data, count=len(data))


@router.get("/filters", response_model=FiltersPublic)
def filters(searcher: SearcherDep) -> FiltersPublic:
    """Values for the filter UI: collections, classifications, techniques, institutions, year range."""
    return FiltersPublic(**searcher.filter_values)
