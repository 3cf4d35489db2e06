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
import struct
import zipfile
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
#: Bytes an .npy header may take (numpy pads it to a multiple of 64; a few shapes fit in far less).
NPY_HEADER_MAX = 4096


def branching_for(descriptors: int) -> int:
    """Tree width for a catalog of this many descriptors: a power of two, 8-1024."""
    wanted = np.sqrt(max(descriptors, 1) / DESCRIPTORS_PER_WORD)
    return int(np.clip(2 ** np.ceil(np.log2(max(wanted, 1.0))), 8, MAX_BRANCHING))


@dataclass(frozen=True)
class Codebook:
    """Two-level vocabulary and the projection and thresholds of the Hamming embedding.

    Args:
        coarse: (B, 128) coarse centroids.
        columns: (B, 128, B) the words of each coarse cell, as columns: `assign`'s products run twice as
            fast on them, and held only so, a million words take 512 MB in a worker, not twice that.
        projection: (64, 128) random orthogonal rows.
        thresholds: (B, 64) median projection of each coarse cell's training descriptors.
        trained_on: descriptors in the catalog when it was trained (to know when to retrain).
    """

    coarse: np.ndarray
    columns: np.ndarray
    projection: np.ndarray
    thresholds: np.ndarray
    trained_on: int

    @property
    def branching(self) -> int:
        return len(self.coarse)

    @property
    def fine(self) -> np.ndarray:
        """(B, B, 128) the words of each coarse cell (a view of `columns`)."""
        return self.columns.transpose(0, 2, 1)

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
        return cls(coarse, _by_column(fine), projection, thresholds, trained_on)

    def assign(self, descriptors: np.ndarray, multiple: int = 1) -> np.ndarray:
        """(N, multiple) word ids of each descriptor: its own word, then the nearest others.

        A photo's keypoints are given several words (multiple assignment): a descriptor near a
        cell border falls on either side in the reference, and a missed word is a missed match.
        The own word is the nearest word of the nearest coarse cell, as a stored keypoint gets it;
        the others are the nearest words of the `multiple` nearest cells.
        """
        vectors = as_float(descriptors)
        count = len(vectors)
        if count == 0:
            return np.zeros((0, multiple), np.int64)
        probed = faiss.knn(vectors, self.coarse, multiple)[1]  # (N, multiple) nearest cells
        # each (descriptor, probed cell) gets the cell's `multiple` nearest words: one matrix
        # product per cell, for every descriptor probing it (faiss's IVF scan took 90 ms per photo)
        pair_cell = probed.ravel()
        order = np.argsort(pair_cell, kind="stable")  # pairs grouped by cell, each group a slice
        grouped = vectors[order // multiple]
        bounds = np.searchsorted(pair_cell[order], np.arange(self.branching + 1))
        words = np.empty((len(order), multiple), np.int64)
        distances = np.empty((len(order), multiple), np.float32)
        for cell in np.unique(pair_cell).tolist():
            rows = slice(bounds[cell], bounds[cell + 1])
            # squared distance minus |x|², which is the same for all of one descriptor's candidates
            cell_distances = self._word_norms[cell] - 2 * (grouped[rows] @ self.columns[cell])
            nearest = _smallest(cell_distances.copy(), multiple)
            words[order[rows]] = cell * self.branching + nearest
            distances[order[rows]] = np.take_along_axis(cell_distances, nearest, axis=1)
        words = words.reshape(count, multiple * multiple)
        distances = distances.reshape(count, multiple * multiple)
        own = words[:, :1]
        if multiple == 1:
            return own
        distances[:, 0] = np.inf  # the own word is first already; the rest by distance
        nearest = np.argsort(distances, axis=1, kind="stable")[:, : multiple - 1]
        return np.hstack([own, np.take_along_axis(words, nearest, axis=1)])

    @functools.cached_property
    def _word_norms(self) -> np.ndarray:
        """(B, B) squared length of each word."""
        return np.einsum("cwd,cwd->cw", self.fine, self.fine)

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
            columns=self.columns,
            projection=self.projection,
            thresholds=self.thresholds,
            trained_on=np.int64(self.trained_on),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Codebook:
        """A stored codebook, its words a view of `data`; one stored before 3f2a8f6 holds them row by row
        (`fine`), and is copied into columns (the small arrays are copied, so `data` can go then)."""
        arrays = _views(bytes(data))
        return cls(
            arrays["coarse"].copy(),
            arrays["columns"] if "columns" in arrays else _by_column(arrays["fine"]),
            arrays["projection"].copy(),
            arrays["thresholds"].copy(),
            int(arrays["trained_on"]),
        )


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between uint64 signatures, elementwise."""
    return np.bitwise_count(np.bitwise_xor(a, b))


def as_float(descriptors: np.ndarray) -> np.ndarray:
    """RootSIFT as stored (uint8) to unit-length float32."""
    return np.ascontiguousarray(descriptors, dtype=np.float32) / DESCRIPTOR_SCALE


def _views(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz as `np.savez` writes it (stored, not compressed), as read-only views of
    `data`: a worker then holds a million words' 512 MB once, where `np.load` would copy them."""
    views = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if member.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"codebook member {member.filename} is compressed")
            name_length, extra_length = struct.unpack_from("<HH", data, member.header_offset + 26)
            start = member.header_offset + 30 + name_length + extra_length  # after the zip's local header
            header = io.BytesIO(data[start : start + NPY_HEADER_MAX])
            npy = np.lib.format
            version = npy.read_magic(header)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran_order, dtype = read_header(header)
            array = np.frombuffer(data, dtype, int(np.prod(shape)), start + header.tell())
            views[member.filename.removesuffix(".npy")] = array.reshape(shape, order="F" if fortran_order else "C")
    return views


def _by_column(fine: np.ndarray) -> np.ndarray:
    """(B, B, 128) words to the (B, 128, B) layout `assign` multiplies by."""
    return np.ascontiguousarray(fine.transpose(0, 2, 1))


def _kmeans(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    # a small catalog has few points per word: that is fine, and not worth faiss's warning on stderr
    kmeans = faiss.Kmeans(
        vectors.shape[1], k, niter=12, seed=seed, min_points_per_centroid=1, max_points_per_centroid=256
    )
    kmeans.train(np.ascontiguousarray(vectors))
    return kmeans.centroids.astype(np.float32)


def _nearest(centroids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return faiss.knn(vectors, centroids, 1)[1].ravel()


def _smallest(rows: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k smallest values, smallest first (k small: k argmins beat a
    partition). Overwrites the chosen values of `rows`."""
    found = np.empty((len(rows), k), np.int64)
    every_row = np.arange(len(rows))
    for rank in range(k):
        found[:, rank] = rows.argmin(axis=1)
        if rank + 1 < k:
            rows[every_row, found[:, rank]] = np.inf
    return found


def _power_of_two_below(value: float) -> int:
    return int(2 ** np.floor(np.log2(max(value, 1.0))))
