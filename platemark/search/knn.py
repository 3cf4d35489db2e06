"""Nearest neighbours on global CNN vectors: exact below ANN_THRESHOLD records, HNSW above."""

from __future__ import annotations

import faiss
import numpy as np

#: Above this many records the global shortlist uses an approximate (HNSW) index.
ANN_THRESHOLD = 50_000


class GlobalIndex:
    """Cosine-similarity search over unit-length global vectors.

    Example:
        >>> index = GlobalIndex(vectors); rows, sims = index.search(query, 10)
    """

    def __init__(self, vectors: np.ndarray) -> None:
        self.size = len(vectors)
        dim = vectors.shape[1] if vectors.size else 1
        if self.size > ANN_THRESHOLD:
            self.index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efSearch = 128
        else:
            self.index = faiss.IndexFlatIP(dim)
        if self.size:
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @property
    def exact(self) -> bool:
        return isinstance(self.index, faiss.IndexFlatIP)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers and similarities of the k most similar vectors (only `allowed` rows if given)."""
        k = min(k, self.size)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64))
            params = (
                faiss.SearchParameters(sel=selector)
                if self.exact
                else faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
            )
        sims, rows = self.index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep], sims[0][keep]
