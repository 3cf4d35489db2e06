"""platemark against what a user would try instead, on the same queries and catalogs (issue 11):

    python benchmarks/bench_peers.py --bench ../shared/bench

Methods, each ranking every query's top 10 and scored by the one evaluator (evaluate.metrics):
  platemark     the full pipeline (Searcher.search: CNN shortlist + keypoint votes + MAGSAC)
  cnn_knn       the global CNN descriptor alone, nearest neighbours in the store (the seed's approach)
  phash         OpenCV img_hash PHash of the catalogue image and of the photo, Hamming nearest
                (what imagededup's PHash does)
  brute_sift    RootSIFT of the photo (1024 px, 2000 keypoints) matched against every record's stored
                keypoints, each verified with MAGSAC; ranked by inliers: exact, and only affordable small
Sets: museum (287 records, 120 real gallery photos) and hatched prints (aic + museum rendered as
engravings, 514 records, 60 synthetic phone photos + 20 of engravings not in the catalog: few, as
brute_sift takes ~12 s a photo there).
recall@1 counts photos of records in the catalog; p50 is the time per photo after the photo is decoded
(the CNN's model is loaded before timing), on one core.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from bench_retrieval import hatching_source, timed_ingest
from report import print_table, save_results

from platemark.evaluate.groundtruth import read_ground_truth
from platemark.evaluate.metrics import retrieval_metrics
from platemark.extract.sift import QUERY_SIDE, SiftExtractor
from platemark.images import QUERY_MAX_SIDE, load_image
from platemark.search.engine import Searcher
from platemark.search.local import match_descriptors
from platemark.search.verify import verify
from platemark.simulate.dataset import simulate
from platemark.store import StoredRecord, open_catalog
from platemark.store.filters import RecordFilter

COLUMNS = ("set", "records", "queries", "method", "recall@1", "recall@10", "mAP", "p50_ms", "p50_vs_platemark")
Ranker = Callable[[np.ndarray], list[str]]


def all_records(searcher: Searcher) -> dict[int, StoredRecord]:
    return searcher.catalog.records(searcher.catalog.keys_matching(RecordFilter()))


def phash_bits(hasher: cv2.img_hash.ImgHashBase, rgb: np.ndarray) -> np.ndarray:
    return np.unpackbits(hasher.compute(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))


def platemark_ranker(searcher: Searcher) -> Ranker:
    return lambda rgb: [hit.record.record_id for hit in searcher.search(rgb, top_k=10).results]


def cnn_ranker(searcher: Searcher) -> Ranker:
    ids = {
        key: record.record_id
        for key, record in searcher.catalog.records(searcher.catalog.keys_matching(RecordFilter())).items()
    }

    def rank(rgb: np.ndarray) -> list[str]:
        keys, _ = searcher.catalog.nearest(searcher.cnn.extract(rgb), 10)
        return [ids[k] for k in keys.tolist()]

    return rank


def phash_ranker(searcher: Searcher) -> Ranker:
    hasher = cv2.img_hash.PHash_create()
    catalog = searcher.catalog
    records = list(catalog.records(catalog.keys_matching(RecordFilter())).values())
    hashes = np.stack(
        [
            np.unpackbits(
                hasher.compute(cv2.cvtColor(load_image(catalog.images_dir / r.thumb_name), cv2.COLOR_RGB2BGR))
            )
            for r in records
        ]
    )

    def rank(rgb: np.ndarray) -> list[str]:
        bits = np.unpackbits(hasher.compute(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))
        distance = (hashes != bits).sum(axis=1)
        return [records[i].record_id for i in np.argsort(distance, kind="stable")[:10]]

    return rank


def brute_sift_ranker(searcher: Searcher) -> Ranker:
    sift = SiftExtractor(max_side=2 * QUERY_SIDE, max_features=2000)
    records = all_records(searcher)
    stored = [(records[key], points, descriptors) for key, points, descriptors in searcher.catalog.local_features()]

    def rank(rgb: np.ndarray) -> list[str]:
        query = sift.extract(rgb)
        scores = []
        for record, points, descriptors in stored:
            q, r = match_descriptors(query.descriptors, descriptors)
            found = verify(query.points[q], points[r], (query.width, query.height), (record.width, record.height))
            scores.append((found.inliers, len(q), record.record_id))
        return [record_id for *_, record_id in sorted(scores, reverse=True)[:10]]

    return rank


METHODS = {"platemark": platemark_ranker, "cnn_knn": cnn_ranker, "phash": phash_ranker, "brute_sift": brute_sift_ranker}


def run_set(name: str, catalog: Path, ground_truth: Path, methods: list[str]) -> list[dict]:
    searcher = Searcher(open_catalog(catalog))
    queries = read_ground_truth(ground_truth)
    photos = {q.name: load_image(q.path, max_side=QUERY_MAX_SIDE) for q in queries}
    relevant = {q.name: set(q.record_ids) for q in queries}
    rows = []
    for method in methods:
        rank = METHODS[method](searcher)
        rank(next(iter(photos.values())))  # warm-up
        ranked, times = {}, []
        for query, rgb in photos.items():
            started = time.perf_counter()
            ranked[query] = rank(rgb)
            times.append((time.perf_counter() - started) * 1000)
        scores = retrieval_metrics(relevant, ranked)
        rows.append(
            {
                "set": name,
                "records": searcher.catalog.count(),
                "queries": sum(1 for ids in relevant.values() if ids),
                "method": method,
                **{k: round(scores[k], 3) for k in ("recall@1", "recall@10", "mAP")},
                "p50_ms": round(statistics.median(times), 1),
            }
        )
        print(rows[-1], flush=True)
    base = next(r["p50_ms"] for r in rows if r["method"] == "platemark")
    for row in rows:
        row["p50_vs_platemark"] = round(row["p50_ms"] / base, 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-peers"))
    parser.add_argument("--sets", default="museum,hatched", help="comma-separated: museum, hatched")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated: " + ", ".join(METHODS))
    args = parser.parse_args()
    methods = args.methods.split(",")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)

    rows = []
    if "museum" in args.sets:
        museum = args.work / "museum-catalog"
        timed_ingest(args.bench / "museum" / "collection", museum, "museum")
        rows += run_set("museum", museum, args.bench / "museum" / "ground_truth.csv", methods)
    if "hatched" in args.sets:
        hatched = simulate(
            hatching_source(args.bench, args.work), args.work / "hatched", queries=60, unknown=20, hatch=True, seed=2
        )
        timed_ingest(hatched.collection, args.work / "hatched-catalog", "hatched")
        rows += run_set("hatched prints", args.work / "hatched-catalog", hatched.ground_truth, methods)

    print_table(rows, COLUMNS)
    suffix = "-peers" if args.sets == "museum,hatched" else f"-peers-{args.sets.replace(',', '-')}"
    save_results("bench_peers", {"rows": rows}, ("torch", "opencv-contrib-python-headless", "faiss-cpu"), suffix)


if __name__ == "__main__":
    main()
