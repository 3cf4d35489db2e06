"""Stored RootSIFT descriptors in 16 bytes a keypoint instead of 128: a product quantizer.

A record's descriptors were 80% of its bytes (91 GB at a million records). Once its vocabulary is
at its widest, a catalog needs them only to match a few records keypoint by keypoint (a search's
weakly voted records and records not indexed yet, `duplicates`), and there 16 bytes keep 91-96% of
the inliers and verify the same photos (bench_descriptors.py). Until then they are kept whole: a
new codebook indexes every record from them, and half of a 16-byte code's keypoints would fall in
another of 262,144 words (`platemark.index.build` decides when to compress).
"""

from __future__ import annotations

import faiss
import numpy as np

#: Bytes a keypoint's descriptor takes compressed: sub-vectors of 8 dimensions, 256 centroids each.
CODE_BYTES = 16
#: Descriptors a codec is trained on (faiss wants 39 a centroid: 10,000; more is steadier, and cheap).
TRAINING_SAMPLE = 200_000


class DescriptorCodec:
    """Encodes (N, 128) uint8 RootSIFT descriptors to N × CODE_BYTES bytes and back, approximately.

    Example:
        >>> codec = DescriptorCodec.train(sample)
        >>> codec.decode(codec.encode(descriptors)).shape == descriptors.shape
    """

    def __init__(self, quantizer: faiss.IndexPQ) -> None:
        self._quantizer = quantizer

    @classmethod
    def train(cls, descriptors: np.ndarray) -> DescriptorCodec:
        """A codec trained on a sample of the catalog's descriptors ((N, 128) uint8)."""
        quantizer = faiss.IndexPQ(128, CODE_BYTES, 8)
        quantizer.train(np.ascontiguousarray(descriptors, dtype=np.float32))
        return cls(quantizer)

    def encode(self, descriptors: np.ndarray) -> bytes:
        if len(descriptors) == 0:
            return b""
        return self._quantizer.sa_encode(np.ascontiguousarray(descriptors, dtype=np.float32)).tobytes()

    def decode(self, data: bytes) -> np.ndarray:
        """(N, 128) uint8 descriptors from their codes."""
        codes = np.frombuffer(data, np.uint8).reshape(-1, CODE_BYTES)
        if len(codes) == 0:
            return np.zeros((0, 128), np.uint8)
        return np.clip(np.rint(self._quantizer.sa_decode(codes)), 0, 255).astype(np.uint8)

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self._quantizer).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> DescriptorCodec:
        return cls(faiss.deserialize_index(np.frombuffer(data, np.uint8)))
