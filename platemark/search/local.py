"""An index over every reference keypoint, so a photo finds its print by voting.

Each query descriptor looks up its nearest reference descriptors; a neighbour that is
clearly closer than the background (the k-th neighbour) is a tentative correspondence
and a vote for its record. Candidates therefore do not depend on the global shortlist,
and the correspondences feed geometric verification directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from platemark.extract.sift import DESCRIPTOR_SCALE

#: Below this many reference descriptors the search is exact.
EXACT_LIMIT = 100_000


@dataclass
class Correspondences:
    """Tentative matches between query keypoints and reference keypoints."""

    query: np.ndarray  # (M,) query keypoint index
    reference: np.ndarray  # (M,) row in the index's point table
    owner: np.ndarray  # (M,) record row the reference keypoint belongs to

    @classmethod
    def none(cls) -> Correspondences:
        return cls(*(np.zeros(0, t) for t in (np.int64, np.int64, np.int32)))

    def of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(query keypoint index, reference point row) pairs for one record row."""
        mask = self.owner == row
        return self.query[mask], self.reference[mask]


class LocalIndex:
    """Reference keypoints of all records: positions, owners, and a faiss index of descriptors.

    Args:
        keys: catalog key of each record row.
        owners: record row (0..len(keys)-1) of each keypoint, ascending.
        points: (M, 2) keypoint positions in their reference image.
        descriptors: (M, 128) uint8 RootSIFT.
        per_record: 0 if the index holds every keypoint of every record, else how many of each
            record's strongest keypoints it holds (enough to vote, not to verify).
    """

    def __init__(
        self,
        keys: np.ndarray,
        owners: np.ndarray,
        points: np.ndarray,
        descriptors: np.ndarray,
        index: faiss.Index | None = None,
        per_record: int = 0,
    ) -> None:
        self.keys = np.asarray(keys, np.int64)
        self.per_record = per_record
        self.row_of = {int(key): row for row, key in enumerate(self.keys)}
        self.owners = owners.astype(np.int32)
        self.points = points.astype(np.float32)
        self.descriptors = descriptors
        self.starts = np.searchsorted(self.owners, np.arange(len(self.keys) + 1))
        self.index = index if index is not None else self._build(descriptors)

    @staticmethod
    def _build(descriptors: np.ndarray) -> faiss.Index:
        vectors = _as_float(descriptors)
        count = len(vectors)
        if count <= EXACT_LIMIT:
            index = faiss.IndexFlatL2(128)
        else:
            nlist = int(np.clip(4 * np.sqrt(count), 256, 16384))
            # An HNSW graph finds the nearest lists: with thousands of lists, comparing every photo
            # descriptor with every centroid would cost more than scanning the lists.
            index = faiss.index_factory(128, f"IVF{nlist}_HNSW32,SQ8")
            sample = np.random.default_rng(0).choice(count, min(count, 40 * nlist), replace=False)
            index.train(vectors[np.sort(sample)])
            faiss.extract_index_ivf(index).nprobe = 12
        for start in range(0, count, 200_000):
            index.add(vectors[start : start + 200_000])
        return index

    @property
    def complete(self) -> bool:
        """Whether it holds every keypoint, so its correspondences can be verified directly."""
        return self.per_record == 0

    def __len__(self) -> int:
        return len(self.owners)

    def record_points(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(point rows, descriptors) of one record."""
        start, end = self.starts[row], self.starts[row + 1]
        return np.arange(start, end), self.descriptors[start:end]

    def correspondences(self, descriptors: np.ndarray, k: int = 10, ratio: float = 0.85) -> Correspondences:
        """Tentative correspondences of query descriptors to all reference keypoints.

        A neighbour is kept when its distance is below `ratio` times that of the k-th
        neighbour; each query keypoint votes at most once per record, and each
        reference keypoint is used by at most one query keypoint.
        """
        if len(self) == 0 or len(descriptors) == 0:
            return Correspondences.none()
        k = min(k, len(self))
        distances, neighbours = self.index.search(_as_float(descriptors), k)
        background = np.maximum(distances[:, -1:], 1e-6)
        relative = distances / background
        accept = (neighbours >= 0) & (relative < ratio**2)
        query = np.repeat(np.arange(len(descriptors)), k).reshape(-1, k)[accept]
        reference, relative = neighbours[accept], relative[accept]
        if len(query) == 0:
            return Correspondences.none()
        order = np.argsort(relative, kind="stable")  # closest first: the de-duplications keep the best
        query, reference = query[order], reference[order]
        owner = self.owners[reference]
        _, first = np.unique(query.astype(np.int64) * (int(owner.max()) + 1) + owner, return_index=True)
        keep = np.sort(first)
        query, reference, owner = query[keep], reference[keep], owner[keep]
        _, first = np.unique(reference, return_index=True)
        keep = np.sort(first)
        return Correspondences(query[keep], reference[keep], owner[keep])

    def match_record(self, descriptors: np.ndarray, row: int, ratio: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
        """Exhaustive matching of query descriptors against one record's keypoints: (query idx, point rows)."""
        rows, reference = self.record_points(row)
        query_idx, reference_idx = match_descriptors(descriptors, reference, ratio)
        return query_idx, rows[reference_idx]

    # -- persistence ------------------------------------------------------------------------
    def save(self, folder: Path, generation: int) -> None:
        """Write the index as one file, atomically (other processes may be writing it too),
        tagged with the catalog generation it reflects."""
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f"local.npz.{os.getpid()}.part"
        with open(part, "wb") as handle:
            np.savez(
                handle,
                keys=self.keys,
                owners=self.owners,
                points=self.points,
                descriptors=self.descriptors,
                generation=np.int64(generation),
                per_record=np.int64(self.per_record),
                index=faiss.serialize_index(self.index),
            )
        part.replace(folder / "local.npz")

    @classmethod
    def load(cls, folder: Path, generation: int, per_record: int = 0) -> LocalIndex | None:
        """The saved index if it reflects `generation` and holds `per_record` keypoints, else None."""
        try:
            arrays = np.load(folder / "local.npz")
            if int(arrays["generation"]) != generation or int(arrays["per_record"]) != per_record:
                return None
            index = faiss.deserialize_index(arrays["index"])
            return cls(arrays["keys"], arrays["owners"], arrays["points"], arrays["descriptors"], index, per_record)
        except (OSError, KeyError, ValueError, RuntimeError):
            return None


def match_descriptors(
    descriptors: np.ndarray, reference: np.ndarray, ratio: float = 0.85
) -> tuple[np.ndarray, np.ndarray]:
    """Exhaustive Lowe-ratio matching of query descriptors against one record's: (query idx, reference idx),
    each reference keypoint used once."""
    if len(reference) < 2 or len(descriptors) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d2, best2 = faiss.knn(_as_float(descriptors), _as_float(reference), 2)
    good = d2[:, 0] < (ratio**2) * d2[:, 1]
    query_idx = np.flatnonzero(good)
    reference_idx = best2[good, 0]
    _, first = np.unique(reference_idx, return_index=True)
    return query_idx[first], reference_idx[first]


def _as_float(descriptors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(descriptors, dtype=np.float32) / DESCRIPTOR_SCALE
