"""The embedded catalog's index of global CNN vectors: exact below ANN_THRESHOLD records, HNSW above.

Each worker process holds the index in memory, so above ANN_THRESHOLD the vectors are kept in 4 bits
per dimension (faiss's scalar quantizer, each dimension's range learned from the vectors): at a
million records a worker holds 0.91 GB instead of 5.4 (1.55 in 8 bits). The quantized vectors only
steer the graph search: SQLiteCatalog.nearest ranks the neighbours found by their stored float32
vectors, and at a million records the 4-bit index's top 1 was the exact one at least as often as the 8-bit's
(benchmarks/README.md, "The global index in 4 bits").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import faiss
import numpy as np

#: Above this many records the global shortlist uses an approximate (HNSW) index.
ANN_THRESHOLD = 50_000
#: Candidates the HNSW search keeps. 200 gave recall@10 0.958 on bench_store_vectors.py's million
#: vectors, but among bench_scale's distractors (mixed from 886 images: dense clusters) the graph search
#: gets lost: with 8 bits at 500k the museum photos' top 1 was the exact one for only 0.591 (exact
#: search: 0.891), 1600 found 0.891. With 4 bits at 1M, 1600 found 0.855 and missed the record of a photo
#: the word index did not find either; 3200 found 0.891, and 0.991 of the real records by their own
#: vector (6400: 1.0, for 57 ms at the median instead of 30; nearest(10), 110 photos).
EF_SEARCH = 3200
#: A catalog's vectors are streamed into a large index; every this-many-th trains its quantizer.
TRAINING_STEP = 20
#: Share of each dimension's sampled range added on either side before quantizing (a 250-vector sample
#: found 0.938 of the exact top 10 without it, 0.962 with it; tests/store/test_vectors.py).
RANGE_MARGIN = 0.05
#: An index that has changed by this share of its vectors since it was saved is saved again, so that a
#: worker started later has few records to catch up on.
SAVE_AFTER = 0.1
#: An index holding this share of vectors of records deleted or replaced since is built again.
MOST_DEAD = 0.1
#: The key of a row whose record was deleted or replaced since it was added: HNSW cannot remove it.
DEAD = -1


class VectorIndex:
    """Cosine-similarity search over unit-length global vectors, by record key.

    Args:
        keys: record key of each of the index's vectors, in the order they were added (DEAD for a
            record deleted or replaced since).
        index: the faiss index (built by `streamed`, or read by `load`).
        generation: the catalog generation the vectors reflect: the index catches up with the records
            stored since (`add`) instead of being built again.
        deletions: the catalog's count of deletions then: when it changed, `keep` forgets the records
            no longer there.

    Example:
        >>> index = VectorIndex.of(keys, vectors, generation=7); rows, sims = index.search(query, 10)
    """

    def __init__(self, keys: np.ndarray, index: faiss.Index, generation: int = 0, deletions: int = 0) -> None:
        self.keys = np.asarray(keys, np.int64)
        self.generation = generation
        self.deletions = deletions
        self.size = len(self.keys)
        self.changes = self.size  # rows added or marked DEAD since the index was saved or read
        self.index = index
        if not self.exact:
            self.index.hnsw.efSearch = EF_SEARCH

    @classmethod
    def of(cls, keys: np.ndarray, vectors: np.ndarray, generation: int = 0) -> VectorIndex:
        """The index of vectors already in memory ((N, dim) unit-length, one per key)."""
        return cls.streamed(len(keys), lambda: [(np.asarray(keys), vectors)], generation)

    @classmethod
    def streamed(
        cls,
        count: int,
        chunks: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]],
        generation: int = 0,
        deletions: int = 0,
    ) -> VectorIndex:
        """The index of a catalog's `count` vectors, added as (keys, vectors) chunks read by `chunks()`,
        never all in memory at once (a million float32 vectors are 5 GB). Above ANN_THRESHOLD a first
        pass samples every TRAINING_STEP-th vector for the quantizer to learn each dimension's range."""
        index = None
        if count > ANN_THRESHOLD:
            index = _quantized_hnsw(np.concatenate([vectors[::TRAINING_STEP] for _, vectors in chunks()]))
        found = [np.zeros(0, np.int64)]
        for keys, vectors in chunks():
            if index is None:
                index = faiss.IndexFlatIP(vectors.shape[1])
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            found.append(keys)
        if index is None:  # an empty catalog
            index = faiss.IndexFlatIP(1)
        return cls(np.concatenate(found), index, generation, deletions)

    @property
    def exact(self) -> bool:
        return isinstance(self.index, faiss.IndexFlatIP)

    @property
    def dead(self) -> int:
        """Rows of records deleted or replaced since they were added."""
        return int((self.keys == DEAD).sum())

    def can_catch_up(self, count: int) -> bool:
        """Is `add` and `keep` still the way to a catalog of `count` records? Not for an index holding no
        vector yet (its dimension is unknown), nor for an exact one past ANN_THRESHOLD, nor for one
        whose DEAD rows reach MOST_DEAD: each is built again."""
        return self.size > 0 and not (self.exact and count > ANN_THRESHOLD) and self.dead < MOST_DEAD * self.size

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add records' vectors ((N, dim) unit-length); rows the same records had become DEAD."""
        if len(keys):
            again = np.isin(self.keys, keys)
            self.keys[again] = DEAD
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            self.keys = np.concatenate([self.keys, np.asarray(keys, np.int64)])
            self.size = len(self.keys)
            self.changes += len(keys) + int(again.sum())

    def keep(self, keys: np.ndarray) -> None:
        """Mark DEAD the rows of records not among `keys`."""
        gone = (self.keys != DEAD) & ~np.isin(self.keys, keys)
        self.keys[gone] = DEAD
        self.changes += int(gone.sum())

    @property
    def changed_since_saved(self) -> bool:
        """SAVE_AFTER of its rows were added or marked DEAD since it was saved or read (any, if never)."""
        return self.changes > SAVE_AFTER * self.size

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers and similarities of the k most similar vectors (only `allowed` rows if given; never
        DEAD ones)."""
        k = min(k, self.size)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self.dead:
            allowed = self.keys != DEAD if allowed is None else allowed & (self.keys != DEAD)
        params = None
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")  # a bit per row: O(1) a test, at any size
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            params = (
                faiss.SearchParameters(sel=selector)
                if self.exact
                else faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
            )
        sims, rows = self.index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep], sims[0][keep]

    def save(self, folder: Path) -> None:
        """Write the index under its generation's name, atomically (other processes may be writing
        it too), and remove the files of other generations. faiss writes straight to disk: at a
        million vectors an in-memory copy would double the memory needed."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"global-{self.generation}-{self.deletions}"
        stem = folder / name
        part = f".{os.getpid()}.part"
        np.save(f"{stem}.keys{part}", self.keys, allow_pickle=False)
        faiss.write_index(self.index, f"{stem}.faiss{part}")
        Path(f"{stem}.keys{part}.npy").replace(f"{stem}.keys.npy")
        Path(f"{stem}.faiss{part}").replace(f"{stem}.faiss")
        self.changes = 0
        for old in folder.glob("global-*"):
            if not old.name.startswith(f"{name}."):
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> VectorIndex | None:
        """The index saved last (of the highest generation), or None: it may be older than the catalog,
        which `add` and `keep` then bring up to date."""
        saved = []
        for path in folder.glob("global-*-*.faiss"):
            with contextlib.suppress(ValueError):
                generation, deletions = (int(part) for part in path.name[len("global-") : -len(".faiss")].split("-"))
                saved.append((generation, deletions))
        if not saved:
            return None
        generation, deletions = max(saved)
        stem = folder / f"global-{generation}-{deletions}"
        try:
            keys = np.load(f"{stem}.keys.npy", allow_pickle=False)
            index = faiss.read_index(f"{stem}.faiss")
        except (OSError, ValueError, RuntimeError):
            return None
        if index.ntotal != len(keys):
            return None
        loaded = cls(keys, index, generation, deletions)
        loaded.changes = 0
        return loaded


def _quantized_hnsw(sample: np.ndarray) -> faiss.Index:
    """An empty HNSW32 index of 4-bit vectors whose quantizer learned each dimension's range from
    `sample`, widened by RANGE_MARGIN on either side: vectors beyond a sample's range are not clipped."""
    index = faiss.IndexHNSWSQ(sample.shape[1], faiss.ScalarQuantizer.QT_4bit, 32, faiss.METRIC_INNER_PRODUCT)
    faiss.downcast_index(index.storage).sq.rangestat_arg = RANGE_MARGIN
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index
