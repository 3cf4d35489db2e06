"""Which records in a catalog show the same print: every record looked up in the word index, not n² matches.

Each record's own keypoints (and, for mirror images, their mirrored descriptors) are searched in
the catalog's local-feature index, as a photo's are; its best-voted other records are verified with
the correspondences the index returns. A verified pair is then told apart by the evidence search
uses for "this sheet or another impression" (`platemark.search.relation`), and by how much of each
image the homography covers:
- `identical`: the same image file (same content hash), or files that decode to the same pixels;
- `rescan`: the same sheet, each image covering most of the other (resized, recompressed, recropped
  by a margin, colour-shifted);
- `detail`: the same sheet, one image inside the other, which shows more (its region is given);
- `same_plate`: another impression of the same plate or block: the lines agree, but the colours, the
  inking or the paper's stretch do not;
- `mirror`: one is the mirror image of the other (a counterproof, a reversed copy);
- `overlap`: the images agree only on a part of the overlap: a shared block or border on otherwise
  different sheets, or two views of different parts of one sheet.
Pairs are kept in the catalog, so a run after an ingest examines only the records added or changed
since; curators' decisions about pairs are kept beside them (`decide`).
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from itertools import islice
from multiprocessing import get_context
from typing import IO

import cv2
import numpy as np

from platemark.errors import InvalidQuery, PlatemarkError, RecordNotFound
from platemark.extract.sift import LocalFeatures
from platemark.index.postings import CurrentPostings
from platemark.search.local import WordIndex
from platemark.search.relation import (
    MIN_COVERAGE,
    LineComparison,
    Relation,
    agreement,
    compare_lines,
    display_image,
    thumbnail,
)
from platemark.search.verify import Verification, verify
from platemark.spreadsheet import spreadsheet_safe
from platemark.store.base import Catalog, StoredRecord

#: Share of an image a homography must cover for the pair to show the whole of it.
WHOLE = 0.8
#: Records examined per transaction (and per task of a worker process).
CHUNK = 50
#: Words each record keypoint is looked up under: one, not the two a photo's keypoints get, as catalog
#: images are clean (on the 1k bench catalog one finds 673 pairs of the 676 two find, 1.4x faster); two
#: for the mirrored keypoints, whose descriptors only approximate the mirror image's (with one, the
#: two vetted mirror-image woodcut companions were missed).
ASSIGNMENTS = 1
MIRRORED_ASSIGNMENTS = 2
#: Worker processes run at this niceness: searches on the same machine are interactive and come first.
WORKER_NICENESS = 10
#: Best-voted other records verified per record.
CANDIDATES = 5
MIN_VOTES = 8
#: Relations, most certain first: the order groups and the review page list them in.
RELATIONS = ("identical", "rescan", "detail", "same_plate", "mirror", "overlap")
#: Filters whose numbered pairs a review listing keeps (per worker).
LISTED_FILTERS = 8
#: What a curator may decide about a pair.
DECISIONS = ("same_record", "other_impression", "different")


@dataclass(frozen=True)
class DuplicatePair:
    """Two records showing the same print, how, and the evidence."""

    a: StoredRecord
    b: StoredRecord
    relation: str
    inliers: int
    similarity: float  # global (CNN) similarity of the two images
    region_a: list[list[float]] | None  # where b appears in a
    region_b: list[list[float]] | None  # where a appears in b
    coverage_a: float  # share of a's area that b covers
    coverage_b: float
    #: share of b's keypoints in the overlap with an inlier nearby, and the colour difference after a
    #: per-channel correction (see platemark.search.relation); None for identical files
    inlier_coverage: float | None = None
    colour_difference: float | None = None
    #: median inlier residual, share of the long side: reported, not decided on. Woodcut impressions of one
    #: block reach 0.0004-0.0025, rigid rescans of a woodcut 0.0002-0.0005, but rescans of the hatched test
    #: prints 0.0009: keypoints on hatching sit less precisely than paper shrinks.
    residual: float | None = None
    #: for pairs that agree everywhere (see relation.compare_lines): how differently the two are inked,
    #: and how unevenly one is stretched against the other (share of the long side); above
    #: MAX_INK_DIFFERENCE or MAX_STRETCH, the same lines pulled again, `same_plate`
    ink_difference: float | None = None
    stretch: float | None = None
    decision: str | None = field(default=None, compare=False)

    def evidence(self) -> dict[str, object]:
        """The pair's evidence beyond its relation and inliers, as the catalog keeps it (as JSON)."""
        return {
            "similarity": self.similarity,
            "region_a": self.region_a,
            "region_b": self.region_b,
            "coverage_a": self.coverage_a,
            "coverage_b": self.coverage_b,
            "inlier_coverage": self.inlier_coverage,
            "colour_difference": self.colour_difference,
            "residual": self.residual,
            "ink_difference": self.ink_difference,
            "stretch": self.stretch,
        }


@dataclass(frozen=True)
class DuplicatesRun:
    """What `update_duplicates` did."""

    examined: int
    seconds: float


def find_duplicates(
    catalog: Catalog,
    *,
    collection: str | None = None,
    across_collections: bool = False,
    mirrors: bool = True,
) -> list[DuplicatePair]:
    """Every pair of records showing the same print, most certain relation first.

    Examines the records not examined yet (`update_duplicates`), then lists the stored pairs.

    Args:
        collection: only pairs with a record of this collection.
        across_collections: also pairs of records of different collections.
        mirrors: also look for mirror images (twice the lookups).

    Raises:
        PlatemarkError: the catalog has no local-feature index yet (`platemark index` makes it).
    """
    update_duplicates(catalog, mirrors=mirrors)
    return duplicate_pairs(catalog, collection=collection, across_collections=across_collections)


def update_duplicates(
    catalog: Catalog,
    *,
    mirrors: bool = True,
    again: bool = False,
    workers: int | None = None,
    on_record: Callable[[], None] | None = None,
) -> DuplicatesRun:
    """Examine the indexed records not examined at their current content, against all records, and
    keep the pairs found. Records not indexed yet wait for the next run.

    Args:
        mirrors: also look for mirror images (twice the lookups).
        again: forget every pair and examine every record (after an upgrade of platemark).
        workers: processes examining records side by side (default: one per core); each reads the
            index from the catalog, so PostgreSQL catalogs work the same.
        on_record: called after each record examined (a progress bar).

    Raises:
        PlatemarkError: the catalog has no local-feature index yet (`platemark index` makes it).
    """
    started = time.perf_counter()
    index = WordIndex.load(catalog)
    if index is None:
        raise PlatemarkError(f"{catalog.location}: no local-feature index yet; run `platemark index`")
    if again:
        catalog.forget_duplicates()
    indexed = catalog.indexed_segments(index.codebook_id)
    todo = {k: h for k, h in catalog.unexamined().items() if k in indexed}
    catalog.forget_duplicates(todo)  # the old pairs of records whose images changed
    chunks = list(_chunks(sorted(todo), CHUNK))
    workers = min(workers or os.cpu_count() or 1, len(chunks))
    if workers <= 1:
        examiner = _Examiner(catalog, index, mirrors)
        found = (examiner.rows(chunk) for chunk in chunks)
        pool = None
    else:
        pool = ProcessPoolExecutor(
            workers,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(catalog.location, str(catalog.media), mirrors),
        )
        found = pool.map(_examine_in_worker, chunks)
    try:
        for chunk, rows in zip(chunks, found, strict=True):  # a transaction per chunk: a killed run keeps it
            catalog.save_duplicates({k: todo[k] for k in chunk}, rows)
            for _ in chunk if on_record else ():
                on_record()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return DuplicatesRun(len(todo), time.perf_counter() - started)


def duplicate_pairs(
    catalog: Catalog,
    *,
    collection: str | None = None,
    across_collections: bool = False,
    relation: str | None = None,
    undecided: bool = False,
) -> list[DuplicatePair]:
    """The stored pairs, most certain relation first, then by inliers; each with its curator's decision.

    Args:
        collection: only pairs with a record of this collection.
        across_collections: also pairs of records of different collections.
        relation: only pairs of this relation.
        undecided: only pairs no curator has decided about.

    Raises:
        InvalidQuery: an unknown relation.
    """
    decisions = catalog.duplicate_decisions()
    stored = _stored_pairs(catalog, collection, across_collections, relation)
    return [decided for pair in stored if (decided := _decided(pair, decisions, undecided)) is not None]


class DuplicatesListing:
    """The stored pairs numbered by group, for a review page that pages through them.

    Reading 100k pairs takes seconds, so each filter's numbered pairs are kept, and read again only
    when pairs may have changed (`Catalog.duplicates_version`: a `duplicates` run, a record changed
    or deleted). Curators' decisions are read on every call, so deciding a pair costs no re-read,
    and group numbers stay put while curators work through them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._numbered: dict[tuple[str | None, bool, str | None], list[tuple[int, DuplicatePair]]] = {}

    def numbered(
        self,
        catalog: Catalog,
        *,
        collection: str | None = None,
        across_collections: bool = False,
        relation: str | None = None,
        undecided: bool = False,
    ) -> list[tuple[int, DuplicatePair]]:
        """(group, pair) of the stored pairs the filters admit (as `duplicate_pairs`), group by group.

        Raises:
            InvalidQuery: an unknown relation.
        """
        version = catalog.duplicates_version()
        filters = (collection, across_collections, relation)
        with self._lock:
            if version != self._version:
                self._version, self._numbered = version, {}
            numbered = self._numbered.get(filters)
        if numbered is None:
            numbered = by_group(_stored_pairs(catalog, *filters))
            with self._lock:
                if version == self._version:
                    while len(self._numbered) >= LISTED_FILTERS:  # the oldest goes: each holds every pair
                        del self._numbered[next(iter(self._numbered))]
                    self._numbered[filters] = numbered
        decisions = catalog.duplicate_decisions()
        return [
            (group, decided)
            for group, pair in numbered
            if (decided := _decided(pair, decisions, undecided)) is not None
        ]


def _stored_pairs(
    catalog: Catalog, collection: str | None, across_collections: bool, relation: str | None
) -> list[DuplicatePair]:
    """The stored pairs the filters admit, without decisions, most certain first."""
    if relation is not None and relation not in RELATIONS:
        raise InvalidQuery(f"relation must be one of {', '.join(RELATIONS)}, not {relation!r}")
    rows = catalog.duplicate_rows()
    records = catalog.records({key for a, b, *_ in rows for key in (a, b)})
    pairs = []
    for key_a, key_b, kind, inliers, evidence in rows:
        a, b = records.get(key_a), records.get(key_b)
        if a is None or b is None or (relation is not None and kind != relation):
            continue
        if not across_collections and a.collection != b.collection:
            continue
        if collection is not None and collection not in (a.collection, b.collection):
            continue
        pairs.append(DuplicatePair(a, b, kind, inliers, **json.loads(evidence)))
    return sorted(pairs, key=lambda p: (RELATIONS.index(p.relation), -p.inliers, p.a.key, p.b.key))


def _decided(
    pair: DuplicatePair, decisions: dict[tuple[tuple[str, str], tuple[str, str]], tuple[str, float]], undecided: bool
) -> DuplicatePair | None:
    """The pair with its curator's decision; None if it has one and only undecided pairs are wanted."""
    decision = decisions.get(_names(pair.a, pair.b))
    if decision is None:
        return pair
    return None if undecided else replace(pair, decision=decision[0])


def decide(catalog: Catalog, a: tuple[str, str], b: tuple[str, str], decision: str | None) -> None:
    """Keep a curator's decision about two records, each (collection, record id): `same_record`,
    `other_impression` or `different`; None withdraws it. Decided pairs are not proposed again
    (`duplicate_pairs(undecided=True)`).

    Raises:
        InvalidQuery: an unknown decision, or a record paired with itself.
        RecordNotFound: no such record.
    """
    if decision is not None and decision not in DECISIONS:
        raise InvalidQuery(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if a == b:
        raise InvalidQuery("a record is not a duplicate of itself")
    for collection, record_id in (a, b):
        if catalog.find(collection, record_id) is None:
            raise RecordNotFound(f"no record {record_id!r} in collection {collection!r}")
    catalog.save_duplicate_decision(a, b, decision, time.time())


def groups(pairs: Iterable[DuplicatePair]) -> list[list[int]]:
    """Connected components of the pairs' records (keys): largest first, then the most certain (best
    relation, then most inliers); members by how many pairs they are in, then by key."""
    parent: dict[int, int] = {}

    def root(key: int) -> int:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    pairs = list(pairs)
    degree: dict[int, int] = defaultdict(int)
    for pair in pairs:
        parent[root(pair.a.key)] = root(pair.b.key)
        degree[pair.a.key] += 1
        degree[pair.b.key] += 1
    members: dict[int, list[int]] = defaultdict(list)
    for key in degree:
        members[root(key)].append(key)
    certainty: dict[int, tuple[int, int]] = {}
    for pair in pairs:
        group = root(pair.a.key)
        rank = (RELATIONS.index(pair.relation), -pair.inliers)
        certainty[group] = min(certainty.get(group, rank), rank)
    ranked = {group: sorted(keys, key=lambda k: (-degree[k], k)) for group, keys in members.items()}
    order = sorted(ranked, key=lambda group: (-len(ranked[group]), certainty[group], ranked[group][0]))
    return [ranked[group] for group in order]


def by_group(pairs: list[DuplicatePair]) -> list[tuple[int, DuplicatePair]]:
    """Each pair with its group's number (from 1, as `groups` ranks them), group by group; within a
    group the pairs keep their order (most certain first, from `duplicate_pairs`)."""
    number = {key: n for n, group in enumerate(groups(pairs), start=1) for key in group}
    return sorted(((number[pair.a.key], pair) for pair in pairs), key=lambda numbered: numbered[0])


#: Columns of `duplicates --csv` and of the review page's export; regions are [[x, y] x 4] in the
#: record's image pixels.
CSV_COLUMNS = (
    "group",
    "collection_a",
    "record_a",
    "collection_b",
    "record_b",
    "relation",
    "inliers",
    "similarity",
    "coverage_a",
    "coverage_b",
    "inlier_coverage",
    "colour_difference",
    "residual",
    "ink_difference",
    "stretch",
    "region_a",
    "region_b",
    "decision",
)


def write_csv(pairs: list[DuplicatePair], handle: IO[str]) -> None:
    """The pairs as CSV (CSV_COLUMNS), with their group numbers; no cell can run as a spreadsheet formula."""
    group_of = {pair.a.key: number for number, pair in by_group(pairs)}
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for pair in pairs:
        row = (
            group_of[pair.a.key],
            pair.a.collection,
            pair.a.record_id,
            pair.b.collection,
            pair.b.record_id,
            pair.relation,
            pair.inliers,
            pair.similarity,
            pair.coverage_a,
            pair.coverage_b,
            "" if pair.inlier_coverage is None else pair.inlier_coverage,
            "" if pair.colour_difference is None else pair.colour_difference,
            "" if pair.residual is None else pair.residual,
            "" if pair.ink_difference is None else pair.ink_difference,
            "" if pair.stretch is None else pair.stretch,
            json.dumps(pair.region_a),
            json.dumps(pair.region_b),
            pair.decision or "",
        )
        writer.writerow(spreadsheet_safe(value) for value in row)


class _Examiner:
    """Looks records up in the word index and verifies and classifies their best-voted others."""

    def __init__(self, catalog: Catalog, index: WordIndex, mirrors: bool) -> None:
        self.catalog = catalog
        self.index = index
        self.mirrors = mirrors
        self.generation = -1  # of the index when `segments` was read
        self.segments: dict[int, int] = {}  # {key: segment holding its current postings}
        self.live = CurrentPostings({})
        self._follow_index()
        self.thumbnail = lru_cache(maxsize=256)(partial(thumbnail, catalog))
        self.display_image = lru_cache(maxsize=32)(partial(display_image, catalog))
        self.points = lru_cache(maxsize=256)(self._points)
        self.done: set[tuple[int, int]] = set()  # pairs found in this run, from either side
        self.shared_contents = catalog.shared_contents()  # identical files, found once per run

    def rows(self, keys: list[int]) -> list[tuple[int, int, str, int, str]]:
        """The new pairs of these records as the catalog keeps them."""
        return [(p.a.key, p.b.key, p.relation, p.inliers, json.dumps(p.evidence())) for p in self.examine(keys)]

    def examine(self, keys: list[int]) -> Iterable[DuplicatePair]:
        """The new pairs of these records (each pair once per run)."""
        self._follow_index()
        records = self.catalog.records(keys)
        done = self.done  # pairs found in this run, from either side
        found = [(records[key], points, descriptors) for key, points, descriptors in self.catalog.local_features(keys)]
        passes = [(False, ASSIGNMENTS)] + ([(True, MIRRORED_ASSIGNMENTS)] if self.mirrors else [])
        features = [LocalFeatures(points, descriptors, a.width, a.height) for a, points, descriptors in found]
        looked_up = {mirrored: self._looked_up(features, mirrored, assignments) for mirrored, assignments in passes}
        for number, (a, _, _) in enumerate(found):
            same = self.catalog.records(self.shared_contents.get(a.content_hash, []))
            for pair in _identical(a, same):
                if (pair.a.key, pair.b.key) not in done:
                    done.add((pair.a.key, pair.b.key))
                    yield pair
            best: dict[int, tuple[StoredRecord, Verification]] = {}  # a symmetric print verifies both ways
            for mirrored, _ in passes:
                for b, verification in self._verified(a, *looked_up[mirrored][number], mirrored):
                    if b.key not in best or verification.inliers > best[b.key][1].inliers:
                        best[b.key] = (b, verification)
            for b, verification in best.values():
                pair = self._classified(a, b, verification)
                done.add((pair.a.key, pair.b.key))
                yield pair

    def _follow_index(self) -> None:
        """Read again which segment holds each record's postings, and the codebook, when a merge or a
        retrain has moved postings since: a run takes up to hours, an ingest may merge meanwhile, and a
        record looked for in its old segment would not be found once that is deleted."""
        generation = self.catalog.index_generation
        if generation != self.generation:
            self.index = WordIndex.current(self.catalog, self.index) or self.index
            self.segments = self.catalog.indexed_segments(self.index.codebook_id)
            self.live = CurrentPostings(self.segments)
            self.generation = generation

    def _looked_up(
        self, features: list[LocalFeatures], mirrored: bool, assignments: int
    ) -> list[tuple[LocalFeatures, np.ndarray]]:
        """Each record's features (mirrored, for the mirror pass) with their words, assigned in one call
        for all the records: per call, assigning costs a pass over the vocabulary (a fifth of a 20k run)."""
        sides = [f.mirrored() if mirrored else f for f in features]
        if not sides:
            return []
        words = self.index.codebook.assign(np.concatenate([side.descriptors for side in sides]), assignments)
        split = np.cumsum([len(side.descriptors) for side in sides])[:-1]
        return list(zip(sides, np.split(words, split), strict=True))

    def _verified(
        self, a: StoredRecord, features: LocalFeatures, words: np.ndarray, mirrored: bool
    ) -> Iterable[tuple[StoredRecord, Verification]]:
        """The best-voted other records that verify against a's features (mirrored ones: as a's mirror
        image), with their verification in a's own coordinates."""
        matches = self.index.matches(features.descriptors, words.shape[1], words).current(self.live)
        voted, _, counts = matches.votes()
        voted = voted[(counts >= MIN_VOTES) & (voted != a.key)].tolist()  # the best first
        others = list(islice((k for k in voted if (min(k, a.key), max(k, a.key)) not in self.done), CANDIDATES))
        found = self.catalog.records(others)
        for other in others:
            b = found.get(other)
            if b is None:
                continue
            query_idx, xy = matches.of(other, self.segments[other])
            verification = verify(features.points[query_idx], xy, (a.width, a.height), (b.width, b.height))
            if verification.verified:
                yield b, verification.flipped(a.width) if mirrored else verification

    def _classified(self, a: StoredRecord, b: StoredRecord, verification: Verification) -> DuplicatePair:
        """The pair (ordered by key) with its relation, from where and how well a agrees with b."""
        evidence = agreement(
            self.thumbnail(a.thumb_name),
            (a.width, a.height),
            self.thumbnail(b.thumb_name),
            (b.width, b.height),
            self.points(b.key),
            verification,
        )
        coverage_b = _share(verification.region, b)  # a's footprint in b
        coverage_a = _share(verification.query_region, a)  # b's outline in a
        if evidence.coverage < MIN_COVERAGE:  # a shared block or border (a symmetric one, mirrored too)
            relation = "overlap"
        elif verification.mirrored:
            relation = "mirror"
        elif evidence.relation() == Relation.SAME_PLATE:
            relation = "same_plate"  # the same lines, other colours
        elif min(coverage_a, coverage_b) >= WHOLE:
            relation = "identical" if self._same_pixels(a, b) else "rescan"
        else:
            relation = "detail" if max(coverage_a, coverage_b) >= WHOLE else "overlap"
        lines = self._lines(a, b, verification) if relation in ("rescan", "detail") else None
        if lines is not None and lines.pulled_again:
            relation = "same_plate"  # the same lines, other ink or other paper
        regions = (verification.query_region, verification.region)
        first, second = (a, b) if a.key < b.key else (b, a)
        region_first, region_second = regions if a.key < b.key else regions[::-1]
        shares = (coverage_a, coverage_b) if a.key < b.key else (coverage_b, coverage_a)
        return DuplicatePair(
            first,
            second,
            relation,
            verification.inliers,
            self._similarity(a.key, b.key),
            region_first,
            region_second,
            round(shares[0], 3),
            round(shares[1], 3),
            round(evidence.coverage, 3),
            evidence.colour_difference,
            verification.residual,
            None if lines is None else lines.ink_difference,
            None if lines is None else lines.stretch,
        )

    def _lines(self, a: StoredRecord, b: StoredRecord, verification: Verification) -> LineComparison | None:
        """How a's and b's lines compare where they overlap; None if either image cannot be read."""
        image, other = self.display_image(a.thumb_name), self.display_image(b.thumb_name)
        if image is None or other is None or verification.query_region is None:
            return None
        return compare_lines(image, (a.width, a.height), other, (b.width, b.height), verification.query_region)

    def _same_pixels(self, a: StoredRecord, b: StoredRecord) -> bool:
        """Do two files (say a TIFF and a PNG of one scan) decode to the same pixels? Their display
        copies, encoded alike from the decoded pixels, are then the same bytes."""
        if (a.width, a.height) != (b.width, b.height):
            return False
        first, second = (self.catalog.images_dir / record.thumb_name for record in (a, b))
        try:
            return first.read_bytes() == second.read_bytes()
        except OSError:
            return False

    def _similarity(self, a: int, b: int) -> float:
        keys, vectors = self.catalog.global_vectors([a, b])
        return round(float(vectors[0] @ vectors[1]), 4) if len(keys) == 2 else 0.0

    def _points(self, key: int) -> np.ndarray:
        return next((points for _, points, _ in self.catalog.local_features([key])), np.zeros((0, 2), np.float32))


_worker: _Examiner | None = None


def _start_worker(location: str, media: str, mirrors: bool) -> None:
    """A worker process's own catalog connection, index and examiner, kept for all its chunks."""
    global _worker
    from platemark.search.engine import limit_threads
    from platemark.store import open_catalog

    os.nice(WORKER_NICENESS)
    limit_threads(1)  # two processes with two BLAS threads each on two cores wait on each other: 2.5x slower
    catalog = open_catalog(location, media=media)
    index = WordIndex.load(catalog)
    if index is None:
        raise PlatemarkError(f"{location}: no local-feature index yet; run `platemark index`")
    _worker = _Examiner(catalog, index, mirrors)


def _examine_in_worker(keys: list[int]) -> list[tuple[int, int, str, int, str]]:
    if _worker is None:
        raise PlatemarkError("a duplicates worker was used before it started")
    return _worker.rows(keys)


def _identical(record: StoredRecord, same: dict[int, StoredRecord]) -> list[DuplicatePair]:
    pairs = []
    for other in (r for r in same.values() if r.key != record.key):
        first, second = (record, other) if record.key < other.key else (other, record)
        pairs.append(DuplicatePair(first, second, "identical", 0, 1.0, _whole(first), _whole(second), 1.0, 1.0))
    return pairs


def _names(a: StoredRecord, b: StoredRecord) -> tuple[tuple[str, str], tuple[str, str]]:
    first, second = sorted(((a.collection, a.record_id), (b.collection, b.record_id)))
    return first, second


def _chunks(keys: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _whole(record: StoredRecord) -> list[list[float]]:
    width, height = float(record.width), float(record.height)
    return [[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]]


def _share(outline: list[list[float]] | None, record: StoredRecord) -> float:
    """Share of the record's image inside an outline (clipped to the image)."""
    if outline is None:
        return 0.0
    inside, _ = cv2.intersectConvexConvex(np.float32(outline), np.float32(_whole(record)))
    return float(inside) / float(record.width * record.height)
