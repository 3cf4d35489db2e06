"""The local-feature index in each store: incremental, consistent, and shared through the catalog."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pytest
from catalogs import BACKENDS

from platemark.extract.sift import LocalFeatures
from platemark.index import build
from platemark.index.build import update_index
from platemark.index.postings import POSTING, CurrentPostings
from platemark.search.local import WordIndex
from platemark.store import Catalog, base, open_catalog

pytestmark = pytest.mark.parametrize("empty_catalog", BACKENDS, indirect=True)
EXTRACTORS = {"global": "g/1", "local": "l/1"}
KEYPOINTS = 300


@pytest.fixture
def store(empty_catalog) -> Iterator[Catalog]:
    where = empty_catalog
    with open_catalog(where.location, media=where.media, create=True, extractors=EXTRACTORS) as catalog:
        yield catalog


def local(seed: int) -> LocalFeatures:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 1000, (KEYPOINTS, 2)).astype(np.float32)
    return LocalFeatures(points, rng.integers(0, 120, (KEYPOINTS, 128)).astype(np.uint8), 1000, 1000)


def add(store: Catalog, record_id: str, seed: int) -> int:
    vector = np.zeros(1280, np.float32)
    vector[seed % 1280] = 1
    return store.upsert(
        collection="c",
        record_id=record_id,
        image_path=f"/x/{record_id}.jpg",
        content_hash=f"h{seed}",
        metadata={},
        years=(None, None),
        global_vector=vector,
        local=local(seed),
    )


def photo_of(seed: int) -> np.ndarray:
    """Descriptors of a photo of the record made with `seed`: its keypoints, a little changed."""
    rng = np.random.default_rng(1000 + seed)
    descriptors = local(seed).descriptors[:150].astype(int) + rng.integers(-3, 4, (150, 128))
    return np.clip(descriptors, 0, 255).astype(np.uint8)


def best_voted(store: Catalog, seed: int) -> int | None:
    index = WordIndex.load(store)
    matches = index.matches(photo_of(seed))
    keys, _, counts = matches.current(CurrentPostings(store.indexed_segments(index.codebook_id))).votes()
    return int(keys[0]) if len(keys) and counts[0] >= 20 else None


def test_votes_find_the_record_and_carry_its_keypoint_positions(store: Catalog) -> None:
    keys = [add(store, f"r{i}", i) for i in range(12)]
    report = update_index(store)
    assert report.trained and report.indexed == 12
    index = WordIndex.load(store)
    matches = index.matches(photo_of(5))
    assert int(matches.votes()[0][0]) == keys[5]
    segment = store.indexed_segments(index.codebook_id, [keys[5]])[keys[5]]
    query_idx, xy = matches.of(keys[5], segment)
    assert len(query_idx) > 120
    assert np.allclose(xy, np.rint(local(5).points[query_idx]))  # photo keypoint i is record keypoint i


def test_new_records_are_indexed_alone_and_found(store: Catalog) -> None:
    for i in range(10):
        add(store, f"r{i}", i)
    update_index(store)
    new = add(store, "late", 99)
    assert best_voted(store, 99) is None  # stored, not indexed yet
    report = update_index(store)
    assert report.indexed == 1 and not report.trained
    assert best_voted(store, 99) == new


def test_deleted_and_reingested_records_leave_the_index_at_once(store: Catalog) -> None:
    keys = [add(store, f"r{i}", i) for i in range(10)]
    update_index(store)
    store.delete("c", ["r3"])
    assert best_voted(store, 3) is None
    assert add(store, "r4", 44) == keys[4]  # a new image for r4: its old postings are stale
    assert best_voted(store, 4) is None
    update_index(store)
    assert best_voted(store, 44) == keys[4] and best_voted(store, 4) is None


def test_preloading_reads_every_posting_list_of_the_active_codebook_once(store: Catalog) -> None:
    for i in range(10):
        add(store, f"r{i}", i)
    assert store.preload_postings() == 0  # nothing indexed yet
    update_index(store)
    add(store, "late", 99)
    update_index(store)  # a second segment
    active = store.active_codebook_id()
    (stored,) = store.execute("SELECT sum(length(data)) FROM postings WHERE codebook = ?", (active,)).fetchone()
    assert store.index_info()["segments"] == 2
    assert store.preload_postings(connections=3) == stored == 11 * KEYPOINTS * POSTING.itemsize


def test_merging_segments_keeps_every_vote_and_drops_stale_postings(store: Catalog, monkeypatch) -> None:
    monkeypatch.setattr(build, "SEGMENT_RECORDS", 2)
    monkeypatch.setattr(build, "FAN_IN", 100)
    keys = [add(store, f"r{i}", i) for i in range(20)]
    update_index(store)
    store.delete("c", ["r0", "r1"])  # segment 1 holds nothing current now
    add(store, "r2", 222)
    update_index(store)
    codebook = WordIndex.load(store).codebook_id
    before = WordIndex.load(store).matches(photo_of(7))
    assert len(store.segments(codebook)) == 10  # segment 1 was dropped, leaving no empty one
    monkeypatch.setattr(build, "FAN_IN", 4)
    assert update_index(store).merged == 10  # one tier: all small
    segments = store.segments(codebook)
    assert len(segments) == 1 and sum(records for records, _ in segments.values()) == 18
    after = WordIndex.load(store).matches(photo_of(7))
    assert after.votes()[0][0] == before.votes()[0][0] == keys[7]
    pairs = [set(zip(m.query[m.key == keys[7]], m.point[m.key == keys[7]], strict=True)) for m in (before, after)]
    assert pairs[0] == pairs[1] and len(pairs[0]) > 120
    assert set(after.key.tolist()) <= set(keys[2:])  # the deleted records' postings are gone


def test_segments_are_merged_in_tiers_as_records_keep_coming(store: Catalog, monkeypatch) -> None:
    monkeypatch.setattr(build, "SEGMENT_RECORDS", 1)
    monkeypatch.setattr(build, "TIER_BASE", 2 * KEYPOINTS * POSTING.itemsize)  # tiers: < 8, 8-31, 32+ records
    keys, held = [], []
    for i in range(40):  # an ingest indexing each record as it comes
        keys.append(add(store, f"r{i}", i))
        update_index(store)
        held.append(sorted((r for r, _ in store.segments(WordIndex.load(store).codebook_id).values()), reverse=True))
    assert held[29] == [10, 10, 10]  # four small ones merged into a segment of the next tier, three times
    assert held[38] == [10, 10, 10, 7, 1, 1] and held[39] == [40]  # a fourth of it: all into one
    assert max(len(sizes) for sizes in held) <= 2 * (build.FAN_IN - 1)
    assert best_voted(store, 3) == keys[3] and best_voted(store, 39) == keys[39]


def test_a_failed_indexing_run_leaves_nothing_half_written(store: Catalog, monkeypatch) -> None:
    for i in range(6):
        add(store, f"r{i}", i)
    update_index(store)
    add(store, "new", 50)
    codebook = WordIndex.load(store).codebook_id
    before = store.segments(codebook)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as if killed while writing

    monkeypatch.setattr(store, "executemany", crash)
    with pytest.raises(KeyboardInterrupt):
        update_index(store)
    monkeypatch.undo()
    assert store.segments(codebook) == before and len(store.indexed_segments(codebook)) == 6
    assert update_index(store).indexed == 1


def merged_rows(store: Catalog, codebook: int, segments: list[int]) -> list[tuple[int, bytes]]:
    """(word, postings) of the segments together, as a merge writes them."""
    parts = defaultdict(list)
    for word, _, data in store.postings(codebook, store.segment_words(codebook, segments), segments):
        parts[word].append(data)
    return [(word, b"".join(found)) for word, found in parts.items()]


def postings_of(store: Catalog, codebook: int, segments: list[int]) -> int:
    marks = ",".join("?" * len(segments))
    sql = f"SELECT count(*) FROM postings WHERE codebook = ? AND segment IN ({marks})"
    return store.execute(sql, (codebook, *segments)).fetchone()[0]


def indexed_in_segments(store: Catalog, monkeypatch, records: int) -> tuple[list[int], int, list[int]]:
    monkeypatch.setattr(build, "SEGMENT_RECORDS", 2)
    monkeypatch.setattr(build, "FAN_IN", 100)
    keys = [add(store, f"r{i}", i) for i in range(records)]
    update_index(store)
    codebook = WordIndex.load(store).codebook_id
    return keys, codebook, sorted(store.segments(codebook))


def test_other_writers_get_in_while_a_merge_is_written(store: Catalog, empty_catalog, monkeypatch) -> None:
    keys, codebook, merged = indexed_in_segments(store, monkeypatch, 10)
    monkeypatch.setattr(base, "WRITE_BATCH", 1)  # a transaction per word
    rows = merged_rows(store, codebook, merged)
    waits = []

    def written_while_another_writes() -> Iterator[tuple[int, bytes]]:
        for n, row in enumerate(rows):
            if n == len(rows) // 2:
                with open_catalog(empty_catalog.location, media=empty_catalog.media) as other:
                    if empty_catalog.backend == "sqlite":  # the store waits 60 s; the old merge held it throughout
                        other.execute("PRAGMA busy_timeout = 5000")
                    started = time.perf_counter()
                    other.save_search("s1", {}, {}, expires_at=time.time() + 60)
                    waits.append(time.perf_counter() - started)
                assert best_voted(store, 7) == keys[7]  # searches go on with the merged segments meanwhile
            yield row

    segment = store.replace_segments(codebook, merged, written_while_another_writes())
    assert waits and waits[0] < 5 and store.get_search("s1").search_id == "s1"
    assert list(store.segments(codebook)) == [segment] and best_voted(store, 7) == keys[7]
    assert postings_of(store, codebook, merged) == 0  # the merged segments' postings are deleted


def test_a_merge_that_fails_midway_changes_nothing(store: Catalog, monkeypatch) -> None:
    keys, codebook, merged = indexed_in_segments(store, monkeypatch, 10)
    monkeypatch.setattr(base, "WRITE_BATCH", 1)
    rows = merged_rows(store, codebook, merged)

    def failing() -> Iterator[tuple[int, bytes]]:
        yield from rows[: len(rows) // 2]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.replace_segments(codebook, merged, failing())
    assert sorted(store.segments(codebook, claimable=True)) == merged  # none left claimed
    assert store.execute("SELECT count(*) FROM segments").fetchone()[0] == len(merged)  # the half-written one dropped
    assert best_voted(store, 3) == keys[3]
    assert update_index(store).merged == 0 and store.replace_segments(codebook, merged, rows) is not None


KILLED_MERGE = """
import os
from itertools import groupby
from platemark.store import base, open_catalog

base.WRITE_BATCH = 1
with open_catalog({location!r}, media={media!r}) as store:
    codebook = store.active_codebook_id()
    merged = sorted(store.segments(codebook))
    found = store.postings(codebook, store.segment_words(codebook, merged))
    rows = [(word, b"".join(data for _, _, data in group)) for word, group in groupby(found, lambda row: row[0])]

    def killed():
        yield from rows[: len(rows) // 2]
        os._exit(3)  # killed: no cleanup runs

    store.replace_segments(codebook, merged, killed())
"""


def test_a_killed_merge_leaves_the_index_consistent_and_is_cleaned_up(
    store: Catalog, empty_catalog, monkeypatch
) -> None:
    keys, codebook, merged = indexed_in_segments(store, monkeypatch, 10)
    media = str(empty_catalog.media) if empty_catalog.media else None
    script = KILLED_MERGE.format(location=empty_catalog.location, media=media)
    assert subprocess.run([sys.executable, "-c", textwrap.dedent(script)], timeout=120).returncode == 3
    pending = [s for (s,) in store.execute("SELECT segment FROM segments WHERE state = 'pending'")]
    assert len(pending) == 1 and postings_of(store, codebook, pending) > 0
    assert sorted(store.segments(codebook)) == merged and best_voted(store, 3) == keys[3]
    assert not store.segments(codebook, claimable=True)  # claimed by the dead merge: nobody merges them twice
    update_index(store)
    assert postings_of(store, codebook, pending) > 0  # kept: for all it knows, the merge is still writing
    monkeypatch.setattr(base, "ABANDONED_AFTER", 0.0)  # ... until untouched for long
    monkeypatch.setattr(build, "FAN_IN", 4)
    assert update_index(store).merged == len(merged)
    assert postings_of(store, codebook, pending + merged) == 0 and len(store.segments(codebook)) == 1
    assert best_voted(store, 3) == keys[3]


def test_a_record_reingested_while_it_was_being_indexed_stays_unindexed(store: Catalog) -> None:
    key = add(store, "r0", 0)
    update_index(store)
    codebook = WordIndex.load(store).codebook_id
    add(store, "r0", 1)  # new image: unindexed
    read = dict(store.unindexed(codebook, 10))
    add(store, "r0", 2)  # another new image while the first was being encoded
    store.add_segment(codebook, read, [(0, b"")])
    assert key not in store.indexed_segments(codebook)


def test_retraining_swaps_the_codebook_in_one_step(store: Catalog) -> None:
    keys = [add(store, f"r{i}", i) for i in range(8)]
    first = update_index(store).codebook
    store.add_codebook(build.train(store).to_bytes(), 1, active=False)  # a retrain under way
    assert WordIndex.load(store).codebook_id == first  # searches keep the old one meanwhile
    report = update_index(store)
    assert report.codebook != first and report.indexed == 8
    assert store.codebook_ids() == {report.codebook: "active"}
    assert postings_of(store, first, [1]) == 0 and store.execute("SELECT count(*) FROM codebooks").fetchone()[0] == 1
    assert best_voted(store, 6) == keys[6]


def test_an_index_run_tells_each_step_as_it_starts(store: Catalog, monkeypatch) -> None:
    monkeypatch.setattr(build, "SEGMENT_RECORDS", 1)
    for i in range(6):
        add(store, f"r{i}", i)
    update_index(store)
    steps = []
    update_index(store, retrain=True, progress=lambda step, records: steps.append((step, records)))
    assert steps[0] == ("training a codebook", 0)
    assert steps[1:7] == [("indexing", 1)] * 6  # under the new codebook, a segment at a time
    assert steps[7:] == [("merging 6 segments", 0), ("switching codebooks", 0)]


def test_a_grown_catalog_is_trained_to_the_vocabulary_it_needs(store: Catalog, monkeypatch) -> None:
    # ~21,000 keypoints want 16 x 16 words (branching_for); the sample is just what 16 needs, and records
    # differ in size as real ones do, so a sample drawn at exactly that rate falls short half the time
    monkeypatch.setattr(build, "TRAINING_SAMPLE", 4 * 16**2)
    rng = np.random.default_rng(0)
    for i in range(70):
        count = int(rng.integers(50, 550))
        points = rng.uniform(0, 1000, (count, 2)).astype(np.float32)
        descriptors = rng.integers(0, 120, (count, 128)).astype(np.uint8)
        store.upsert(
            collection="c",
            record_id=f"r{i}",
            image_path=f"/x/r{i}.jpg",
            content_hash=f"h{i}",
            metadata={},
            years=(None, None),
            global_vector=np.eye(1280, dtype=np.float32)[i],
            local=LocalFeatures(points, descriptors, 1000, 1000),
        )
    assert [build.train(store, seed).branching for seed in range(6)] == [16] * 6


def stored_descriptors(store: Catalog, key: int) -> np.ndarray:
    return next(d for _, _, d in store.local_features([key]))


def test_a_catalog_below_the_widest_vocabulary_keeps_its_descriptors_whole(store: Catalog) -> None:
    key = add(store, "r0", 0)
    assert update_index(store).compressed == 0
    assert np.array_equal(stored_descriptors(store, key), local(0).descriptors)


def test_at_the_widest_vocabulary_indexed_records_keep_their_descriptors_compressed(
    store: Catalog, monkeypatch
) -> None:
    monkeypatch.setattr(build, "MAX_BRANCHING", 8)  # the tests' vocabulary is as wide as it will get
    keys = [add(store, f"r{i}", i) for i in range(40)]
    size = store.keypoint_count()
    steps = []
    report = update_index(store, progress=lambda step, records: steps.append(step))
    assert report.compressed == 40 and store.index_info()["compressed"] == 40
    assert steps.count("training a descriptor codec") == 1
    assert store.keypoint_count() == size
    for seed in (3, 17):  # decoded: each descriptor nearest its own original, of the record's 300
        decoded = stored_descriptors(store, keys[seed]).astype(np.float32)
        original = local(seed).descriptors.astype(np.float32)
        distances = ((decoded[:, None] - original[None]) ** 2).sum(axis=2)
        assert (distances.argmin(axis=1) == np.arange(KEYPOINTS)).mean() > 0.9
    exported = {r.record_id: r.local.descriptors for r in store.records_with_features()}
    assert np.array_equal(exported["r3"], stored_descriptors(store, keys[3]))  # export decodes them
    assert best_voted(store, 17) == keys[17]  # the postings were encoded from the whole descriptors
    late = add(store, "late", 99)  # stored whole, compressed once indexed
    assert np.array_equal(stored_descriptors(store, late), local(99).descriptors)
    assert add(store, "r5", 55) == keys[5]  # a new image: whole again
    assert np.array_equal(stored_descriptors(store, keys[5]), local(55).descriptors)
    report = update_index(store)
    assert report.indexed == 2 and report.compressed == 2 and not report.trained
    assert store.execute("SELECT count(*) FROM descriptor_codecs").fetchone()[0] == 1
    assert best_voted(store, 99) == late


def test_a_record_reingested_while_it_was_being_compressed_keeps_its_new_descriptors(
    store: Catalog, monkeypatch
) -> None:
    monkeypatch.setattr(build, "MAX_BRANCHING", 8)
    keys = [add(store, f"r{i}", i) for i in range(40)]
    update_index(store)
    add(store, "r1", 41)
    add(store, "r2", 42)
    update_index(store)  # indexed again; compressed, as the codec exists
    add(store, "r1", 51)
    read = {keys[1]: "h41", keys[2]: "h42"}  # r1 was read before its new image came
    codec_id = store.descriptor_codec()
    codes = {key: store.codec(codec_id).encode(local(seed).descriptors) for key, seed in ((keys[1], 41), (keys[2], 42))}
    assert store.compress_descriptors(codec_id, read, codes) == 0  # r2 is compressed already
    assert np.array_equal(stored_descriptors(store, keys[1]), local(51).descriptors)


def test_later_passes_of_a_search_read_only_the_posting_lists_not_read_yet(store: Catalog, monkeypatch) -> None:
    keys = [add(store, f"r{i}", i) for i in range(12)]
    update_index(store)
    keys += [add(store, f"late{i}", 20 + i) for i in range(3)]
    update_index(store)  # a second segment
    index = WordIndex.load(store)
    alone = {seed: index.matches(photo_of(seed)).votes() for seed in (5, 22)}
    asked: list[list[int]] = []
    postings = store.postings
    monkeypatch.setattr(
        store, "postings", lambda codebook, words: asked.append(list(words)) or postings(codebook, words)
    )
    fetched: dict[int, list[tuple[int, bytes]]] = {}
    for seed in (5, 5, 22):
        votes = index.matches(photo_of(seed), fetched=fetched).votes()
        assert all(np.array_equal(got, want) for got, want in zip(votes, alone[seed], strict=True))
    first, again, other = asked
    assert first and not again and set(other).isdisjoint(first)
    assert int(alone[22][0][0]) == keys[12 + 2]
