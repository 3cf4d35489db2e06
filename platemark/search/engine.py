"""The search pipeline: global shortlist + local-feature voting -> geometric verification -> ranking."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from platemark.errors import PlatemarkError
from platemark.extract.cnn import CNNExtractor
from platemark.extract.sift import QUERY_SIDE, LocalFeatures, SiftExtractor
from platemark.ingest.images import QUERY_MAX_SIDE, ImageSource, load_image
from platemark.search.filters import RecordFilter, filter_values
from platemark.search.knn import GlobalIndex
from platemark.search.local import Correspondences, LocalIndex
from platemark.search.verify import NOT_VERIFIED, Verification, verify
from platemark.store.sqlite import Catalog, StoredRecord


@dataclass(frozen=True)
class SearchOptions:
    """Knobs of the search pipeline; the defaults are the benchmarked configuration."""

    vote_candidates: int = 12
    global_candidates: int = 4
    min_votes: int = 5
    neighbours: int = 10
    ratio: float = 0.85
    try_mirror: bool = True
    #: Long sides at which the photo's local features are tried, in order, until one verifies:
    #: a print filling only a fifth of the photo needs the larger one.
    query_sides: tuple[int, ...] = (QUERY_SIDE, 2 * QUERY_SIDE)


@dataclass(frozen=True)
class SearchHit:
    """One result: the record, how similar it looks, and whether its geometry was verified."""

    record: StoredRecord
    similarity: float
    verification: Verification

    @property
    def score(self) -> float:
        """Inlier count plus global similarity (0-1): the value results are ranked by."""
        return round(self.verification.inliers + self.similarity, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record.record_id,
            "collection": self.record.collection,
            "score": self.score,
            "verified": self.verification.verified,
            "inliers": self.verification.inliers,
            "similarity": round(self.similarity, 4),
            "region": self.verification.region,
            "query_region": self.verification.query_region,
            "metadata": self.record.metadata,
        }


@dataclass
class SearchResponse:
    """The ranked hits for one query photo."""

    query: str
    results: list[SearchHit] = field(default_factory=list)
    elapsed_ms: float = 0.0
    stages_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "results": [hit.to_dict() for hit in self.results],
            "elapsed_ms": round(self.elapsed_ms, 1),
            "stages_ms": {stage: round(ms, 1) for stage, ms in self.stages_ms.items()},
        }


@contextlib.contextmanager
def _timed(stages: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of the block to stages[stage], in milliseconds."""
    started = time.perf_counter()
    yield
    stages[stage] = stages.get(stage, 0.0) + (time.perf_counter() - started) * 1000


class Searcher:
    """Search a catalog with photos. Loading builds (or reuses) the in-memory indexes once.

    Example:
        >>> searcher = Searcher(Catalog("./catalog"))
        >>> searcher.search("photo.jpg", top_k=5).results[0].record.record_id
    """

    def __init__(self, catalog: Catalog, options: SearchOptions | None = None, cnn: CNNExtractor | None = None) -> None:
        self.catalog = catalog
        self.options = options or SearchOptions()
        self.cnn = cnn or CNNExtractor()
        self.sift = {side: SiftExtractor(max_side=side, max_features=2000) for side in self.options.query_sides}
        self.keys, vectors = catalog.global_vectors()
        if len(self.keys) == 0:
            raise PlatemarkError(f"{catalog.path}: the catalog holds no records")
        self.global_index = GlobalIndex(vectors)
        self.local_index = load_local_index(catalog, self.keys)
        self.records = catalog.records()
        self.filter_values = filter_values(self.records.values())

    def search(
        self,
        image: ImageSource | np.ndarray,
        top_k: int = 10,
        where: RecordFilter | None = None,
        name: str | None = None,
    ) -> SearchResponse:
        """Rank the catalog's records for one photo.

        Args:
            image: a path, image bytes, or an RGB array.
            top_k: how many results to return.
            where: only return records that match this filter.

        Raises:
            UnreadableImage: the photo cannot be decoded.
        """
        started = time.perf_counter()
        stages: dict[str, float] = {}
        query_name = name or ("upload" if isinstance(image, bytes | np.ndarray) else str(image))
        allowed = self._allowed(where)
        with _timed(stages, "decode"):
            rgb = image if isinstance(image, np.ndarray) else load_image(image, max_side=QUERY_MAX_SIDE)
        with _timed(stages, "global"):
            query_vector = self.cnn.extract(rgb)
            rows, sims = self.global_index.search(query_vector, max(top_k, self.options.global_candidates), allowed)
        similarity = dict(zip(rows.tolist(), sims.tolist(), strict=True))

        shortlist = rows[: self.options.global_candidates]
        sides = self.options.query_sides
        passes = [(side, False) for side in sides] + ([(sides[0], True)] if self.options.try_mirror else [])
        verifications: dict[int, Verification] = {}
        for side, mirrored in passes:
            for row, found in self._verify(rgb, shortlist, allowed, stages, side, mirrored).items():
                if found.inliers > verifications.get(row, NOT_VERIFIED).inliers:
                    verifications[row] = found
            if any(v.verified for v in verifications.values()):
                break

        missing = [r for r in verifications if r not in similarity]
        if missing:
            vectors = self.global_index.index.reconstruct_batch(np.array(missing, np.int64))
            similarity.update(zip(missing, (vectors @ query_vector).tolist(), strict=True))
        ranked = sorted(
            set(similarity) | set(verifications),
            key=lambda r: (
                verifications.get(r, NOT_VERIFIED).verified,
                verifications.get(r, NOT_VERIFIED).inliers,
                similarity[r],
            ),
            reverse=True,
        )[:top_k]
        hits = [
            SearchHit(self.records[int(self.keys[r])], float(similarity[r]), verifications.get(r, NOT_VERIFIED))
            for r in ranked
        ]
        return SearchResponse(query_name, hits, (time.perf_counter() - started) * 1000, stages)

    def browse(self, where: RecordFilter | None = None) -> list[StoredRecord]:
        """Records matching a filter, ordered by collection and record id.

        Raises:
            UnknownFilterValue: the filter names a value no record has.
        """
        if where is not None:
            where.check(self.filter_values)
        chosen = [r for r in self.records.values() if where is None or where.matches(r)]
        return sorted(chosen, key=lambda r: (r.collection, r.record_id))

    def _allowed(self, where: RecordFilter | None) -> np.ndarray | None:
        """Mask of the record rows a filter admits (None: all)."""
        if where is None or where.empty:
            return None
        where.check(self.filter_values)
        return np.array([where.matches(self.records[int(key)]) for key in self.keys], bool)

    def _verify(
        self,
        rgb: np.ndarray,
        global_rows: np.ndarray,
        allowed: np.ndarray | None,
        stages: dict[str, float],
        side: int,
        mirrored: bool,
    ) -> dict[int, Verification]:
        """Verify the vote and global candidates; returns {record row: verification}."""
        opts = self.options
        photo = np.ascontiguousarray(rgb[:, ::-1]) if mirrored else rgb
        with _timed(stages, "local_features"):
            features = self.sift[side].extract(photo)
        with _timed(stages, "local_votes"):
            matches = self.local_index.correspondences(features.descriptors, opts.neighbours, opts.ratio)
        votes = np.bincount(matches.owner, minlength=len(self.keys))
        if allowed is not None:
            votes[~allowed] = 0
        by_votes = np.argsort(-votes, kind="stable")[: opts.vote_candidates]
        candidates = [int(r) for r in by_votes if votes[r] >= opts.min_votes]
        candidates += [int(r) for r in global_rows if int(r) not in candidates]
        results = {}
        shortlist = {int(r) for r in global_rows}
        with _timed(stages, "verify"):
            for row in candidates:
                results[row] = self._verify_one(row, features, matches, row in shortlist, mirrored)
        return results

    def _verify_one(
        self, row: int, features: LocalFeatures, matches: Correspondences, shortlisted: bool, mirrored: bool
    ) -> Verification:
        """Geometric verification of one candidate record."""
        opts = self.options
        query_idx, ref_rows = matches.of(row)
        if shortlisted and len(query_idx) < 3 * opts.min_votes:
            query_idx, ref_rows = self.local_index.match_record(features.descriptors, row, opts.ratio)
        record = self.records[int(self.keys[row])]
        found = verify(
            features.points[query_idx],
            self.local_index.points[ref_rows],
            (features.width, features.height),
            (record.width, record.height),
        )
        # MAGSAC rejects reflections, so a mirror scan is verified against the flipped
        # photo and only the outline in the photo is flipped back.
        return found.flipped(features.width) if mirrored else found


def load_local_index(catalog: Catalog, keys: np.ndarray) -> LocalIndex:
    """The catalog's local-feature index: the saved one if current, else rebuilt (and saved)."""
    generation = catalog.generation
    index = LocalIndex.load(catalog.index_dir, generation)
    if index is not None:
        return index
    row_of_key = {int(k): i for i, k in enumerate(keys)}
    owners, points, descriptors = [], [], []
    for key, record_points, record_descriptors in catalog.local_features():
        owners.append(np.full(len(record_points), row_of_key[key], np.int32))
        points.append(record_points)
        descriptors.append(record_descriptors)
    index = LocalIndex(
        np.concatenate(owners) if owners else np.zeros(0, np.int32),
        np.concatenate(points) if points else np.zeros((0, 2), np.float32),
        np.concatenate(descriptors) if descriptors else np.zeros((0, 128), np.uint8),
    )
    with contextlib.suppress(OSError):  # a read-only catalog still searches, rebuilding in memory
        index.save(catalog.index_dir, generation)
    return index
