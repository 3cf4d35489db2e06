"""What every catalog store must do. Runs against each backend through the `store` fixture."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np
import pytest
from catalogs import BACKENDS

from platemark.errors import CatalogNotFound, ExtractorMismatch, SearchNotFound, StoreNotMigrated
from platemark.extract.sift import LocalFeatures
from platemark.store import Catalog, RecordWithFeatures, open_catalog
from platemark.store import vectors as vector_module
from platemark.store.filters import RecordFilter

DIM = 1280  # the PostgreSQL schema holds EfficientNet-Lite0 vectors
EXTRACTORS = {"global": "g/1", "local": "l/1"}


pytestmark = pytest.mark.parametrize("empty_catalog", BACKENDS, indirect=True)


@pytest.fixture
def where(empty_catalog):
    return empty_catalog


@pytest.fixture
def store(where) -> Iterator[Catalog]:
    with open_catalog(where.location, media=where.media, create=True, extractors=EXTRACTORS) as catalog:
        yield catalog


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def features(seed: int, keypoints: int = 5) -> tuple[np.ndarray, LocalFeatures]:
    rng = np.random.default_rng(seed)
    local = LocalFeatures(
        rng.uniform(0, 100, (keypoints, 2)).astype(np.float32),
        rng.integers(0, 255, (keypoints, 128)).astype(np.uint8),
        120,
        80,
    )
    return unit(rng.normal(size=DIM)), local


def add(
    store: Catalog, record_id: str, seed: int = 0, collection: str = "c", keypoints: int = 5, **metadata: str
) -> int:
    vector, local = features(seed, keypoints)
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
    store.save_search("s1", {"top_k": 3}, {"data": [1, 2]}, expires_at=time.time() + 60, photo_bytes=100)
    saved = store.get_search("s1")
    assert (saved.request, saved.response, saved.photo_bytes) == ({"top_k": 3}, {"data": [1, 2]}, 100)
    with pytest.raises(SearchNotFound):
        store.get_search("s2")


def test_expired_searches_are_not_found_and_deleted_once(store: Catalog) -> None:
    now = time.time()
    store.save_search("old", {}, {}, expires_at=now - 1, photo_bytes=10)
    store.save_search("new", {}, {}, expires_at=now + 60, photo_bytes=20)
    with pytest.raises(SearchNotFound):
        store.get_search("old")
    assert store.saved_search_bytes() >= 30
    assert "old" in store.delete_expired_searches(now)
    assert "old" not in store.delete_expired_searches(now)
    assert store.get_search("new").photo_bytes == 20


def test_keeping_a_search_only_ever_extends_it(store: Catalog) -> None:
    now = time.time()
    store.save_search("k", {}, {}, expires_at=now + 60)
    assert store.keep_search("k", now + 3600) == pytest.approx(now + 3600)
    assert store.keep_search("k", now + 10) == pytest.approx(now + 3600)
    store.save_search("gone", {}, {}, expires_at=now - 1)
    with pytest.raises(SearchNotFound):
        store.keep_search("gone", now + 3600)


def test_store_refuses_features_of_another_extractor(store: Catalog, where) -> None:
    with pytest.raises(ExtractorMismatch):
        open_catalog(where.location, media=where.media, extractors={"global": "other/9", "local": "l/1"})
    assert store.extractors() == EXTRACTORS


def test_opening_a_missing_catalog_is_catalog_not_found(where) -> None:
    with pytest.raises(CatalogNotFound, match="no catalog here"):
        open_catalog(where.location, media=where.media)


def test_reopening_finds_records_and_media(store: Catalog, where) -> None:
    key = add(store, "r1")
    with open_catalog(where.location) as again:
        assert again.find("c", "r1").key == key
        assert again.media.resolve() == store.media.resolve()


def test_nearest_agrees_with_exact_search(store: Catalog) -> None:
    keys = [add(store, f"r{i}", seed=i) for i in range(60)]
    stored_keys, vectors = store.global_vectors()
    assert stored_keys.tolist() == keys
    store.warm()
    rng = np.random.default_rng(5)
    for probe in range(10):
        query = unit(vectors[probe] + rng.normal(scale=0.01, size=DIM))
        found, sims = store.nearest(query, 5)
        exact = np.argsort(-(vectors @ query))[:5]
        assert found[0] == keys[probe] and set(found.tolist()) == {keys[i] for i in exact}
        assert np.allclose(sims, np.sort(vectors @ query)[::-1][:5], atol=1e-4)


def test_nearest_in_a_large_catalog_reports_exact_similarities(store: Catalog, monkeypatch) -> None:
    monkeypatch.setattr(vector_module, "ANN_THRESHOLD", 30)  # the embedded store's 8-bit HNSW from 31 records
    keys = [add(store, f"r{i}", seed=i) for i in range(60)]
    _, vectors = store.global_vectors()
    store.warm()
    query = unit(vectors[7] + np.random.default_rng(6).normal(scale=0.02, size=DIM))
    found, sims = store.nearest(query, 5)
    exact = np.sort(vectors @ query)[::-1][:5]
    assert found[0] == keys[7] and np.allclose(sims, exact, atol=1e-5)


@pytest.mark.parametrize("threshold", [1000, 30], ids=["exact", "approximate"])
def test_nearest_keeps_up_with_records_another_process_adds_replaces_and_deletes(
    store: Catalog, where, monkeypatch, threshold: int
) -> None:
    """A serving worker searches while an ingest in another process changes the catalog: what it adds is
    found at the worker's next search, what it replaces is found by its new picture, what it deletes is
    gone. (The embedded store holds the global index in each worker's memory.)"""
    monkeypatch.setattr(vector_module, "ANN_THRESHOLD", threshold)
    keys = [add(store, f"r{i}", seed=i) for i in range(40)]
    assert store.nearest(features(3)[0], 1)[0][0] == keys[3]
    with open_catalog(where.location, media=where.media) as ingest:
        added = [add(ingest, f"new{i}", seed=100 + i) for i in range(5)]
    for number, key in enumerate(added):
        assert store.nearest(features(100 + number)[0], 1)[0][0] == key
    with open_catalog(where.location, media=where.media) as ingest:
        assert add(ingest, "r5", seed=200) == keys[5]  # the same record, another image
        ingest.delete("c", ["r6"])
    assert store.nearest(features(200)[0], 1)[0][0] == keys[5]
    assert keys[5] not in store.nearest(features(5)[0], 3)[0].tolist()
    assert keys[6] not in store.nearest(features(6)[0], 3)[0].tolist()
    assert store.nearest(features(100)[0], 1)[0][0] == added[0]


def test_nearest_with_filter_returns_only_and_enough_matching_records(store: Catalog) -> None:
    for i in range(40):
        add(store, f"r{i}", seed=i, collection="rare" if i % 10 == 0 else "common")
    rare = {r.key for r in store.browse(RecordFilter(collections=("rare",)))[0]}
    query = features(3)[0]
    found, _ = store.nearest(query, 4, RecordFilter(collections=("rare",)))
    assert set(found.tolist()) == rare and len(rare) == 4
    assert store.nearest(query, 3, RecordFilter(collections=("common",)))[0][0] == store.find("common", "r3").key


def test_browse_filters_pages_and_counts(store: Catalog) -> None:
    add(store, "b", person="Albrecht DÜRER", classification="Print")
    add(store, "a", person="Rembrandt", classification="Print")
    add(store, "c", person="100% sure_", classification="Drawing")
    page, count = store.browse(RecordFilter(classification=("Print",)), offset=1, limit=1)
    assert count == 2 and [r.record_id for r in page] == ["b"]
    assert [r.record_id for r in store.browse(RecordFilter(person="dürer"))[0]] == ["b"]
    assert [r.record_id for r in store.browse(RecordFilter(person="0% s"))[0]] == ["c"]
    assert store.browse(RecordFilter(person="%"))[1] == 1
    assert store.browse(RecordFilter(year_min=1651))[1] == 0 and store.browse(RecordFilter(year_max=1600))[1] == 3
    assert store.browse()[1] == 3


def test_text_search_finds_words_in_any_field_by_prefix(store: Catalog) -> None:
    add(store, "RP-P-1961-1095", title="Landscape with three trees", person="Rembrandt van Rijn")
    add(store, "b", title="The Prodigal Son", person="Albrecht Dürer", technique="engraving")
    add(store, "c", title="Three crosses", person="Rembrandt van Rijn", classification="Print")

    def found(text: str, **more: object) -> list[str]:
        return [r.record_id for r in store.browse(RecordFilter(text=text, **more))[0]]

    assert found("rembr") == ["RP-P-1961-1095", "c"]
    assert found("rembrandt three tree") == ["RP-P-1961-1095"]  # every word, each as a prefix
    assert found("PRODIGAL engrav") == ["b"] and found("1961") == ["RP-P-1961-1095"]
    assert found("rembrandt", classification=("Print",)) == ["c"]  # with the other filters
    assert found("rembrandt durer") == [] and found("%_*") == [] and found('"') == []
    assert found("dürer") == ["b"]


def test_text_search_follows_updates_and_deletes(store: Catalog) -> None:
    add(store, "a", title="Melencolia")
    store.update_metadata("c", "a", {"title": "Saint Jerome"}, (None, None))
    assert store.browse(RecordFilter(text="melencolia"))[1] == 0
    assert store.browse(RecordFilter(text="jerome"))[1] == 1
    add(store, "a", title="Knight, Death and the Devil")  # re-ingest of the same record
    assert [r.record_id for r in store.browse(RecordFilter(text="knight"))[0]] == ["a"]
    assert store.browse(RecordFilter(text="jerome"))[1] == 0
    store.delete("c", ["a"])
    assert store.browse(RecordFilter(text="knight"))[1] == 0


def test_filter_values_lists_collections_facets_and_years(store: Catalog) -> None:
    add(store, "a", collection="one", classification="Print", institution="")
    add(store, "b", collection="two", classification="Drawing")
    values = store.filter_values()
    assert values["collections"] == ["one", "two"] and values["classification"] == ["Drawing", "Print"]
    assert values["institution"] == [] and values["years"] == [1600, 1650]


def test_records_by_key_leaves_out_missing_keys(store: Catalog) -> None:
    key = add(store, "a")
    assert list(store.records([key, key + 1000])) == [key]
    assert list(store.records(np.array([key], np.int64))) == [key]  # keys as numpy gives them


def test_bulk_insert_and_export_round_trip(store: Catalog) -> None:
    rows = []
    for i in range(7):
        vector, local = features(i, keypoints=3 + i)
        rows.append(
            RecordWithFeatures("c", f"r{i}", f"/x/{i}.jpg", f"h{i}", {"title": f"t{i}"}, (1500, None), vector, local)
        )
    start = store.generation
    assert store.insert_many(iter(rows)) == 7 and store.generation > start
    out = list(store.records_with_features())
    assert [r.record_id for r in out] == [f"r{i}" for i in range(7)]
    for given, got in zip(rows, out, strict=True):
        assert got.metadata == given.metadata and got.years == (1500, None)
        assert np.allclose(got.global_vector, given.global_vector)
        assert np.array_equal(got.local.descriptors, given.local.descriptors)
        assert (got.local.width, got.local.height) == (120, 80)
    assert store.keypoint_count() == sum(3 + i for i in range(7))
    assert store.nearest(rows[4].global_vector, 1)[0][0] == store.find("c", "r4").key


def test_reader_refuses_a_catalog_that_needs_migrating(store: Catalog, where) -> None:
    store.execute("DELETE FROM migrations WHERE name = '0003_search_retention'")
    with pytest.raises(StoreNotMigrated, match="platemark migrate"):
        open_catalog(where.location, media=where.media)


def test_orphan_images_are_removed_unless_written_while_the_ingest_ran(store: Catalog) -> None:
    add(store, "r1", seed=1)  # its images are named h1.jpg
    store.thumbs_dir.mkdir(parents=True)
    for name in ("h1.jpg", "old.jpg", "fresh.jpg"):
        (store.thumbs_dir / name).write_bytes(b"jpeg")
    for name in ("h1.jpg", "old.jpg"):
        os.utime(store.thumbs_dir / name, (1_000, 1_000))
    assert store.remove_orphan_images(written_before=time.time() - 60) == 1
    assert sorted(p.name for p in store.thumbs_dir.iterdir()) == ["fresh.jpg", "h1.jpg"]


def test_duplicate_pairs_are_kept_forgotten_and_reexamined_when_an_image_changes(store: Catalog) -> None:
    a, b, c = (add(store, name, seed) for name, seed in (("a", 1), ("b", 2), ("c", 3)))
    examined = store.unexamined()
    assert set(examined) == {a, b, c}
    store.save_duplicates(examined, [(a, b, "rescan", 40, "{}"), (b, c, "detail", 30, "{}")])
    assert store.unexamined() == {}
    assert store.duplicate_rows() == [(a, b, "rescan", 40, "{}"), (b, c, "detail", 30, "{}")]
    assert add(store, "c", 9) == c  # a new image for c, in place
    assert set(store.unexamined()) == {c}
    version = store.duplicates_version()
    store.forget_duplicates([c])
    assert store.duplicate_rows() == [(a, b, "rescan", 40, "{}")]
    assert store.duplicates_version() != version  # a cached listing of the pairs reads them again
    version = store.duplicates_version()
    store.save_duplicate_decision(("c", "a"), ("c", "b"), "different", 1.0)
    assert store.duplicates_version() == version  # decisions are read apart
    store.delete("c", ["a"])
    assert store.duplicate_rows() == []
    assert store.duplicates_version() != version


def test_stored_pairs_are_read_again_when_records_change_not_when_records_are_added(store: Catalog) -> None:
    add(store, "a", 1, title="A print")
    version = store.duplicates_version()
    add(store, "b", 2)  # an ingest adds records many times a minute: the review listing stays
    store.update_metadata("c", "a", {"title": "A print"}, (1600, 1650))  # unchanged: nothing written
    assert store.duplicates_version() == version
    store.update_metadata("c", "a", {"title": "A print, retitled"}, (1600, 1650))
    assert store.duplicates_version() != version and store.find("c", "a").metadata["title"] == "A print, retitled"
    version = store.duplicates_version()
    add(store, "b", 3)  # a new image in place: another thumbnail
    assert store.duplicates_version() != version


def test_shared_contents_are_the_image_files_several_records_hold(store: Catalog) -> None:
    first, second = add(store, "a", seed=1), add(store, "b", seed=1)
    add(store, "c", seed=2)
    assert store.shared_contents() == {"h1": [first, second]}
    store.delete("c", ["b"])
    assert store.shared_contents() == {}


def test_duplicate_decisions_are_kept_by_record_names_and_withdrawn(store: Catalog) -> None:
    store.save_duplicate_decision(("c", "b"), ("c", "a"), "other_impression", 10.0)
    store.save_duplicate_decision(("c", "a"), ("c", "b"), "different", 11.0)  # the same pair, either order
    assert store.duplicate_decisions() == {(("c", "a"), ("c", "b")): ("different", 11.0)}
    store.save_duplicate_decision(("c", "a"), ("c", "b"), None, 12.0)
    assert store.duplicate_decisions() == {}


def test_space_a_deletion_frees_is_told_apart_from_space_in_use(store: Catalog) -> None:
    for i in range(4):
        add(store, f"r{i}", i, keypoints=2000)  # 256 kB of descriptors each
    store.delete("c", ["r0", "r1", "r2"])
    if store.backend == "sqlite":  # its file keeps the pages, and new rows fill them first
        assert 700_000 < store.free_on_disk() < store.size_on_disk()
    else:
        assert store.free_on_disk() == 0
    assert store.info()["free_mb"] == round(store.free_on_disk() / 1e6, 1)
