"""Keep a catalog's local-feature index up to date: train the codebook, index new records, merge.

The index lives in the catalog itself (SQLite or PostgreSQL), so every worker on every machine
searches the same one and nothing is rebuilt per process. `update_index` is incremental and safe
to run from any number of processes at once, and to kill:
- records not yet indexed are encoded and stored as a new *segment*, in one transaction;
- when there are many segments, the smallest are merged into one (postings of re-ingested and
  deleted records are dropped then; until then the `indexed` table already hides them), written
  a batch per transaction while searches go on with the old ones, so that other writers never
  wait long for SQLite's write lock (`Catalog.replace_segments`);
- when the catalog has grown well past what its codebook was trained on, a new codebook is trained
  from a sample, every record is indexed under it while searches go on with the old one, and the
  new one becomes active in one step;
- once the active codebook is at its widest (no retrain will come from growth), the descriptors of
  the records it indexes are stored compressed (platemark.store.descriptors), a batch per transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from platemark.index.codebook import MAX_BRANCHING, Codebook, branching_for
from platemark.index.postings import CurrentPostings, by_word, decode, encode
from platemark.store.base import Catalog
from platemark.store.descriptors import TRAINING_SAMPLE as CODEC_SAMPLE
from platemark.store.descriptors import DescriptorCodec

#: Records indexed per segment.
SEGMENT_RECORDS = 2000
#: Segments are merged in tiers, as log-structured stores do: segments within a factor FAN_IN of each
#: other in size form a tier, and a tier that holds FAN_IN of them is merged into one segment of the next.
#: A posting is rewritten about once per tier it climbs, log_FAN_IN(index / TIER_BASE) times however the
#: index grew, and there are at most FAN_IN - 1 segments a tier (a search reads a row per word and segment).
#: Merging all but the two largest whenever there were more than four rewrote the growing third one each
#: time: 28 times the index over a 333-minute ingest, 275 times over ten times that (bench_merges.py).
FAN_IN = 4
#: Segments with fewer bytes of postings than this are all in the first tier.
TIER_BASE = 1 << 20
#: Retrain once the catalog holds this many times the descriptors its codebook was trained on.
RETRAIN_GROWTH = 4
#: Descriptors sampled to train a codebook: four per word of the widest vocabulary, which is what
#: `Codebook.train` needs to build it (2.1 GB as float32 while training). Half as many capped a 500k
#: catalog at 262,144 words, where a photo's lookups read 109 MB of postings.
TRAINING_SAMPLE = 4 * MAX_BRANCHING**2
#: Descriptors are drawn at this multiple of the rate and trimmed to the sample: records differ in size,
#: and a sample drawn at the exact rate fell a few short of the width it was for half the time.
OVERSAMPLING = 2
#: Words merged per read of the posting table.
MERGE_WORDS = 4096
#: Records whose descriptors are compressed per transaction: SQLite's write lock is held ~0.1 s.
COMPRESS_RECORDS = 200


#: Told each step of `update_index` as it starts, and the records just indexed.
Progress = Callable[[str, int], None]


def _silent(step: str, records: int) -> None:
    pass


@contextmanager
def progress_line(enabled: bool = True) -> Iterator[Progress]:
    """A `progress` for `update_index` that shows the step and the records indexed on one terminal line
    (nothing when not on a terminal, or not `enabled`)."""
    with tqdm(desc="index", unit="record", disable=None if enabled else True) as bar:

        def shown(step: str, records: int) -> None:
            bar.set_description_str(step, refresh=not records)  # a step that indexes nothing shows at once
            bar.update(records)

        yield shown


@dataclass
class IndexReport:
    """What one `update_index` run did."""

    codebook: int | None = None
    trained: bool = False
    indexed: int = 0
    merged: int = 0
    compressed: int = 0
    seconds: float = 0.0


def update_index(catalog: Catalog, *, retrain: bool = False, progress: Progress | None = None) -> IndexReport:
    """Bring the catalog's local-feature index up to date (see the module).

    Args:
        retrain: train a new codebook even if the catalog has not grown enough to need one.
        progress: called with each step as it starts ("training a codebook", "indexing", "merging N
            segments", "compressing descriptors", "switching codebooks") and the records it has just
            indexed or compressed (0 for the others): at 500k records a retrain runs for over an hour.
    """
    shown = progress or _silent
    started = time.perf_counter()
    report = IndexReport()
    catalog.drop_retired()  # what a killed merge or retrain left behind
    if catalog.count() == 0:
        return report
    loaded: dict[int, Codebook] = {}  # read once: at a million words a codebook is ~540 MB
    active = catalog.codebook("active")
    if active is not None:
        report.codebook = active[0]
        loaded[active[0]] = Codebook.from_bytes(active[1])
    if active is None or (catalog.codebook("building") is None and (retrain or _outgrown(catalog, loaded[active[0]]))):
        shown("training a codebook", 0)
        codebook = train(catalog)
        codebook_id = catalog.add_codebook(codebook.to_bytes(), codebook.trained_on, active=active is None)
        report.codebook = report.codebook or codebook_id
        report.trained = True
    for codebook_id, state in catalog.codebook_ids().items():  # the active one, and one being built
        codebook = loaded.get(codebook_id) or Codebook.from_bytes(catalog.codebook_data(codebook_id))
        report.indexed += _index_new(catalog, codebook_id, codebook, shown)
        report.merged += _merge(catalog, codebook_id, shown)
        if state == "active" and codebook.branching >= MAX_BRANCHING:
            report.compressed += _compress(catalog, codebook_id, shown)
        if state == "building":
            shown("switching codebooks", 0)
            catalog.activate_codebook(codebook_id)
            report.codebook = codebook_id
    report.seconds = time.perf_counter() - started
    return report


def train(catalog: Catalog, seed: int = 0) -> Codebook:
    """A codebook trained on descriptors sampled evenly from the catalog's records."""
    total = catalog.keypoint_count()
    return Codebook.train(sample_descriptors(catalog, TRAINING_SAMPLE, total, seed), total, seed)


def sample_descriptors(catalog: Catalog, count: int, total: int, seed: int = 0) -> np.ndarray:
    """Up to `count` of the catalog's `total` descriptors, drawn evenly from its records."""
    keys = [int(k) for (k,) in catalog.execute("SELECT id FROM records ORDER BY id")]
    share = min(1.0, count / max(total, 1))
    rng = np.random.default_rng(seed)
    chosen = keys if share >= 1 else sorted(rng.choice(keys, min(len(keys), int(len(keys) * share * 4) + 1), False))
    take = min(1.0, OVERSAMPLING * count / max(1, total * len(chosen) / len(keys)))
    parts = []
    for _, _, descriptors in catalog.local_features(chosen):
        if take < 1:
            descriptors = descriptors[rng.random(len(descriptors)) < take]
        parts.append(descriptors)
    sample = np.concatenate(parts)
    if len(sample) > count:
        sample = sample[np.sort(rng.choice(len(sample), count, replace=False))]
    return sample


def _outgrown(catalog: Catalog, codebook: Codebook) -> bool:
    if codebook.branching >= MAX_BRANCHING:
        return False  # without counting keypoints: that reads a row of every record (10 s at 500,000)
    total = catalog.keypoint_count()
    return total > RETRAIN_GROWTH * codebook.trained_on and branching_for(total) > codebook.branching


def _index_new(catalog: Catalog, codebook_id: int, codebook: Codebook, shown: Progress) -> int:
    """Index every record the codebook does not hold yet, a segment at a time; returns how many."""
    done = 0
    while batch := catalog.unindexed(codebook_id, SEGMENT_RECORDS):
        read = dict(batch)
        words, postings = encode(codebook, list(catalog.local_features(read)))
        catalog.add_segment(codebook_id, read, by_word(words, postings))
        done += len(read)
        shown("indexing", len(read))
    return done


def _compress(catalog: Catalog, codebook_id: int, shown: Progress) -> int:
    """Store the descriptors of the records this codebook indexes compressed, training the catalog's
    codec first if it has none; returns how many records were compressed."""
    if not catalog.raw_indexed(codebook_id, 1):
        return 0
    codec_id = catalog.descriptor_codec()
    if codec_id is None:
        shown("training a descriptor codec", 0)
        sample = sample_descriptors(catalog, CODEC_SAMPLE, catalog.keypoint_count())
        codec_id = catalog.add_descriptor_codec(DescriptorCodec.train(sample))
    codec = catalog.codec(codec_id)
    done = 0
    for _ in range(catalog.count() // COMPRESS_RECORDS + 1):  # each batch compresses, or finds records replaced
        if not (read := catalog.raw_indexed(codebook_id, COMPRESS_RECORDS)):
            break
        codes = {key: codec.encode(descriptors) for key, _, descriptors in catalog.local_features(read)}
        compressed = catalog.compress_descriptors(codec_id, read, codes)
        done += compressed
        shown("compressing descriptors", compressed)
    return done


def merge_plan(sizes: dict[int, int]) -> list[int]:
    """The segments to merge next, given {segment: bytes of its postings}: every segment of the smallest
    tier that holds FAN_IN or more (a bulk index merges all its segments at once), or none."""
    tiers: dict[int, list[int]] = {}
    for segment, size in sizes.items():
        tiers.setdefault(int(np.log(max(size, TIER_BASE) / TIER_BASE) / np.log(FAN_IN)), []).append(segment)
    full = [tier for tier in sorted(tiers) if len(tiers[tier]) >= FAN_IN]
    return sorted(tiers[full[0]]) if full else []


def _merge(catalog: Catalog, codebook_id: int, shown: Progress) -> int:
    """Merge segments as `merge_plan` says until it says no more, and drop segments that hold no current
    record; returns how many segments were merged."""
    merged = 0
    segments = catalog.segments(codebook_id)
    for _ in range(len(segments)):  # each merge leaves one segment fewer
        stale = {s for s, (records, _) in segments.items() if records == 0}
        chosen = sorted(stale.union(merge_plan({s: size for s, (_, size) in segments.items()})))
        if not chosen:
            break
        live = catalog.indexed_segments(codebook_id)
        shown(f"merging {len(chosen)} segments", 0)
        if catalog.replace_segments(codebook_id, chosen, _live_rows(catalog, codebook_id, chosen, live)) is None:
            break  # another process is merging
        merged += len(chosen)
        segments = catalog.segments(codebook_id)
    return merged


def _live_rows(
    catalog: Catalog, codebook_id: int, segments: list[int], live: dict[int, int]
) -> Iterator[tuple[int, bytes]]:
    """(word, postings) of the segments together, keeping only records' current postings."""
    current = CurrentPostings(live)
    words = catalog.segment_words(codebook_id, segments)
    for start in range(0, len(words), MERGE_WORDS):
        parts: dict[int, list[np.ndarray]] = {}
        for word, segment, data in catalog.postings(codebook_id, words[start : start + MERGE_WORDS], segments):
            postings = decode(data)
            parts.setdefault(word, []).append(postings[current.mask(postings["key"], segment)])
        for word, found in parts.items():
            kept = np.concatenate(found)
            if len(kept):
                yield word, kept.tobytes()
