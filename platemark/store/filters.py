"""Which records a search or a listing may return: collection, years, and metadata fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from platemark.errors import PlatemarkError

#: Metadata fields offered as exact-value filters (values are listed by `filter_values`).
FACETS = ("classification", "material_technique", "institution")
#: Years a filter may name (dates are parsed within 500-2200; beyond this is a typo or an attack).
YEAR_RANGE = (-9999, 9999)
#: Longest `person` text searched for.
MAX_PERSON_CHARS = 200
#: Longest full-text query, and most words one may have.
MAX_TEXT_CHARS = 200
MAX_TEXT_WORDS = 12


class UnknownFilterValue(PlatemarkError):
    """A filter names a collection or metadata value that no record has."""


@dataclass(frozen=True)
class RecordFilter:
    """Conditions a record must meet; empty fields mean "any".

    `person` matches case-insensitively anywhere in the person field; the facet
    fields and collections must match one of the given values exactly. `text` is a
    full-text query over the record id and every metadata value, answered by the store's
    own index: every word must begin a word of the record ("rembr etch" finds Rembrandt's etchings).
    """

    collections: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    classification: tuple[str, ...] = ()
    material_technique: tuple[str, ...] = ()
    institution: tuple[str, ...] = ()
    person: str | None = None
    text: str | None = None

    @classmethod
    def of(
        cls,
        *,
        collection: list[str] | None = None,
        classification: list[str] | None = None,
        material_technique: list[str] | None = None,
        institution: list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        person: str | None = None,
        text: str | None = None,
    ) -> RecordFilter:
        """A filter from request parameters, where lists may be missing or repeat values and text be empty."""
        return cls(
            collections=_distinct(collection),
            year_min=year_min,
            year_max=year_max,
            classification=_distinct(classification),
            material_technique=_distinct(material_technique),
            institution=_distinct(institution),
            person=person or None,
            text=text.strip() or None if text else None,
        )

    @property
    def empty(self) -> bool:
        return self == RecordFilter()

    @property
    def words(self) -> list[str]:
        """The words of the full-text query, lower case, punctuation dropped."""
        return re.findall(r"[^\W_]+", (self.text or "").lower())[:MAX_TEXT_WORDS]

    def sql(
        self, json_text: Callable[[str], str], text_match: Callable[[list[str]], tuple[str, list[Any]]]
    ) -> tuple[str, list[Any]]:
        """The filter as an SQL condition on `records` and its parameters (`?` placeholders).

        Args:
            json_text: SQL for one metadata field as text, in the catalog's dialect.
            text_match: SQL condition (and parameters) that a record contains all these words,
                through the catalog's full-text index.
        """
        clauses, params = ["1 = 1"], []
        if self.collections:
            clauses.append(f"collection IN ({','.join('?' * len(self.collections))})")
            params += self.collections
        if self.year_min is not None:
            clauses.append("year_max >= ?")
            params.append(self.year_min)
        if self.year_max is not None:
            clauses.append("year_min <= ?")
            params.append(self.year_max)
        for facet in FACETS:
            if wanted := getattr(self, facet):
                clauses.append(f"{json_text(facet)} IN ({','.join('?' * len(wanted))})")
                params += wanted
        if self.person:
            escaped = self.person.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(f"lower(coalesce({json_text('person')}, '')) LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if self.text:
            if not (words := self.words):
                clauses.append("1 = 0")  # only punctuation: nothing to find
            else:
                clause, more = text_match(words)
                clauses.append(clause)
                params += more
        return " AND ".join(clauses), params

    def check(self, known: dict[str, list]) -> None:
        """Raise UnknownFilterValue if a value is not among `known` (see filter_values), or out of range."""
        for year in (self.year_min, self.year_max):
            if year is not None and not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
                raise UnknownFilterValue(f"year {year} is outside {YEAR_RANGE[0]}..{YEAR_RANGE[1]}")
        if self.person and len(self.person) > MAX_PERSON_CHARS:
            raise UnknownFilterValue(f"person is longer than {MAX_PERSON_CHARS} characters")
        if self.text and len(self.text) > MAX_TEXT_CHARS:
            raise UnknownFilterValue(f"text is longer than {MAX_TEXT_CHARS} characters")
        if self.collections:
            _check_known("collection", self.collections, known["collections"])
        for facet in FACETS:
            _check_known(facet, getattr(self, facet), known[facet])
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise UnknownFilterValue(f"year_min {self.year_min} is after year_max {self.year_max}")


def _distinct(values: list[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values or ()))


def _check_known(name: str, wanted: tuple[str, ...], known: list[str]) -> None:
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise UnknownFilterValue(f"unknown {name}: {', '.join(unknown)}")
