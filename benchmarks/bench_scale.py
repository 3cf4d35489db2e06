"""Search as the catalog grows, with distractors that are distinct images (issue 11).

    python benchmarks/bench_scale.py --bench ../shared/bench --sizes 1000,10000,100000
    python benchmarks/bench_scale.py --reuse --sizes 1000,100000 --compare-with REV   # before and after

Records: the museum collection (287) and the hatched prints (247: aic paintings rendered as engravings
by `simulate --hatch`, 20 more left out for not-in-collection photos), plus distractors up to each size.
Queries, the same at every size: the 120 museum gallery photos (10 of artworks not in the collection)
and 80 synthetic phone photos of hatched prints (20 not in the catalog), and 60 far-away photos of
hatched prints (each filling a fifth to a half of the photo: what the second photo scale is for).

Distractors are made from the real local features of other images (the pool: ../shared/bench/woodcuts,
800 drawings of Debian's openclipart-png, the landscape photos of endless-sky-high-dpi; none of them
is a record or the picture of a query). Each distractor is a mosaic of 2-5 rectangular parts of
random pool images, each moved by a random similarity transform (scale 0.5-1.5, any rotation) onto a
1000 x 1000 sheet, up to 1000 keypoints. Its keypoints keep their word and signature, 0-3 signature
bits flipped (what another scan changes); its global vector is a mix of its parts' (simulate.vectors);
its PHash that of its largest part with 6 bits flipped. The catalog's codebook is trained by
`platemark.index.build.train` on the catalog's descriptors, as an ingest does; the distractors'
postings are written through the store's `add_segment`, the real records are indexed by `update_index`.

Per size, the catalog's posting lists are first read into the OS file cache, as `platemark serve` does
when it starts (`preload_s`; from the disk with --drop-caches). Then the full pipeline through `platemark
evaluate` in a fresh process (recall@1, not-in-collection photos rejected, any wrong record verified,
p50/p95, the process's peak RSS), the global CNN kNN alone and a PHash search on the same photos
(recall@1, p50), the catalog's size on disk (and how much of an embedded catalog's file is free pages,
which new records fill before it grows), and at the largest size the time `update_index` takes to make
1000 newly stored records findable. With --compare-with, each set is also searched by platemark at that
commit (a git worktree), the two alternating --rounds times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from report import checkout_process, print_table, save_results, worktree
from tqdm import tqdm

from platemark.evaluate.groundtruth import read_ground_truth
from platemark.extract.cnn import CNNExtractor
from platemark.extract.sift import LocalFeatures
from platemark.images import QUERY_MAX_SIDE, load_image
from platemark.index.build import train, update_index
from platemark.index.codebook import Codebook
from platemark.index.postings import POSTING, by_word
from platemark.ingest.pipeline import ingest, perceptual_hash
from platemark.simulate.dataset import simulate
from platemark.simulate.photos import FAR_AWAY
from platemark.simulate.vectors import mixed_descriptors
from platemark.store import Catalog, RecordWithFeatures, open_catalog

COLUMNS = (
    "backend",
    "records",
    "set",
    "platemark_R@1",
    "rejected",
    "wrong_verified",
    "p50_ms",
    "p95_ms",
    "cnn_R@1",
    "cnn_p50_ms",
    "phash_R@1",
    "phash_p50_ms",
    "worker_rss_mb",
    "disk_mb",
    "free_mb",
    "postings_mb",
    "preload_s",
)
SIDE = 1000
BATCH = 2000


@dataclass
class Pool:
    """Real features of the pool images, flattened: keypoint i belongs to image owner[i]."""

    points: np.ndarray
    descriptors: np.ndarray
    starts: np.ndarray  # image j's keypoints are starts[j]:starts[j+1]
    sizes: np.ndarray  # (width, height) per image
    vectors: np.ndarray
    hashes: np.ndarray  # (images, 64) PHash bits


def staging(bench: Path, work: Path) -> tuple[Path, Path, dict[str, Path]]:
    """Ingested once (kept in --work): the real records' catalog, the pool's, and the query sets'
    ground truths by name."""
    real, pool = work / "real-catalog", work / "pool-catalog"
    hatched_gt = work / "hatched-aic" / "ground_truth.csv"
    if not hatched_gt.exists():  # of aic only: a hatched museum picture would be a second copy of a record
        source = work / "hatch-source-aic" / "images"
        shutil.rmtree(source.parent, ignore_errors=True)
        source.mkdir(parents=True)
        for image in (bench / "aic" / "images").glob("*.jpg"):
            shutil.copyfile(image, source / image.name)
        sim = simulate(source.parent, work / "hatched-aic", queries=60, unknown=20, hatch=True, seed=2)
        hatched_gt = sim.ground_truth
    far_gt = work / "hatched-far" / "ground_truth.csv"
    if not far_gt.exists():  # the same catalogued prints, each filling a fifth to a half of the photo
        simulate(work / "hatched-aic" / "collection", far_gt.parent, queries=60, seed=3, settings=FAR_AWAY)
    if not real.exists():
        ingest(bench / "museum" / "collection", real, collection="museum", progress=False)
        ingest(work / "hatched-aic" / "collection", real, collection="hatched", progress=False)
    if not pool.exists():
        folder = work / "pool-images" / "images"
        folder.mkdir(parents=True, exist_ok=True)
        clipart = sorted(Path("/usr/share/openclipart/png").rglob("*.png"))
        land = sorted(Path("/usr/share/games/endless-sky/images/land").glob("*.jpg"))
        if not clipart or not land:
            raise SystemExit("install the pool first: apt-get install -y openclipart-png endless-sky-high-dpi")
        chosen = [*(bench / "woodcuts" / "images").glob("*.jpg"), *random.Random(0).sample(clipart, 800), *land]
        for number, path in enumerate(chosen):
            shutil.copyfile(path, folder / f"{number:05d}{path.suffix}")
        ingest(folder.parent, pool, collection="pool", progress=False)
    return (
        real,
        pool,
        {"museum": bench / "museum" / "ground_truth.csv", "hatched prints": hatched_gt, "far-away hatched": far_gt},
    )


def phash(rgb: np.ndarray) -> np.ndarray:
    """64 PHash bits: the hash ingest already computes (pipeline.perceptual_hash), unpacked."""
    return np.unpackbits(perceptual_hash(rgb))


def thumbnail_hash(catalog: Catalog, content_hash: str) -> np.ndarray:
    return phash(load_image(catalog.thumbs_dir / f"{content_hash}.jpg"))


def load_pool(location: Path) -> Pool:
    with open_catalog(location) as catalog:
        records = [r for r in catalog.records_with_features() if len(r.local.points) >= 50]
        hashes = np.stack([thumbnail_hash(catalog, r.content_hash) for r in records])
    counts = np.array([len(r.local.points) for r in records])
    return Pool(
        np.concatenate([r.local.points for r in records]),
        np.concatenate([r.local.descriptors for r in records]),
        np.r_[0, np.cumsum(counts)],
        np.array([(r.local.width, r.local.height) for r in records]),
        np.stack([r.global_vector for r in records]),
        hashes,
    )


def mosaic(pool: Pool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(pool keypoint indices, their positions on the sheet, source images largest first) of one distractor
    with at least 100 keypoints."""
    while True:
        indices, points, sources = _parts(pool, rng)
        if len(indices) >= 100:
            return indices, points, sources


def _parts(pool: Pool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
    chosen, placed, sources, shares = [np.zeros(0, np.int64)], [np.zeros((0, 2))], [], []
    for image in rng.choice(len(pool.sizes), rng.integers(2, 6), replace=False):
        start, end = pool.starts[image], pool.starts[image + 1]
        width, height = pool.sizes[image]
        fraction = rng.uniform(0.3, 0.8, 2)
        x0, y0 = rng.uniform(0, 1 - fraction) * (width, height)
        x1, y1 = (x0, y0) + fraction * (width, height)
        points = pool.points[start:end]
        inside = np.flatnonzero((points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1))
        if len(inside) == 0:
            continue
        scale = rng.uniform(0.5, 1.5) * SIDE / max(width, height)
        angle = rng.uniform(0, 2 * np.pi)
        rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        moved = (points[inside] - (x0, y0)) @ rotation.T + rng.uniform(0, SIDE, 2)
        keep = np.all((moved >= 0) & (moved < SIDE), axis=1)
        chosen.append(start + inside[keep])
        placed.append(moved[keep])
        sources.append(int(image))
        shares.append(int(keep.sum()))
    indices, points = np.concatenate(chosen), np.concatenate(placed)
    if len(indices) > 1000:
        keep = np.sort(rng.choice(len(indices), 1000, replace=False))
        indices, points = indices[keep], points[keep]
    return indices, points.astype(np.float32), [s for _, s in sorted(zip(shares, sources, strict=True), reverse=True)]


def distractors(pool: Pool, first: int, count: int, seed: int) -> list[tuple[RecordWithFeatures, np.ndarray, int]]:
    """Distractors first..first+count-1 (the same for the same numbers): each with its pool keypoint
    indices and its largest part's pool image."""
    rng = np.random.default_rng((seed, first))
    made = []
    for number in range(first, first + count):
        indices, points, sources = mosaic(pool, rng)
        vector = mixed_descriptors(pool.vectors[sources[:2]], 1, rng)[0]
        record = RecordWithFeatures(
            "distractors",
            f"d{number:07d}",
            f"mosaic:{number}",
            f"distractor-{number}",
            {"title": f"mosaic {number}"},
            (None, None),
            vector,
            LocalFeatures(points, pool.descriptors[indices], SIDE, SIDE),
        )
        made.append((record, indices, sources[0]))
    return made


def build(location: str, media: Path | None, real: Path, pool: Pool, size: int, seed: int) -> dict[str, np.ndarray]:
    """Make the catalog of the real records and distractors up to `size`, indexed; returns the PHash
    of every record by "collection/record_id"."""
    hashes = {}
    with open_catalog(real) as source:
        records = list(source.records_with_features())
        for record in records:
            hashes[f"{record.collection}/{record.record_id}"] = thumbnail_hash(source, record.content_hash)
    flip_rng = np.random.default_rng(seed)
    with open_catalog(location, media=media, create=True) as catalog:
        catalog.insert_many(records)
        count = size - len(records)
        for first in range(0, count, BATCH):
            made = distractors(pool, first, min(BATCH, count - first), seed)
            catalog.insert_many(record for record, _, _ in made)
            for record, _, largest in made:
                hashes[f"distractors/{record.record_id}"] = pool.hashes[largest] ^ _flips(flip_rng, 64, 6)
        codebook = train(catalog)
        codebook_id = catalog.add_codebook(codebook.to_bytes(), catalog.keypoint_count(), active=True)
        words = codebook.assign(pool.descriptors)[:, 0]
        signatures = codebook.signatures(pool.descriptors, words)
        for first in range(0, count, BATCH):
            made = distractors(pool, first, min(BATCH, count - first), seed)
            _add_postings(catalog, codebook_id, made, words, signatures, flip_rng)
        update_index(catalog)  # the real records, and merging
    return hashes


def grow(location: str, pool: Pool, hashes: dict[str, np.ndarray], size: int, seed: int) -> dict[str, np.ndarray]:
    """Add distractors to an indexed catalog up to `size` records, a batch at a time, each batch stored,
    indexed (as `build` does) and brought up to date by `update_index` (merged, its descriptors
    compressed), as a long ingest would; returns the PHash of every record. A killed run resumes: the
    batches already stored are only made again for their hashes."""
    flip_rng = np.random.default_rng((seed, size))
    with open_catalog(location) as catalog:
        real = catalog.count() - catalog.count("distractors")
        first = len([name for name in hashes if name.startswith("distractors/")])
        done = catalog.count("distractors")
        update_index(catalog)  # what a killed run left
        codebook_id, words, signatures = None, np.zeros(0), np.zeros(0)
        hashes = dict(hashes)
        for start in tqdm(range(first, size - real, BATCH), desc=f"growing to {size}", unit="batch"):
            made = distractors(pool, start, min(BATCH, size - real - start), seed)
            for record, _, largest in made:
                hashes[f"distractors/{record.record_id}"] = pool.hashes[largest] ^ _flips(flip_rng, 64, 6)
            if start < done:
                continue
            if codebook_id != catalog.active_codebook_id():  # the first batch, or retrained as it grew
                codebook_id, data = catalog.codebook("active")
                codebook = Codebook.from_bytes(data)
                words = codebook.assign(pool.descriptors)[:, 0]
                signatures = codebook.signatures(pool.descriptors, words)
            catalog.insert_many(record for record, _, _ in made)
            _add_postings(catalog, codebook_id, made, words, signatures, flip_rng)
            update_index(catalog)
    return hashes


def _add_postings(
    catalog: Catalog,
    codebook_id: int,
    made: list[tuple[RecordWithFeatures, np.ndarray, int]],
    words: np.ndarray,
    signatures: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Index distractors with their pool keypoints' words and signatures, a few signature bits flipped."""
    keys = dict(
        catalog.execute(
            "SELECT record_id, id FROM records WHERE collection = 'distractors' AND record_id BETWEEN ? AND ?",
            (made[0][0].record_id, made[-1][0].record_id),
        ).fetchall()
    )
    all_words, all_postings = [], []
    for record, indices, _ in made:
        postings = np.zeros(len(indices), POSTING)
        postings["key"] = keys[record.record_id]
        postings["point"] = np.arange(len(indices))
        postings["x"], postings["y"] = np.rint(record.local.points).astype(np.uint16).T
        postings["signature"] = signatures[indices] ^ _signature_flips(rng, len(indices))
        all_words.append(words[indices])
        all_postings.append(postings)
    read = {keys[record.record_id]: record.content_hash for record, _, _ in made}
    catalog.add_segment(codebook_id, read, by_word(np.concatenate(all_words), np.concatenate(all_postings)))


def _signature_flips(rng: np.random.Generator, count: int) -> np.ndarray:
    """uint64 masks with 0-3 random bits set (three tries at 1 in 2 each)."""
    masks = np.zeros(count, np.uint64)
    for _ in range(3):
        on = rng.random(count) < 0.5
        masks[on] |= np.left_shift(np.uint64(1), rng.integers(0, 64, int(on.sum())).astype(np.uint64))
    return masks


def _flips(rng: np.random.Generator, bits: int, count: int) -> np.ndarray:
    """A bool mask of `bits` with `count` random ones."""
    mask = np.zeros(bits, bool)
    mask[rng.choice(bits, count, replace=False)] = True
    return mask


def platemark_run(location: str, ground_truth: Path, code: Path | None = None) -> tuple[dict, int]:
    """`platemark evaluate` in a fresh process, as a serve worker searches: its summary and peak RSS (MB).
    `code`: a checkout of another commit whose platemark to run instead of this one."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (this benchmark) through exec
    launcher = (
        "import atexit, re, runpy, sys;"
        "atexit.register(lambda: print('RSS', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1],"
        " file=sys.stderr));"
        "sys.argv = ['platemark', *sys.argv[1:]]; runpy.run_module('platemark', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", launcher, "evaluate", str(ground_truth), "--catalog", str(location), "--json"],
        capture_output=True,
        text=True,
        check=True,
        **checkout_process(code),
    )
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    rss_kb = int(done.stderr.rsplit("RSS", 1)[1].split()[0])
    return summary, rss_kb // 1024


def compared_runs(location: str, ground_truth: Path, before: Path, rounds: int) -> tuple[dict, int, dict]:
    """This commit's and `before`'s `platemark evaluate`, alternating, `rounds` times each (the machine's
    speed drifts; alternating lets both see the same drift): this commit's summary with p50/p95 the mean
    over its rounds, its peak RSS, and `before`'s R@1, p50 and p95 the same way."""
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    rss_mb = 0
    for _ in range(rounds):
        runs["before"].append(platemark_run(location, ground_truth, before)[0])
        summary, rss = platemark_run(location, ground_truth)
        runs["after"].append(summary)
        rss_mb = max(rss_mb, rss)
    mean = {
        side: {k: round(statistics.mean(r[k] for r in runs[side]), 1) for k in ("latency_ms_p50", "latency_ms_p95")}
        for side in runs
    }
    earlier = {
        "before_R@1": runs["before"][-1]["recall@1"],
        "before_p50_ms": mean["before"]["latency_ms_p50"],
        "before_p95_ms": mean["before"]["latency_ms_p95"],
    }
    return {**runs["after"][-1], **mean["after"]}, rss_mb, earlier


def peers_run(location: str, ground_truth: Path, hashes: dict[str, np.ndarray], cnn: CNNExtractor) -> dict:
    """Recall@1 and p50 of the global CNN kNN and of a PHash search, on the same photos."""
    names = list(hashes)
    table = np.stack([hashes[n] for n in names]).astype(bool)
    found = {"cnn": [], "phash": []}
    times = {"cnn": [], "phash": []}
    with open_catalog(location) as catalog:
        catalog.warm()
        for query in read_ground_truth(ground_truth):
            if not query.record_ids:
                continue
            wanted = {f"{c}/{r}" for c, r in (_split(i) for i in query.record_ids)}
            rgb = load_image(query.path, max_side=QUERY_MAX_SIDE)
            started = time.perf_counter()
            keys, _ = catalog.nearest(cnn.extract(rgb), 1)
            record = catalog.records(keys.tolist())[int(keys[0])]
            times["cnn"].append((time.perf_counter() - started) * 1000)
            found["cnn"].append(f"{record.collection}/{record.record_id}" in wanted)
            started = time.perf_counter()
            best = names[int(np.argmin((table != phash(rgb).astype(bool)).sum(axis=1)))]
            times["phash"].append((time.perf_counter() - started) * 1000)
            found["phash"].append(best in wanted)
    return {
        **{f"{m}_R@1": round(float(np.mean(found[m])), 3) for m in found},
        **{f"{m}_p50_ms": round(statistics.median(times[m]), 1) for m in times},
    }


def _split(record_id: str) -> tuple[str, str]:
    """Ground-truth ids name a record by id; the collection is known from the set."""
    return ("museum", record_id) if record_id.startswith("bbdd_") else ("hatched", record_id)


def findable_after_ingest(location: str, pool: Pool, seed: int, added: int = 1000) -> float:
    """Seconds `update_index` takes to make `added` newly stored records findable (they are encoded from
    their stored descriptors, as after an ingest). They are deleted again afterwards, and their postings
    merged away as the next ingest would: left in place, every later `--reuse` run read them too."""
    with open_catalog(location) as catalog:
        made = distractors(pool, 10_000_000, added, seed + 1)
        catalog.insert_many(record for record, _, _ in made)
        started = time.perf_counter()
        report = update_index(catalog)
        took = time.perf_counter() - started
        assert report.indexed == added, report
        catalog.delete("distractors", [record.record_id for record, _, _ in made])
        update_index(catalog)
        return took


def place(backend: str, work: Path, size: int, stack: contextlib.ExitStack, *, fresh: bool) -> tuple[str, Path | None]:
    """The catalog location (and media directory) for one size, emptied if `fresh`: a directory, or a
    database on a PostgreSQL server started from the pgserver wheel (once, stopped at the end)."""
    if backend == "sqlite":
        if fresh:
            shutil.rmtree(work / f"catalog-{size}", ignore_errors=True)
        return str(work / f"catalog-{size}"), None
    global _server
    if _server is None:
        import pgserver

        _server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        stack.callback(_server.cleanup)
    if fresh:
        _server.psql(f"DROP DATABASE IF EXISTS scale_{size}")
        _server.psql(f"CREATE DATABASE scale_{size}")
        shutil.rmtree(work / f"pg-media-{size}", ignore_errors=True)
    return urlsplit(_server.get_uri())._replace(path=f"/scale_{size}").geturl(), work / f"pg-media-{size}"


_server = None


def drop_file_cache() -> None:
    """Have Linux forget the file pages it holds, as after a reboot."""
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError as exc:
        sys.exit(f"--drop-caches: cannot empty the file cache ({exc.strerror}); it needs root on Linux")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-scale"))
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--reuse", action="store_true", help="search the catalogs an earlier run built in --work")
    parser.add_argument(
        "--compare-with", metavar="REV", help="also search with platemark at this commit, alternating with this one"
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each commit per set with --compare-with")
    parser.add_argument(
        "--grow-from",
        type=int,
        metavar="SIZE",
        help="make each size's embedded catalog by adding distractors to the one built for SIZE, which is moved,"
        " not copied: a million records would not fit beside it (resumes a killed run)",
    )
    parser.add_argument(
        "--drop-caches",
        action="store_true",
        help="empty the OS file cache before each size's preload, which is then timed from the disk (Linux, root)",
    )
    args = parser.parse_args()
    args.bench, args.work = args.bench.resolve(), args.work.resolve()  # another checkout runs in its own folder
    args.work.mkdir(parents=True, exist_ok=True)
    real, pool_location, query_sets = staging(args.bench, args.work)
    pool = load_pool(pool_location)
    print(f"pool: {len(pool.sizes)} images, {len(pool.points)} keypoints", flush=True)
    cnn = CNNExtractor()
    rows, extra = [], {}
    sizes = [int(s) for s in args.sizes.split(",")]
    with contextlib.ExitStack() as stack:
        before = stack.enter_context(worktree(args.compare_with, args.work)) if args.compare_with else None
        for backend in args.backends.split(","):
            for size in sizes:
                saved = args.work / f"{backend}-{size}-hashes.npz"
                if args.grow_from and backend == "sqlite" and not saved.exists():
                    started = time.perf_counter()
                    grown = args.work / f"catalog-{size}"
                    if not grown.exists():
                        (args.work / f"catalog-{args.grow_from}").rename(grown)
                    hashes = grow(
                        str(grown),
                        pool,
                        dict(np.load(args.work / f"sqlite-{args.grow_from}-hashes.npz")),
                        size,
                        args.seed,
                    )
                    np.savez(saved, **hashes)
                    print(f"grown to {size} records in {time.perf_counter() - started:.0f} s", flush=True)
                location, media = place(backend, args.work, size, stack, fresh=not (args.reuse and saved.exists()))
                started = time.perf_counter()
                if args.reuse and saved.exists():
                    hashes = dict(np.load(saved))
                else:
                    hashes = build(location, media, real, pool, size, args.seed)
                    np.savez(saved, **hashes)
                build_s = round(time.perf_counter() - started)
                if args.drop_caches:
                    drop_file_cache()
                with open_catalog(location) as catalog:
                    disk_mb = round(catalog.size_on_disk() / 1e6)
                    free_mb = round(catalog.free_on_disk() / 1e6)
                    postings_mb = catalog.index_info()["postings_mb"]
                    started = time.perf_counter()
                    catalog.preload_postings()  # as `platemark serve` does when it starts
                    preload_s = round(time.perf_counter() - started, 1)
                for name, ground_truth in query_sets.items():
                    earlier = {}
                    if before is None:
                        summary, rss_mb = platemark_run(location, ground_truth)
                    else:
                        summary, rss_mb, earlier = compared_runs(location, ground_truth, before, args.rounds)
                    rows.append(
                        {
                            "backend": backend,
                            "records": size,
                            "set": name,
                            "platemark_R@1": summary["recall@1"],
                            "rejected": summary["not_in_collection_rejected"],
                            "wrong_verified": summary["any_wrong_verified"],
                            "p50_ms": summary["latency_ms_p50"],
                            "p95_ms": summary["latency_ms_p95"],
                            **earlier,
                            **peers_run(location, ground_truth, hashes, cnn),
                            "worker_rss_mb": rss_mb,
                            "disk_mb": disk_mb,
                            "free_mb": free_mb,
                            "postings_mb": postings_mb,
                            "preload_s": preload_s,
                            "build_s": build_s,
                        }
                    )
                    print(rows[-1], flush=True)
            extra[f"{backend}_index_1000_new_records_s"] = round(findable_after_ingest(location, pool, args.seed), 1)
    compared = ("before_R@1", "before_p50_ms", "before_p95_ms") if args.compare_with else ()
    print_table(rows, (*COLUMNS[:8], *compared, *COLUMNS[8:]))
    if args.compare_with:
        rounds = f"the mean of {args.rounds} alternating runs each"
        print(f"\nbefore: platemark at {args.compare_with}; p50/p95 are {rounds}")
    for backend in args.backends.split(","):
        took = extra[f"{backend}_index_1000_new_records_s"]
        print(f"\n{backend}: indexing 1000 records added to the {sizes[-1]}-record catalog took {took} s")
    save_results(
        "bench_scale",
        {"rows": rows, **extra},
        ("faiss-cpu", "numpy", "opencv-contrib-python-headless"),
        f"-scale-{args.backends.replace(',', '-')}" + (f"-against-{args.compare_with}" if args.compare_with else ""),
    )


if __name__ == "__main__":
    main()
