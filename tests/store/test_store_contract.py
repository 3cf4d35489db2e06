"""What every catalog store must do. Runs against each backend through the `store` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from platemark.errors import ExtractorMismatch, SearchNotFound
from platemark.extract.sift import LocalFeatures
from platemark.store.sqlite import Catalog


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / request.param, create=True, extractors={"global": "g/1", "local": "l/1"}) as catalog:
        yield catalog


def features(seed: int, keypoints: int = 5) -> tuple[np.ndarray, LocalFeatures]:
    rng = np.random.default_rng(seed)
    vector = rng.normal(size=16).astype(np.float32)
    local = LocalFeatures(
        rng.uniform(0, 100, (keypoints, 2)).astype(np.float32),
        rng.integers(0, 255, (keypoints, 128)).astype(np.uint8),
        120,
        80,
    )
    return vector / np.linalg.norm(vector), local


def add(store: Catalog, record_id: str, seed: int = 0, collection: str = "c", **metadata: str) -> int:
    vector, local = features(seed)
    return store.upsert(
        collection=collection,
        record_id=record_id,
        image_path=f"/x/{record_id}.jpg",
        content_hash=f"h{seed}",
        metadata=metadata,
        years=(1600, 1650),
        global_vector=vector,
        local=local,
    )


def test_upsert_then_find_returns_the_record(store: Catalog) -> None:
    key = add(store, "r1", title="A print")
    record = store.find("c", "r1")
    assert record.key == key and record.metadata == {"title": "A print"}
    assert (record.width, record.height, record.year_min, record.year_max) == (120, 80, 1600, 1650)
    assert store.find("c", "missing") is None and store.find("other", "r1") is None


def test_upsert_replaces_in_place_without_duplicates(store: Catalog) -> None:
    first = add(store, "r1", seed=1)
    second = add(store, "r1", seed=2, title="new")
    assert first == second and store.count() == 1
    assert store.content_hashes("c") == {"r1": "h2"}
    keys, vectors = store.global_vectors()
    assert keys.tolist() == [first] and np.allclose(vectors[0], features(2)[0])


def test_every_change_bumps_the_generation(store: Catalog) -> None:
    start = store.generation
    add(store, "r1")
    after_add = store.generation
    store.delete("c", ["r1"])
    assert start < after_add < store.generation
    unchanged = store.generation
    store.delete("c", ["never-there"])
    assert store.generation == unchanged


def test_features_round_trip_in_key_order(store: Catalog) -> None:
    keys = [add(store, f"r{i}", seed=i) for i in range(3)]
    stored = list(store.local_features())
    assert [k for k, _, _ in stored] == keys
    for (_, points, descriptors), seed in zip(stored, range(3), strict=True):
        expected = features(seed)[1]
        assert np.array_equal(points, expected.points) and np.array_equal(descriptors, expected.descriptors)


def test_collections_counts_and_metadata_updates(store: Catalog) -> None:
    add(store, "a", collection="one")
    add(store, "b", collection="one")
    add(store, "a", collection="two")
    assert store.collections() == {"one": 2, "two": 1} and store.count("one") == 2
    store.update_metadata("one", "a", {"title": "renamed"}, (1700, 1710))
    record = store.find("one", "a")
    assert record.metadata == {"title": "renamed"} and record.year_min == 1700
    assert store.find("two", "a").metadata == {}


def test_saved_searches_round_trip(store: Catalog) -> None:
    store.save_search("s1", {"top_k": 3}, {"data": [1, 2]})
    assert store.get_search("s1") == ({"top_k": 3}, {"data": [1, 2]})
    with pytest.raises(SearchNotFound):
        store.get_search("s2")


def test_store_refuses_features_of_another_extractor(store: Catalog) -> None:
    with pytest.raises(ExtractorMismatch):
        Catalog(store.path, extractors={"global": "other/9", "local": "l/1"})
