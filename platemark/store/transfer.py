"""Moving a whole catalog between stores: `platemark export` and `platemark import`.

Records travel with their features, so nothing is re-extracted; derived index files are
not copied (each store rebuilds its own). What people did travels too: saved searches, visitors'
answers about them, curators' decisions about duplicate pairs, and the pairs found (hours of work
at 100k records), renumbered to the target's record keys.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

from platemark.errors import CatalogNotEmpty
from platemark.store.base import Catalog

#: Media subfolders that hold content, not derived data.
MEDIA_FOLDERS = ("images", "thumbs", "searches")


@dataclass
class TransferReport:
    """What copy_catalog copied."""

    records: int = 0
    searches: int = 0
    answers: int = 0
    duplicate_pairs: int = 0
    decisions: int = 0
    media_files: int = 0


def copy_catalog(source: Catalog, target: Catalog) -> TransferReport:
    """Copy every record with its features, the collections' sources, the saved searches and
    the media files from one catalog into another, empty one.

    Args:
        source: the catalog to copy (left unchanged).
        target: an empty catalog, of either backend.

    Raises:
        CatalogNotEmpty: the target already holds records.
        ExtractorMismatch: the target was made for features of other extractors.

    Example:
        >>> copy_catalog(open_catalog("./catalog"), open_catalog("postgresql://db/prints", media="/srv/m", create=True))
    """
    if count := target.count():
        raise CatalogNotEmpty(f"{target.location} already holds {count} records; copy into an empty catalog")
    target.check_extractors(source.extractors())
    report = TransferReport()
    report.media_files = _copy_media(source, target)  # before the records, as ingest does
    report.records = target.insert_many(source.records_with_features())
    for name in source.collections():
        if origin := source.get_meta(f"collection.{name}.source"):
            target.set_collection_source(name, origin)
    for saved in source.saved_searches():
        target.save_search(
            saved.search_id,
            saved.request,
            saved.response,
            expires_at=saved.expires_at,
            photo_bytes=saved.photo_bytes,
        )
        report.searches += 1
    for answers in source.feedback().values():
        for answer in answers:  # oldest first: each replaces what it contradicts, as when given
            target.save_feedback(
                answer.search_id, answer.collection, answer.record_id, answer.answer, answer.answered_at
            )
            report.answers += 1
    report.duplicate_pairs = _copy_duplicate_pairs(source, target)
    for (a, b), (decision, decided_at) in source.duplicate_decisions().items():
        target.save_duplicate_decision(a, b, decision, decided_at)
        report.decisions += 1
    return report


def _copy_duplicate_pairs(source: Catalog, target: Catalog) -> int:
    """Copy the pairs `platemark duplicates` found, and which records it examined, under the target's
    record keys. Pairs are kept with the lower key first, so that a later run updates them: one whose
    keys come in the other order in the target is turned round with its per-record evidence."""
    names = source.record_names()
    target_key = {name: key for key, name in target.record_names().items()}
    moved = {key: target_key[name] for key, name in names.items()}
    pending = source.unexamined()
    hashes = {key: record.content_hash for key, record in source.records(list(names)).items()}
    examined = {moved[key]: digest for key, digest in hashes.items() if key not in pending}
    rows = []
    for key_a, key_b, relation, inliers, evidence in source.duplicate_rows():
        a, b = moved[key_a], moved[key_b]
        if a > b:
            fields = json.loads(evidence)
            for first, second in (("region_a", "region_b"), ("coverage_a", "coverage_b")):
                fields[first], fields[second] = fields[second], fields[first]
            a, b, evidence = b, a, json.dumps(fields)
        rows.append((a, b, relation, inliers, evidence))
    target.save_duplicates(examined, rows)
    return len(rows)


def _copy_media(source: Catalog, target: Catalog) -> int:
    """Copy media files the target lacks; they are named by content, so same name = same file."""
    if source.media.resolve() == target.media.resolve():
        return 0
    copied = 0
    for folder in MEDIA_FOLDERS:
        origin = source.media / folder
        if not origin.is_dir():
            continue
        (target.media / folder).mkdir(parents=True, exist_ok=True)
        for path in origin.iterdir():
            destination = target.media / folder / path.name
            if path.is_file() and not path.name.endswith(".part") and not destination.exists():
                shutil.copy2(path, destination)
                copied += 1
    return copied
