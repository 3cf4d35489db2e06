from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from platemark.extract.sift import LocalFeatures
from platemark.store import Catalog, open_catalog
from platemark.store import vectors as vector_module
from platemark.store.sqlite import RESCORED
from platemark.store.vectors import VectorIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_small_catalog_uses_exact_search() -> None:
    vectors = unit(np.random.default_rng(0).normal(size=(100, 16)))
    index = VectorIndex.of(np.arange(len(vectors)), vectors)
    rows, sims = index.search(vectors[42], 3)
    assert index.exact and rows[0] == 42 and sims[0] > 0.999


def test_large_catalog_switches_to_hnsw_and_agrees_with_exact(monkeypatch) -> None:
    """The 4-bit vectors order close neighbours only roughly: the catalog re-ranks RESCORED times the
    neighbours it wants by their stored vectors, so those must hold the exact ones."""
    monkeypatch.setattr(vector_module, "ANN_THRESHOLD", 1_000)
    rng = np.random.default_rng(1)
    vectors = unit(rng.normal(size=(5_000, 32)))
    queries = unit(vectors[:50] + rng.normal(scale=0.3, size=(50, 32)))
    index = VectorIndex.of(np.arange(len(vectors)), vectors)
    assert not index.exact
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [set(index.search(q, RESCORED * 10)[0]) for q in queries]
    recall = np.mean([len(f & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
    assert recall >= 0.95


def test_search_restricted_to_allowed_rows() -> None:
    vectors = unit(np.random.default_rng(2).normal(size=(200, 16)))
    allowed = np.zeros(200, bool)
    allowed[100:] = True
    rows, _ = VectorIndex.of(np.arange(len(vectors)), vectors).search(vectors[5], 10, allowed)
    assert len(rows) == 10 and all(r >= 100 for r in rows)


def test_large_catalog_holds_half_a_byte_per_dimension(monkeypatch) -> None:
    monkeypatch.setattr(vector_module, "ANN_THRESHOLD", 1_000)
    vectors = unit(np.random.default_rng(3).normal(size=(2_000, 64)))
    index = VectorIndex.of(np.arange(len(vectors)), vectors)
    assert faiss.downcast_index(index.index.storage).code_size == 32  # float32 would be 256


def test_a_large_index_is_streamed_in_chunks_and_agrees_with_exact(monkeypatch) -> None:
    monkeypatch.setattr(vector_module, "ANN_THRESHOLD", 1_000)
    rng = np.random.default_rng(4)
    vectors = unit(rng.normal(size=(5_000, 32)))
    keys = np.arange(100, 5_100)
    passes = []

    def chunks():
        passes.append(1)
        for start in range(0, len(vectors), 500):
            yield keys[start : start + 500], vectors[start : start + 500]

    index = VectorIndex.streamed(len(vectors), chunks)
    assert not index.exact and index.keys.tolist() == keys.tolist() and len(passes) == 2
    queries = unit(vectors[:50] + rng.normal(scale=0.3, size=(50, 32)))
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [set(index.search(q, RESCORED * 10)[0]) for q in queries]
    assert np.mean([len(f & set(e)) / 10 for f, e in zip(found, exact, strict=True)]) >= 0.95


def _vector(seed: int) -> np.ndarray:
    return unit(np.random.default_rng(seed).normal(size=(1, 1280)))[0]


def _store(catalog: Catalog, name: str, seed: int) -> int:
    """Store a record whose global vector is `_vector(seed)`; returns its key."""
    local = LocalFeatures(np.zeros((1, 2), np.float32), np.zeros((1, 128), np.uint8), 10, 10)
    return catalog.upsert(
        collection="c",
        record_id=name,
        image_path=f"/x/{name}.jpg",
        content_hash=name,
        metadata={},
        years=(None, None),
        global_vector=_vector(seed),
        local=local,
    )


def test_an_embedded_catalog_keeps_its_index_up_to_date_with_an_ingest_without_building_it_again(
    tmp_path: Path, monkeypatch
) -> None:
    """At 100,000 records building the index takes ~25 s: a search right after an ingest stored,
    replaced or deleted one record waited that long, in every worker. Now the worker adds what was
    stored and forgets what was deleted; it builds the index again once a tenth of it is of records
    gone."""
    monkeypatch.setattr(vector_module, "ANN_THRESHOLD", 30)
    built = []
    build = VectorIndex.streamed

    def counted(*args, **kwargs) -> VectorIndex:
        built.append(1)
        return build(*args, **kwargs)

    monkeypatch.setattr(VectorIndex, "streamed", counted)
    location = tmp_path / "catalog"
    with open_catalog(location, create=True) as serving:
        keys = [_store(serving, f"r{number}", number) for number in range(40)]
        serving.warm()
        with open_catalog(location) as ingest:
            added = _store(ingest, "new", 100)
            assert _store(ingest, "r4", 300) == keys[4]  # another image of the same record
            ingest.delete("c", ["r3"])
        assert serving.nearest(_vector(100), 1)[0][0] == added
        assert serving.nearest(_vector(300), 1)[0][0] == keys[4]
        assert keys[4] not in serving.nearest(_vector(4), 3)[0].tolist()
        assert keys[3] not in serving.nearest(_vector(3), 3)[0].tolist()
        with open_catalog(location) as started_later:  # reads the saved index, catches up the same way
            assert started_later.nearest(_vector(100), 1)[0][0] == added
            assert keys[3] not in started_later.nearest(_vector(3), 3)[0].tolist()
        assert len(built) == 1
        with open_catalog(location) as ingest:
            ingest.delete("c", [f"r{number}" for number in range(5, 10)])
        assert keys[5] not in serving.nearest(_vector(5), 3)[0].tolist()
        assert len(built) == 2  # 7 of 42 rows gone


def test_an_embedded_catalog_finds_records_an_older_platemark_stored_meanwhile(tmp_path: Path) -> None:
    """Mid-upgrade, an ingest by a platemark from before migration 0010 stores records without the
    generation they were stored at: the worker's index does not come out holding every record, and is
    built again."""
    location = tmp_path / "catalog"
    with open_catalog(location, create=True) as serving:
        for number in range(5):
            _store(serving, f"r{number}", number)
        serving.warm()
        with open_catalog(location) as older:
            key = _store(older, "stored-by-an-older-version", 100)
            older.execute("UPDATE records SET features_stored = 0 WHERE id = ?", (key,))
        assert serving.nearest(_vector(100), 1)[0][0] == key
