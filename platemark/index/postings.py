"""Posting lists: for each visual word, the reference keypoints that fall in it.

A posting holds what verification needs, so a search reads nothing else: the record, the
keypoint's number and position, and its Hamming signature (22 bytes).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from platemark.index.codebook import Codebook

POSTING = np.dtype([("key", "<i8"), ("point", "<u2"), ("x", "<u2"), ("y", "<u2"), ("signature", "<u8")])


def encode(codebook: Codebook, records: list[tuple[int, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(words, postings) of the keypoints of records given as (key, points, descriptors), one word each.

    Records are encoded together: assigning words costs one call per vocabulary cell, whatever the count.
    """
    if not records:
        return np.zeros(0, np.int64), np.zeros(0, POSTING)
    descriptors = np.concatenate([d for _, _, d in records])
    words = codebook.assign(descriptors)[:, 0]
    postings = np.zeros(len(words), POSTING)
    postings["key"] = np.repeat([key for key, _, _ in records], [len(d) for _, _, d in records])
    postings["point"] = np.concatenate([np.arange(len(d)) for _, _, d in records])
    points = np.concatenate([p for _, p, _ in records])
    postings["x"], postings["y"] = np.clip(np.rint(points), 0, 65535).astype(np.uint16).T
    postings["signature"] = codebook.signatures(descriptors, words)
    return words, postings


def by_word(words: np.ndarray, postings: np.ndarray) -> Iterator[tuple[int, bytes]]:
    """(word, posting bytes) rows, one per word, in word order."""
    order = np.argsort(words, kind="stable")
    words, postings = words[order], postings[order]
    bounds = np.flatnonzero(np.diff(words)) + 1
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(words)], strict=True):
        if end > start:
            yield int(words[start]), postings[start:end].tobytes()


def decode(data: bytes) -> np.ndarray:
    return np.frombuffer(data, POSTING)


class CurrentPostings:
    """Tells records' current postings from stale ones, given {record key: the segment holding its
    current postings}: a record re-ingested since it was indexed still has postings in an older segment,
    and a deleted one has none that are current."""

    def __init__(self, live: dict[int, int]) -> None:
        self._keys = np.array(sorted(live), np.int64)
        self._segments = np.array([live[k] for k in self._keys.tolist()], np.int64)

    def mask(self, keys: np.ndarray, segments: np.ndarray | int) -> np.ndarray:
        """Which of these postings (their record keys, and the segments they are in) are current."""
        if len(self._keys) == 0:
            return np.zeros(len(keys), bool)
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return (self._keys[at] == keys) & (self._segments[at] == segments)
