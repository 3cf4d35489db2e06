"""Local-feature matching through the catalog's word index: a photo finds its print by voting.

Each photo keypoint is given its nearest visual words; the reference keypoints stored under those
words whose signatures lie within `MATCH_DISTANCE` bits are tentative correspondences, and votes
for their records, weighted by how close the signatures are and how rare the word is. Candidates
therefore do not depend on the global shortlist, the index holds every keypoint of every record
at any catalog size, and the correspondences carry the reference positions verification needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from platemark.index.codebook import MATCH_DISTANCE, SIGNATURE_BITS, Codebook, as_float, hamming
from platemark.index.postings import CurrentPostings, decode
from platemark.store.base import Catalog

#: Words each photo keypoint is looked up under: a descriptor near a cell border falls on either side.
#: 2, not 3: at 100k records the same recall@1 (museum 0.982, hatched 1.0) with p50 414 / 345 ms
#: instead of 542 / 489 (bench_scale.py): each extra word reads one more posting list per keypoint.
MULTIPLE_ASSIGNMENT = 2
#: Photo-posting pairs whose signatures are compared at once (see `_close_pairs`).
PAIRS_PER_STEP = 1 << 18


@dataclass
class Matches:
    """Tentative correspondences between photo keypoints and indexed reference keypoints."""

    query: np.ndarray  # (M,) photo keypoint index
    key: np.ndarray  # (M,) record key
    point: np.ndarray  # (M,) reference keypoint number
    xy: np.ndarray  # (M, 2) reference keypoint position
    segment: np.ndarray  # (M,) index segment the posting came from
    weight: np.ndarray  # (M,) vote: signature closeness x word rarity

    @classmethod
    def none(cls) -> Matches:
        empty = np.zeros(0, np.int64)
        return cls(empty, empty, empty, np.zeros((0, 2), np.float32), empty, np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.query)

    def where(self, mask: np.ndarray) -> Matches:
        return Matches(
            self.query[mask], self.key[mask], self.point[mask], self.xy[mask], self.segment[mask], self.weight[mask]
        )

    def votes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys, summed weights, correspondence counts), strongest first."""
        if len(self) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64)
        keys, inverse, counts = np.unique(self.key, return_inverse=True, return_counts=True)
        scores = np.bincount(inverse, weights=self.weight)
        order = np.argsort(-scores, kind="stable")
        return keys[order], scores[order], counts[order]

    def current(self, live: CurrentPostings) -> Matches:
        """Only the correspondences from records' current postings: a deleted record has none, and one
        re-ingested since it was indexed also has stale postings in an older segment."""
        return self.where(live.mask(self.key, self.segment))

    def of(self, key: int, segment: int) -> tuple[np.ndarray, np.ndarray]:
        """(photo keypoint idx, reference points) of one record's current postings."""
        mask = (self.key == key) & (self.segment == segment)
        return self.query[mask], self.xy[mask]


class WordIndex:
    """The catalog's active codebook, and lookups of photo descriptors in its posting lists.

    Nothing but the codebook is held in memory: the posting lists are read from the catalog per
    search, so every worker shares one index and sees records as soon as they are indexed.
    """

    def __init__(self, catalog: Catalog, codebook_id: int, codebook: Codebook) -> None:
        self.catalog = catalog
        self.codebook_id = codebook_id
        self.codebook = codebook
        self.records = max(1, catalog.count())

    @classmethod
    def load(cls, catalog: Catalog) -> WordIndex | None:
        """The index of the catalog's active codebook, or None if it has none yet."""
        found = catalog.codebook("active")
        return cls(catalog, found[0], Codebook.from_bytes(found[1])) if found else None

    @classmethod
    def current(cls, catalog: Catalog, held: WordIndex | None) -> WordIndex | None:
        """`held` if its codebook is still the active one, else the index of the one that is (a retrain
        swapped it, or the first was trained): one small query per search."""
        active = catalog.active_codebook_id()
        if held is not None and active == held.codebook_id:
            return held
        return cls.load(catalog) if active is not None else None

    def posting_rows(
        self, words: list[int], fetched: dict[int, list[tuple[int, bytes]]] | None = None
    ) -> list[tuple[int, int, bytes]]:
        """(word, segment, posting bytes) of these words (ascending), by word, then segment. With `fetched`
        only the lists not in it are read, and kept there: a search's later passes (the larger scale, the
        mirrored photo) look up 26-74% of the first pass's words again. Two passes may add at once; the
        first to add a word keeps its lists."""
        if fetched is None:
            return list(self.catalog.postings(self.codebook_id, words))
        missing = [word for word in words if word not in fetched]
        read: dict[int, list[tuple[int, bytes]]] = {word: [] for word in missing}
        for word, segment, data in self.catalog.postings(self.codebook_id, missing):
            read[word].append((segment, data))
        for word, lists in read.items():
            fetched.setdefault(word, lists)
        return [(word, segment, data) for word in words for segment, data in fetched[word]]

    def matches(
        self,
        descriptors: np.ndarray,
        assignments: int = MULTIPLE_ASSIGNMENT,
        assigned: np.ndarray | None = None,
        fetched: dict[int, list[tuple[int, bytes]]] | None = None,
    ) -> Matches:
        """Correspondences of photo descriptors ((N, 128) RootSIFT) with every indexed record.

        Each photo keypoint keeps its best correspondence per record, and each reference keypoint
        its best photo keypoint, as a nearest-neighbour test would. `assignments`: words each
        keypoint is looked up under; `assigned`: those words ((N, assignments), `Codebook.assign`)
        when they are known already: assigning many images' keypoints in one call costs one pass
        over the vocabulary instead of one per image. `fetched`: {word: [(segment, posting bytes)]}
        of the posting lists earlier passes of the same search read, added to here (`posting_rows`).
        """
        if len(descriptors) == 0:
            return Matches.none()
        if assigned is None:
            assigned = self.codebook.assign(descriptors, assignments)
        query = np.repeat(np.arange(len(descriptors)), assigned.shape[1])
        words = assigned.ravel()
        signatures = self.codebook.signatures(np.repeat(descriptors, assigned.shape[1], axis=0), words)
        rows = self.posting_rows(np.unique(words).tolist(), fetched)
        if not rows:
            return Matches.none()
        postings = decode(b"".join(data for _, _, data in rows))
        row_sizes = np.array([len(data) for _, _, data in rows]) // postings.itemsize
        segments = np.repeat([segment for _, segment, _ in rows], row_sizes)
        row_words = np.array([word for word, _, _ in rows], np.int64)
        listed, first = np.unique(row_words, return_index=True)
        row_starts = np.cumsum(row_sizes) - row_sizes
        starts = row_starts[first]
        sizes = np.add.reduceat(row_sizes, first)
        at = np.searchsorted(listed, words)
        has = (at < len(listed)) & (listed[np.minimum(at, len(listed) - 1)] == words)
        entry = np.flatnonzero(has)
        pair_entry, pair_posting, distance = _close_pairs(
            signatures, np.ascontiguousarray(postings["signature"]), entry, starts[at[entry]], sizes[at[entry]]
        )
        idf = np.log1p(self.records / sizes)[at[pair_entry]]
        weight = ((1 - 2 * distance / SIGNATURE_BITS) ** 3 * idf).astype(np.float32)
        found = postings[pair_posting]
        matches = Matches(
            query[pair_entry],
            found["key"].astype(np.int64),
            found["point"].astype(np.int64),
            np.column_stack([found["x"], found["y"]]).astype(np.float32),
            segments[pair_posting],
            weight,
        )
        return _best_pairs(matches)


def _close_pairs(
    signatures: np.ndarray, stored: np.ndarray, entry: np.ndarray, starts: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo entry, posting, distance) of the pairs whose signatures lie within `MATCH_DISTANCE` bits, of
    photo entries `entry` (signatures[entry]) against the `counts` postings from `starts` in `stored`.

    Pairs are compared `PAIRS_PER_STEP` at a time: at a million records a photo makes ~2-3 million, of
    which ~1 in 10 is close, and all at once took ~200 MB of a worker's memory per pass.
    """
    ends = np.cumsum(counts)
    cuts = np.searchsorted(ends, np.arange(PAIRS_PER_STEP, ends[-1] if len(ends) else 0, PAIRS_PER_STEP))
    found = []
    for part in np.split(np.arange(len(entry)), np.unique(cuts)):
        part_counts = counts[part]
        pair_entry = np.repeat(entry[part], part_counts)
        # posting of pair j: its entry's start + j's place among that entry's pairs
        first = np.cumsum(part_counts) - part_counts
        pair_posting = np.repeat(starts[part] - first, part_counts) + np.arange(len(pair_entry))
        distance = hamming(signatures[pair_entry], stored[pair_posting])
        close = distance <= MATCH_DISTANCE
        found.append((pair_entry[close], pair_posting[close], distance[close]))
    entries, postings, distances = zip(*found, strict=True)
    return np.concatenate(entries), np.concatenate(postings), np.concatenate(distances)


def _best_pairs(matches: Matches) -> Matches:
    """Keep each photo keypoint's best correspondence per record, then each reference keypoint's best."""
    order = np.argsort(-matches.weight, kind="stable")
    matches = matches.where(order)
    # keypoint numbers are below 2**16 (uint16 in a posting)
    _, first = np.unique((matches.key << 16) | matches.query, return_index=True)
    matches = matches.where(np.sort(first))
    _, first = np.unique((matches.key << 16) | matches.point, return_index=True)
    return matches.where(np.sort(first))


def match_descriptors(
    descriptors: np.ndarray, reference: np.ndarray, ratio: float = 0.85
) -> tuple[np.ndarray, np.ndarray]:
    """Exhaustive Lowe-ratio matching of query descriptors against one record's: (query idx, reference idx),
    each reference keypoint used once. For records not indexed yet, and the brute-force peer."""
    if len(reference) < 2 or len(descriptors) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d2, best2 = faiss.knn(as_float(descriptors), as_float(reference), 2)
    good = d2[:, 0] < (ratio**2) * d2[:, 1]
    query_idx = np.flatnonzero(good)
    reference_idx = best2[good, 0]
    _, first = np.unique(reference_idx, return_index=True)
    return query_idx[first], reference_idx[first]
