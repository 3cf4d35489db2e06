from __future__ import annotations

from pathlib import Path

import numpy as np

from platemark.search import local
from platemark.search.local import LocalIndex


def random_descriptors(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 120, size=(count, 128)).astype(np.uint8)


def planted_index(count: int, records: int) -> tuple[LocalIndex, np.ndarray, int]:
    """An index of random keypoints; record 3's first 200 descriptors are also planted in the query."""
    rng = np.random.default_rng(0)
    owners = np.repeat(np.arange(records), count // records).astype(np.int32)
    descriptors = random_descriptors(rng, len(owners))
    points = rng.uniform(0, 500, size=(len(owners), 2)).astype(np.float32)
    index = LocalIndex(np.arange(records), owners, points, descriptors)
    start = int(np.searchsorted(owners, 3))
    noise = rng.integers(-3, 4, size=(200, 128))
    query = np.clip(descriptors[start : start + 200].astype(int) + noise, 0, 255).astype(np.uint8)
    query = np.vstack([query, random_descriptors(rng, 300)])
    return index, query, start


def test_votes_find_record_with_exact_index() -> None:
    index, query, start = planted_index(20_000, 20)
    matches = index.correspondences(query)
    assert np.bincount(matches.owner).argmax() == 3
    query_idx, ref_rows = matches.of(3)
    assert (ref_rows[query_idx < 200] == start + query_idx[query_idx < 200]).mean() > 0.95


def test_ivf_index_agrees_with_exact_votes(monkeypatch) -> None:
    monkeypatch.setattr(local, "EXACT_LIMIT", 10_000)
    index, query, _ = planted_index(40_000, 40)
    assert "IVF" in type(index.index).__name__
    votes = np.bincount(index.correspondences(query).owner, minlength=40)
    assert votes.argmax() == 3 and votes[3] >= 150


def test_match_record_pairs_planted_descriptors() -> None:
    index, query, start = planted_index(2_000, 4)
    query_idx, ref_rows = index.match_record(query, 3)
    planted = query_idx < 200
    assert planted.sum() > 150 and (ref_rows[planted] == start + query_idx[planted]).all()


def test_saved_index_is_reused_only_for_its_generation(tmp_path: Path) -> None:
    index, query, _ = planted_index(2_000, 4)
    index.save(tmp_path, generation=7)
    assert LocalIndex.load(tmp_path, generation=8) is None
    assert LocalIndex.load(tmp_path, generation=7, per_record=50) is None
    loaded = LocalIndex.load(tmp_path, generation=7)
    assert loaded is not None and len(loaded) == len(index)
    assert np.array_equal(loaded.correspondences(query).owner, index.correspondences(query).owner)
