"""Which records in a catalog show the same print: every record looked up in the word index, not n² matches.

Each record's own keypoints are searched in the catalog's local-feature index, as a photo's are; its
best-voted other records are verified with the correspondences the index returns, and a verified
pair is told apart by how much of each image the homography covers:
- `identical`: the same image file (same content hash);
- `rescan`: each image covers most of the other (resized, recompressed, recropped by a margin);
- `detail`: one image lies inside the other, which shows more (its region is given);
- `overlap`: verified on a part of each only (a shared block or border, other margins or text).
Other impressions of one plate, states and mirror images are not told apart yet (issue 12).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from platemark.errors import PlatemarkError
from platemark.index.postings import CurrentPostings
from platemark.search.local import WordIndex
from platemark.search.verify import Verification, verify
from platemark.store.base import Catalog, StoredRecord
from platemark.store.filters import RecordFilter

#: Share of an image a homography must cover for the pair to show the whole of it.
WHOLE = 0.8
#: Best-voted other records verified per record.
CANDIDATES = 5
MIN_VOTES = 8


@dataclass(frozen=True)
class DuplicatePair:
    """Two records showing the same print, how, and the evidence."""

    a: StoredRecord
    b: StoredRecord
    relation: str
    inliers: int
    region_a: list[list[float]] | None  # where b appears in a
    region_b: list[list[float]] | None  # where a appears in b
    coverage_a: float  # share of a's area that b covers
    coverage_b: float


def find_duplicates(
    catalog: Catalog,
    *,
    collection: str | None = None,
    across_collections: bool = False,
) -> list[DuplicatePair]:
    """Every pair of records showing the same print, best evidence first.

    Args:
        collection: only records of this collection (and, with across_collections, their pairs elsewhere).
        across_collections: also pair records of different collections.

    Raises:
        PlatemarkError: the catalog has no local-feature index yet (`platemark index` makes it).
    """
    index = WordIndex.load(catalog)
    if index is None:
        raise PlatemarkError(f"{catalog.location}: no local-feature index yet; run `platemark index`")
    where = RecordFilter(collections=(collection,)) if collection else RecordFilter()
    keys = catalog.keys_matching(where).tolist()
    records = catalog.records(keys)

    def wanted(a: StoredRecord, b: StoredRecord) -> bool:
        return across_collections or a.collection == b.collection

    found: dict[tuple[int, int], DuplicatePair] = {}
    for pair in _identical(records.values()):
        if wanted(pair.a, pair.b):
            found[(pair.a.key, pair.b.key)] = pair
    current_segments = catalog.indexed_segments(index.codebook_id)
    live = CurrentPostings(current_segments)  # built once: it sorts every indexed record
    for key, points, descriptors in catalog.local_features(keys):
        matches = index.matches(descriptors).current(live)
        voted, _, counts = matches.votes()
        others = [int(k) for k, n in zip(voted, counts, strict=True) if n >= MIN_VOTES and int(k) != key]
        others = [k for k in others if (min(k, key), max(k, key)) not in found][:CANDIDATES]
        records.update(catalog.records(k for k in others if k not in records))  # of other collections
        a = records[key]
        for other in others:
            b = records.get(other)
            if b is None or not wanted(a, b):
                continue
            query_idx, xy = matches.of(other, current_segments[other])
            verification = verify(points[query_idx], xy, (a.width, a.height), (b.width, b.height))
            if verification.verified:
                pair = _classified(a, b, verification)
                found[(min(key, other), max(key, other))] = pair
    return sorted(found.values(), key=lambda p: (p.relation != "identical", -p.inliers))


def groups(pairs: Iterable[DuplicatePair]) -> list[list[int]]:
    """Connected components of the pairs' records (keys), largest first; members by how many pairs
    they are in, then by key."""
    parent: dict[int, int] = {}

    def root(key: int) -> int:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    degree: dict[int, int] = defaultdict(int)
    for pair in pairs:
        parent[root(pair.a.key)] = root(pair.b.key)
        degree[pair.a.key] += 1
        degree[pair.b.key] += 1
    members: dict[int, list[int]] = defaultdict(list)
    for key in degree:
        members[root(key)].append(key)
    ranked = [sorted(group, key=lambda k: (-degree[k], k)) for group in members.values()]
    return sorted(ranked, key=lambda group: (-len(group), group[0]))


def _identical(records: Iterable[StoredRecord]) -> list[DuplicatePair]:
    by_hash: dict[str, list[StoredRecord]] = defaultdict(list)
    for record in records:
        by_hash[record.content_hash].append(record)
    return [
        DuplicatePair(a, b, "identical", 0, _whole(a), _whole(b), 1.0, 1.0)
        for same in by_hash.values()
        for i, a in enumerate(sorted(same, key=lambda r: r.key))
        for b in sorted(same, key=lambda r: r.key)[i + 1 :]
    ]


def _whole(record: StoredRecord) -> list[list[float]]:
    width, height = float(record.width), float(record.height)
    return [[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]]


def _classified(a: StoredRecord, b: StoredRecord, verification: Verification) -> DuplicatePair:
    """The pair's relation from how much of each image the verified homography covers."""
    coverage_b = _share(verification.region, b)  # a's footprint in b
    coverage_a = _share(verification.query_region, a)  # b's outline in a
    if coverage_a >= WHOLE and coverage_b >= WHOLE:
        relation = "rescan"
    elif coverage_a >= WHOLE or coverage_b >= WHOLE:
        relation = "detail"
    else:
        relation = "overlap"
    return DuplicatePair(
        a,
        b,
        relation,
        verification.inliers,
        verification.query_region,
        verification.region,
        round(coverage_a, 3),
        round(coverage_b, 3),
    )


def _share(outline: list[list[float]] | None, record: StoredRecord) -> float:
    """Share of the record's image inside an outline (clipped to the image)."""
    if outline is None:
        return 0.0
    inside, _ = cv2.intersectConvexConvex(np.float32(outline), np.float32(_whole(record)))
    return float(inside) / float(record.width * record.height)
