"""A visual vocabulary with Hamming embedding: each RootSIFT descriptor becomes a word and a 64-bit signature.

Bag of visual words with Hamming embedding (Jégou, Douze, Schmid, ECCV 2008) is how local
features were searched in millions of images (Oxford VGG's VISE). The word says which cell of
descriptor space a keypoint falls in; the signature says where in the cell, so two keypoints in
the same word match only when their signatures are close too. That keeps the vocabulary small
enough to train on the catalog itself and the matches as selective as a nearest-neighbour test.

The vocabulary is two-level k-means (a vocabulary tree of depth 2): `branching` coarse cells, each
split into `branching` words, so training and assignment cost 2·branching distances, not branching².
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import faiss
import numpy as np

from platemark.extract.sift import DESCRIPTOR_SCALE

SIGNATURE_BITS = 64
#: Signatures this close (of 64 bits) are a match. The HE paper's 24 let ~40 chance matches per photo
#: keypoint through on the museum bench and made voting 3x slower, for no more right answers.
MATCH_DISTANCE = 16
#: Widest tree level: 1024 × 1024 words.
MAX_BRANCHING = 1024
#: Descriptors per word aimed at: lists stay short as the catalog grows.
DESCRIPTORS_PER_WORD = 300


def branching_for(descriptors: int) -> int:
    """Tree width for a catalog of this many descriptors: a power of two, 8-1024."""
    wanted = np.sqrt(max(descriptors, 1) / DESCRIPTORS_PER_WORD)
    return int(np.clip(2 ** np.ceil(np.log2(max(wanted, 1.0))), 8, MAX_BRANCHING))


@dataclass(frozen=True)
class Codebook:
    """Two-level vocabulary and the projection and thresholds of the Hamming embedding.

    Args:
        coarse: (B, 128) coarse centroids.
        fine: (B, B, 128) the words of each coarse cell.
        projection: (64, 128) random orthogonal rows.
        thresholds: (B, 64) median projection of each coarse cell's training descriptors.
        trained_on: descriptors in the catalog when it was trained (to know when to retrain).
    """

    coarse: np.ndarray
    fine: np.ndarray
    projection: np.ndarray
    thresholds: np.ndarray
    trained_on: int

    @property
    def branching(self) -> int:
        return len(self.coarse)

    @classmethod
    def train(cls, descriptors: np.ndarray, trained_on: int, seed: int = 0) -> Codebook:
        """Train on a sample of the catalog's descriptors ((N, 128) uint8 RootSIFT)."""
        vectors = as_float(descriptors)
        branching = min(branching_for(trained_on), max(8, _power_of_two_below(np.sqrt(len(vectors) / 4))))
        coarse = _kmeans(vectors, branching, seed)
        cell = _nearest(coarse, vectors)
        fine = np.empty((branching, branching, vectors.shape[1]), np.float32)
        projection = np.linalg.qr(np.random.default_rng(seed).standard_normal((128, SIGNATURE_BITS)))[0].T
        projection = projection.astype(np.float32)
        projected = vectors @ projection.T
        thresholds = np.tile(np.median(projected, axis=0), (branching, 1)).astype(np.float32)
        for c in range(branching):
            members = vectors[cell == c]
            if len(members) >= 2 * branching:
                fine[c] = _kmeans(members, branching, seed + c + 1)
            else:  # a sparse cell: its members, then copies of its centroid (words no one falls in)
                fine[c] = coarse[c]
                fine[c, : len(members)] = members[:branching]
            if (cell == c).sum() >= 16:
                thresholds[c] = np.median(projected[cell == c], axis=0)
        return cls(coarse, fine, projection, thresholds, trained_on)

    def assign(self, descriptors: np.ndarray, multiple: int = 1) -> np.ndarray:
        """(N, multiple) word ids of each descriptor: its own word, then the nearest others.

        A photo's keypoints are given several words (multiple assignment): a descriptor near a
        cell border falls on either side in the reference, and a missed word is a missed match.
        """
        vectors = as_float(descriptors)
        if len(vectors) == 0:
            return np.zeros((0, multiple), np.int64)
        tree = self._tree
        _, own = tree.search(vectors, 1, params=faiss.SearchParametersIVF(nprobe=1))
        if multiple == 1:
            return own
        # The tree's own word (nearest word of the nearest cell) comes first, as a stored keypoint gets
        # it; the nearest words overall, from the `multiple` nearest cells, follow.
        _, near = tree.search(vectors, multiple, params=faiss.SearchParametersIVF(nprobe=multiple))
        others = np.where(near == own, -1, near)
        order = np.argsort(others == -1, axis=1, kind="stable")[:, : multiple - 1]
        return np.hstack([own, np.take_along_axis(others, order, axis=1)])

    @functools.cached_property
    def _tree(self) -> faiss.IndexIVFFlat:
        """The vocabulary as a faiss inverted file: the coarse cells are its lists, their words its
        vectors, so assigning is one call (a Python loop over cells cost ~70 ms per photo)."""
        dimension = self.coarse.shape[1]
        quantizer = faiss.IndexFlatL2(dimension)
        quantizer.add(self.coarse)
        tree = faiss.IndexIVFFlat(quantizer, dimension, self.branching)
        for cell in range(self.branching):
            ids = np.arange(cell * self.branching, (cell + 1) * self.branching, dtype=np.int64)
            words = np.ascontiguousarray(self.fine[cell], dtype=np.float32)
            tree.invlists.add_entries(cell, self.branching, faiss.swig_ptr(ids), faiss.swig_ptr(words.view(np.uint8)))
        tree.ntotal = self.branching**2
        tree.is_trained = True
        tree.referenced_objects = [quantizer]  # faiss's own way to keep the quantizer alive with the index
        return tree

    def signatures(self, descriptors: np.ndarray, words: np.ndarray) -> np.ndarray:
        """(N,) uint64 Hamming signature of each descriptor within its word (words: (N,))."""
        projected = as_float(descriptors) @ self.projection.T
        bits = projected > self.thresholds[np.asarray(words) // self.branching]
        return np.packbits(bits, axis=1, bitorder="little").view("<u8").ravel()

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            coarse=self.coarse,
            fine=self.fine,
            projection=self.projection,
            thresholds=self.thresholds,
            trained_on=np.int64(self.trained_on),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Codebook:
        arrays = np.load(io.BytesIO(bytes(data)))
        return cls(
            arrays["coarse"], arrays["fine"], arrays["projection"], arrays["thresholds"], int(arrays["trained_on"])
        )


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between uint64 signatures, elementwise."""
    return np.bitwise_count(np.bitwise_xor(a, b))


def as_float(descriptors: np.ndarray) -> np.ndarray:
    """RootSIFT as stored (uint8) to unit-length float32."""
    return np.ascontiguousarray(descriptors, dtype=np.float32) / DESCRIPTOR_SCALE


def _kmeans(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    # a small catalog has few points per word: that is fine, and not worth faiss's warning on stderr
    kmeans = faiss.Kmeans(
        vectors.shape[1], k, niter=12, seed=seed, min_points_per_centroid=1, max_points_per_centroid=256
    )
    kmeans.train(np.ascontiguousarray(vectors))
    return kmeans.centroids.astype(np.float32)


def _nearest(centroids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return faiss.knn(vectors, centroids, 1)[1].ravel()


def _power_of_two_below(value: float) -> int:
    return int(2 ** np.floor(np.log2(max(value, 1.0))))
