"""The search pipeline: global shortlist + local-feature voting -> geometric verification -> ranking.

One path at every catalog size: each photo keypoint votes through the catalog's word index
(`platemark.search.local`), which holds every keypoint of every record, and the best-voted
records and the global shortlist are verified with the correspondences the votes carry. A record
ingested but not indexed yet is still found through the global shortlist, matched exhaustively
against its stored keypoints.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import faiss
import numpy as np

from platemark.errors import PlatemarkError
from platemark.extract.cnn import CNNExtractor
from platemark.extract.sift import QUERY_SIDE, LocalFeatures, SiftExtractor
from platemark.images import QUERY_MAX_SIDE, ImageSource, load_image
from platemark.index.postings import CurrentPostings
from platemark.search.local import Matches, WordIndex, match_descriptors
from platemark.search.relation import Agreement, Relation, agreement, thumbnail
from platemark.search.verdicts import ORDER, Verdict, verdicts
from platemark.search.verify import NOT_VERIFIED, Verification, verify
from platemark.store.base import Catalog, StoredRecord
from platemark.store.filters import RecordFilter


@dataclass(frozen=True)
class SearchOptions:
    """Knobs of the search pipeline; the defaults are the benchmarked configuration."""

    vote_candidates: int = 12
    global_candidates: int = 4
    #: When the index's correspondences verify no candidate, the best-voted ones are verified again by
    #: matching the photo against their stored descriptors: the word index finds the right record,
    #: but on a distorted photo only ~1 in 5 true matches share a word and a close signature, too few
    #: for a homography (museum bench, qsd1_w4/00025: 6 inliers from the index, 49 from matching).
    exact_candidates: int = 4
    min_votes: int = 5
    #: The best-voted records with fewer than `min_votes` correspondences go to that matching too (before
    #: the global shortlist): in a large vocabulary a print photographed from far away may share only a
    #: few words with its record, and still be matched exhaustively with dozens of inliers. At 500k
    #: records (a million words) that was the case for 7 of the 18 far-away photos not found, each the
    #: best-voted record on 1-4 correspondences (bench_scale.py).
    weak_candidates: int = 2
    #: Lowe's ratio for exhaustive matching (records not indexed yet).
    ratio: float = 0.85
    try_mirror: bool = True
    #: Long sides at which the photo's local features are tried, in order, until one verifies:
    #: a print filling only a fifth of the photo needs the larger one. 2x, not 1.5x: both verify as
    #: many far-away photos (bench_scale.py, 100k records: 0.817), but at 1.5x the right record comes
    #: first unverified for fewer (recall@1 0.833 instead of 0.883).
    query_sides: tuple[int, ...] = (QUERY_SIDE, 2 * QUERY_SIDE)


@dataclass(frozen=True)
class SearchHit:
    """One result: the record, how similar it looks, and whether its geometry was verified."""

    record: StoredRecord
    similarity: float
    verification: Verification
    verdict: Verdict = Verdict.CANDIDATE
    #: For a verified hit: how the record relates to the photographed sheet, and the evidence.
    agreement: Agreement | None = None

    @property
    def relation(self) -> Relation | None:
        """this sheet, a detail of it, another impression of its plate, or its mirror; None unverified"""
        if self.agreement is None:
            return None
        return self.agreement.relation(self.verification.mirrored)

    @property
    def claims_sheet(self) -> bool:
        """The hit says the photographed sheet is this record: verified on its own part of the photo,
        as this sheet or a detail of it."""
        return self.verdict.claims_match and self.relation is not None and self.relation.claims_sheet

    @property
    def score(self) -> float:
        """The value results are ranked by (see `Verification.score`)."""
        return self.verification.score(self.similarity)

    def iiif_match(self) -> dict[str, str | None] | None:
        """IIIF links that open this match: the region's Image API URL, a canvas target and a
        Content State (see `IIIFLink.match`); None for a record without a IIIF link."""
        if self.record.iiif is None:
            return None
        return self.record.iiif.match(self.verification.region, (self.record.width, self.record.height))

    def to_dict(self) -> dict[str, Any]:
        iiif = {**self.record.iiif.public(), **(self.iiif_match() or {})} if self.record.iiif else None
        return {
            "record_id": self.record.record_id,
            "collection": self.record.collection,
            "score": self.score,
            "verified": self.verification.verified,
            "verdict": str(self.verdict),
            "relation": str(self.relation) if self.relation else None,
            "coverage": round(self.agreement.coverage, 3) if self.agreement else None,
            "colour_difference": self.agreement.colour_difference if self.agreement else None,
            "inliers": self.verification.inliers,
            "similarity": round(self.similarity, 4),
            "region": self.verification.region,
            "query_region": self.verification.query_region,
            "metadata": self.record.metadata,
            "iiif": iiif,
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


def limit_threads(threads: int = 1) -> None:
    """Let one search use `threads` cores (torch, OpenCV and numpy's BLAS are process-wide; faiss's OpenMP
    count is per thread, so each search sets it again on its own thread).

    One thread per search is the default everywhere: on a machine that is busy with anything
    else (an ingest, another worker), torch's and OpenMP's threads wait on each other and a
    2-thread search becomes 20 times slower, while a 1-thread search keeps its speed.
    """
    import cv2
    import threadpoolctl
    import torch

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    cv2.setNumThreads(threads)
    threadpoolctl.threadpool_limits(threads, user_api="blas")  # numpy's matrix products (word assignment)


@contextlib.contextmanager
def _timed(stages: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of the block to stages[stage], in milliseconds."""
    started = time.perf_counter()
    yield
    stages[stage] = stages.get(stage, 0.0) + (time.perf_counter() - started) * 1000


class Searcher:
    """Search a catalog with photos. Loading builds (or reuses) the in-memory indexes once.

    `threads` sets the process's torch, faiss and OpenCV threads (see `limit_threads`): one per
    search keeps searches fast next to other work; run several searches to use several cores. A
    search uses a second core where its own steps are independent, each on one thread (the global
    descriptor beside the first local features, ~0.1 s; two candidates' exhaustive matching), and
    for the larger scale's features when the first pass verified nothing, on two OpenCV threads.

    Example:
        >>> searcher = Searcher(open_catalog("./catalog"))
        >>> searcher.search("photo.jpg", top_k=5).results[0].record.record_id
    """

    def __init__(
        self,
        catalog: Catalog,
        options: SearchOptions | None = None,
        cnn: CNNExtractor | None = None,
        threads: int = 1,
    ) -> None:
        limit_threads(threads)
        self.catalog = catalog
        self.options = options or SearchOptions()
        self.cnn = cnn or CNNExtractor()
        self.sift = {side: SiftExtractor(max_side=side, max_features=2000) for side in self.options.query_sides}
        self.threads = threads
        self._second_core = ThreadPoolExecutor(  # faiss's OpenMP count is per thread: the mirror pass uses it
            max_workers=1,
            thread_name_prefix="platemark-second-core",
            initializer=faiss.omp_set_num_threads,
            initargs=(threads,),
        )
        #: exhaustive matching of several candidates, two at a time (faiss and OpenCV release the GIL)
        self._matching = ThreadPoolExecutor(
            max_workers=2,
            thread_name_prefix="platemark-matching",
            initializer=faiss.omp_set_num_threads,
            initargs=(threads,),
        )
        self.record_count = catalog.count()
        if self.record_count == 0:
            raise PlatemarkError(f"{catalog.location}: the catalog holds no records")
        catalog.warm()
        self.word_index = WordIndex.load(catalog)
        self.filter_values = catalog.filter_values()

    def refresh(self) -> None:
        """Catch up with a catalog an ingest has changed, off the search path: the store's global index
        adds, replaces and forgets records (the word index is looked up anew by each search), and the
        record count and the values filters offer are read again."""
        self.catalog.warm()
        self.record_count = self.catalog.count()
        self.filter_values = self.catalog.filter_values()

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
            UnknownFilterValue: the filter names a value no record has.
        """
        started = time.perf_counter()
        faiss.omp_set_num_threads(self.threads)  # OpenMP's count is per thread, and servers search on their own
        stages: dict[str, float] = {}
        query_name = name or ("upload" if isinstance(image, bytes | np.ndarray) else str(image))
        if where is not None and where.empty:
            where = None
        if where is not None:
            where.check(self.filter_values)
        word_index = self.word_index = WordIndex.current(self.catalog, self.word_index)
        with _timed(stages, "decode"):
            rgb = image if isinstance(image, np.ndarray) else load_image(image, max_side=QUERY_MAX_SIDE)
        sides = self.options.query_sides
        # The global descriptor is computed on a second core while the first local features are:
        # each releases the GIL, and the search takes the longer of the two, not their sum.
        with _timed(stages, "features"):
            embedding = self._second_core.submit(self.cnn.extract, rgb)
            local = {sides[0]: self.sift[sides[0]].extract(rgb)}
            query_vector = embedding.result()
        with _timed(stages, "global"):
            wanted = self.options.global_candidates
            keys, sims = self.catalog.nearest(query_vector, max(top_k, wanted), where)
        similarity = dict(zip(keys.tolist(), sims.tolist(), strict=True))

        allowed = self.catalog.keys_matching(where) if where is not None else None
        shortlist = keys[:wanted].tolist()
        verifications: dict[int, Verification] = {}
        candidates = _Candidates(word_index)

        def found_in(side: int) -> dict[int, Verification]:
            return self._verify(local[side], side, False, shortlist, allowed, stages, candidates)

        def merged(found: dict[int, Verification]) -> bool:
            """Keep each record's best verification; True once one verified."""
            for key, verification in found.items():
                if verification.inliers > verifications.get(key, NOT_VERIFIED).inliers:
                    verifications[key] = verification
            return any(v.verified for v in verifications.values())

        if not merged(found_in(sides[0])):
            # The passes go on in order, until one verifies: the larger scales, then the mirrored photo. The
            # mirror pass is verified on the second core beside the first larger scale's, so a photo that
            # verifies nothing (a print not in the collection) waits for the slower of the two, not for both.
            def mirror_pass() -> Future[dict[int, Verification]] | None:
                if not self.options.try_mirror:
                    return None
                features = local[sides[0]].mirrored()
                return self._second_core.submit(  # its stages are not timed: it runs beside another pass
                    self._verify, features, sides[0], True, shortlist, allowed, {}, candidates
                )

            mirror = None
            for side in sides[1:]:
                with _timed(stages, "local_features"):
                    local[side] = self._extract_on_both_cores(side, rgb)
                mirror = mirror or mirror_pass()
                if merged(found_in(side)):
                    break
            else:
                mirror = mirror or mirror_pass()
            if mirror is not None:
                with _timed(stages, "mirror"):
                    mirrored = mirror.result()  # waited for even when not needed: no pass outlives the search
                if not any(v.verified for v in verifications.values()):
                    merged(mirrored)  # the mirrored photo counts only when no larger scale verified

        if missing := [k for k in verifications if k not in similarity]:
            found_keys, vectors = self.catalog.global_vectors(missing)
            similarity.update(zip(found_keys.tolist(), (vectors @ query_vector).tolist(), strict=True))
        ranked = sorted(
            similarity,  # verified records were added above, unless an ingest deleted them meanwhile
            key=lambda k: verifications.get(k, NOT_VERIFIED).score(similarity[k]),
            reverse=True,
        )[:top_k]
        records = candidates.records
        records.update(self.catalog.records(k for k in ranked if k not in records))
        kept = [k for k in ranked if k in records]  # a record deleted by an ingest meanwhile is left out
        found = verdicts([verifications.get(k, NOT_VERIFIED) for k in kept])
        with _timed(stages, "relation"):
            agreements = self._agreements(rgb, [records[k] for k in kept], verifications, candidates)
        hits = [
            SearchHit(records[k], float(similarity[k]), verifications.get(k, NOT_VERIFIED), verdict, agreements.get(k))
            for k, verdict in zip(kept, found, strict=True)
        ]
        hits.sort(key=lambda hit: ORDER.index(hit.verdict))  # stable: by score within a verdict
        return SearchResponse(query_name, hits, (time.perf_counter() - started) * 1000, stages)

    def _extract_on_both_cores(self, side: int, rgb: np.ndarray) -> LocalFeatures:
        """The photo's local features at a larger scale, on twice the search's OpenCV threads: nothing else
        of the search runs meanwhile (1024 px: ~100 ms on two threads, ~160 ms on one)."""
        cv2.setNumThreads(2 * self.threads)
        try:
            return self.sift[side].extract(rgb)
        finally:
            cv2.setNumThreads(self.threads)

    def browse(
        self, where: RecordFilter | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[StoredRecord], int]:
        """One page of records matching a filter, ordered by collection and record id, and the count.

        Raises:
            UnknownFilterValue: the filter names a value no record has.
        """
        if where is not None:
            where.check(self.filter_values)
        return self.catalog.browse(where, offset, limit)

    def _verify(
        self,
        features: LocalFeatures,
        side: int,
        mirrored: bool,
        shortlist: list[int],
        allowed: np.ndarray | None,
        stages: dict[str, float],
        known: _Candidates,
    ) -> dict[int, Verification]:
        """Verify the vote and global candidates with one pass's photo features (extracted at `side`,
        maybe mirrored); returns {record key: verification}."""
        opts = self.options
        matches = Matches.none()
        if known.index is not None:
            with _timed(stages, "local_votes"):
                matches = known.index.matches(features.descriptors, fetched=known.postings)
                if allowed is not None:
                    matches = matches.where(np.isin(matches.key, allowed))
        voted = _voted(matches, opts.min_votes, 3 * opts.vote_candidates, 3 * opts.weak_candidates)
        with _timed(stages, "fetch"):
            current = known.fetch(self.catalog, voted + shortlist)
        # votes again from current postings only: a deleted record has none, a re-ingested one its new ones
        matches = matches.current(CurrentPostings({k: current[k] for k in voted + shortlist if k in current}))
        candidates = _voted(matches, opts.min_votes, opts.vote_candidates, opts.weak_candidates)
        candidates += [k for k in shortlist if k not in candidates]
        results = {}
        with _timed(stages, "verify"):
            for key in candidates:
                if key in known.records and key in current:
                    results[key] = self._verified(features, known.records[key], *matches.of(key, current[key]))
        # When the index's correspondences verified nothing: the best-voted records, matched against their
        # stored descriptors, once per photo scale (the mirror pass adds only new candidates: the same
        # keypoints, mirrored); and always the records not indexed yet.
        tried = known.matched.setdefault(side, set())
        exact = [k for k in candidates[: opts.exact_candidates] if k in results and k not in tried]
        if any(found.verified for found in results.values()):
            exact = []
        tried.update(exact)
        exact += [k for k in candidates if k in known.records and k not in current]
        with _timed(stages, "fetch"):
            known.fetch_keypoints(self.catalog, exact)

        def matched(key: int) -> Verification:
            reference_points, descriptors = known.keypoints[key]
            query_idx, reference_idx = match_descriptors(features.descriptors, descriptors, opts.ratio)
            return self._verified(features, known.records[key], query_idx, reference_points[reference_idx])

        with _timed(stages, "verify_exact"):
            for key, found in zip(exact, self._matching.map(matched, exact), strict=True):
                if found.inliers >= results.get(key, NOT_VERIFIED).inliers:
                    results[key] = found
        if mirrored:  # MAGSAC rejects reflections, so a mirror scan is verified against the mirrored
            # photo's features and only the outline in the photo is flipped back.
            results = {key: found.flipped(features.width) for key, found in results.items()}
        return results

    def _agreements(
        self,
        photo: np.ndarray,
        records: list[StoredRecord],
        verifications: dict[int, Verification],
        known: _Candidates,
    ) -> dict[int, Agreement]:
        """{key: how the photo agrees with the record} for the verified records (see `relation`)."""
        verified = [r for r in records if verifications.get(r.key, NOT_VERIFIED).verified]
        known.fetch_keypoints(self.catalog, [r.key for r in verified])
        size = (photo.shape[1], photo.shape[0])
        return {
            record.key: agreement(
                photo,
                size,
                thumbnail(self.catalog, record.thumb_name),
                (record.width, record.height),
                known.keypoints[record.key][0],
                verifications[record.key],
            )
            for record in verified
        }

    @staticmethod
    def _verified(
        features: LocalFeatures, record: StoredRecord, query_idx: np.ndarray, reference_points: np.ndarray
    ) -> Verification:
        return verify(
            features.points[query_idx],
            reference_points,
            (features.width, features.height),
            (record.width, record.height),
        )


def _voted(matches: Matches, min_votes: int, strong: int, weak: int) -> list[int]:
    """The keys of the `strong` best-voted records with at least `min_votes` correspondences, then of the
    `weak` best-voted with fewer, each by its summed vote."""
    keys, _, counts = matches.votes()
    enough = counts >= min_votes
    return [int(k) for k in (*keys[enough][:strong], *keys[~enough][:weak])]


@dataclass
class _Candidates:
    """Records of one search's candidates and the index segments holding them, fetched once for all passes.

    `index` is the word index the search started with: every pass uses it, though a concurrent search
    may give the Searcher a new codebook's meanwhile."""

    index: WordIndex | None
    records: dict[int, StoredRecord] = field(default_factory=dict)
    segments: dict[int, int] = field(default_factory=dict)
    keypoints: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: {photo scale: indexed records already matched exhaustively at it}
    matched: dict[int, set[int]] = field(default_factory=dict)
    #: {word: [(segment, posting bytes)]} read by the passes so far (`WordIndex.posting_rows`)
    postings: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    _asked: set[int] = field(default_factory=set)
    #: two passes may fetch at once (the mirror pass runs beside a larger scale's)
    _fetching: threading.Lock = field(default_factory=threading.Lock)

    def fetch(self, catalog: Catalog, keys: list[int]) -> dict[int, int]:
        """Fetch what is missing; returns {key: segment of its current postings} of the indexed ones."""
        with self._fetching:
            wanted = [k for k in keys if k not in self._asked]
            self._asked.update(wanted)
            self.records.update(catalog.records(wanted))
            if self.index is not None:
                self.segments.update(catalog.indexed_segments(self.index.codebook_id, wanted))
            return dict(self.segments)

    def fetch_keypoints(self, catalog: Catalog, keys: list[int]) -> None:
        """Read the (points, descriptors) of these records, each once per search."""
        empty = (np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))
        with self._fetching:
            wanted = [k for k in keys if k not in self.keypoints]
            self.keypoints.update(dict.fromkeys(wanted, empty))  # a record deleted meanwhile matches nothing
            for key, points, descriptors in catalog.local_features(wanted):
                self.keypoints[key] = (points, descriptors)
