"""Visitors' answers as ground truth: `platemark feedback export` writes them for `platemark evaluate`.

A search with a "this is it" answer becomes a query whose records are the ones so marked; a search
answered "none of these" becomes a photo of something not in the collection. A search with only
"not this one" answers says what the print is not, not what it is, and is left out (and counted).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from platemark.errors import PlatemarkError
from platemark.evaluate.groundtruth import write_ground_truth
from platemark.search.saved import Retention, SavedSearches
from platemark.store import Catalog


@dataclass(frozen=True)
class FeedbackExport:
    """What an export wrote: queries with a record, queries not in the collection, searches left out."""

    found: int
    not_in_collection: int
    only_not_this: int
    photos_missing: int

    @property
    def queries(self) -> int:
        return self.found + self.not_in_collection


def export_feedback(catalog: Catalog, csv_path: str | Path) -> FeedbackExport:
    """Write a ground-truth CSV (`query,record_ids`) of the answered searches, with their photos
    copied to a folder beside it (`<name>-photos/`), so `evaluate` can read it anywhere.

    Example:
        >>> export_feedback(open_catalog("./catalog"), "visitors.csv").queries
        42
    """
    csv_path = Path(csv_path)
    photos = csv_path.parent / f"{csv_path.stem}-photos"
    try:
        return _export(catalog, csv_path, photos)
    except OSError as exc:
        raise PlatemarkError(f"{csv_path}: cannot write the export ({exc.strerror or exc})") from exc


def _export(catalog: Catalog, csv_path: Path, photos: Path) -> FeedbackExport:
    saved = SavedSearches(catalog, Retention())
    answers = catalog.feedback()
    rows, found, absent, only_no, missing = [], 0, 0, 0, 0
    photos.mkdir(exist_ok=True)
    for search_id, given in sorted(answers.items()):
        right = sorted({a.record_id for a in given if a.answer == "this"})
        if not right and not any(a.answer == "none" for a in given):
            only_no += 1
            continue
        source = saved.photo_path(search_id)
        if not source.is_file():
            missing += 1
            continue
        shutil.copyfile(source, photos / source.name)
        rows.append((f"{photos.name}/{source.name}", right))
        found += bool(right)
        absent += not right
    write_ground_truth(csv_path, rows)
    return FeedbackExport(found, absent, only_no, missing)
