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
