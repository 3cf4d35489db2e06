"""Accuracy, latency and ingest speed on the shared benchmark data; prints one table.

    python benchmarks/bench_retrieval.py --bench ../shared/bench [--work /tmp/platemark-bench]

Three sets (see benchmarks/README.md):
  museum   ../shared/bench/museum: real gallery photos, incl. photos of artworks not in the collection
  aic      synthetic phone photos of ../shared/bench/aic paintings; the museum set is a distractor collection
  hatched  aic + museum images rendered as engravings (platemark simulate --hatch); phone photos of them,
           40 engravings left out of the collection and photographed as not-in-collection queries;
           a second, harder photo set of the same engravings: small in the frame (20-45%), more blur
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from report import print_table, save_results

from platemark.evaluate.run import evaluate
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.simulate.dataset import simulate
from platemark.simulate.photos import FAR_AWAY
from platemark.store import open_catalog

COLUMNS = (
    "set",
    "records",
    "queries",
    "recall@1",
    "recall@5",
    "recall@10",
    "mAP",
    "not_in_collection_rejected",
    "false_verified",
    "max_wrong_inliers",
    "latency_ms_p50",
    "latency_ms_p95",
    "ingest_img_s",
)


def timed_ingest(folder: Path, catalog: Path, collection: str | None = None) -> float:
    """Ingest and return images per second (wall clock, incl. worker start-up and index build)."""
    started = time.perf_counter()
    report = ingest(folder, catalog, collection=collection, progress=False)
    if not report.ok:
        raise SystemExit(f"ingest of {folder} failed: {report.failed[:3]}")
    return report.added / (time.perf_counter() - started)


def run_set(name: str, catalog: Path, ground_truth: Path, ingest_rate: float) -> dict:
    searcher = Searcher(open_catalog(catalog))
    records = searcher.catalog.count()
    result = evaluate(searcher, ground_truth, progress=False)
    wrong_inliers = [
        hit.verification.inliers
        for query, response in zip(result.queries, result.responses, strict=True)
        for hit in response.results
        if hit.record.record_id not in query.record_ids
    ]
    stages = {}
    for response in result.responses:
        for stage, ms in response.stages_ms.items():
            stages.setdefault(stage, []).append(ms)
    return {
        "set": name,
        "records": records,
        **result.summary,
        "max_wrong_inliers": max(wrong_inliers, default=0),
        "ingest_img_s": round(ingest_rate, 1),
        "stages_ms_mean": {s: round(float(np.mean(v)), 1) for s, v in stages.items()},
    }


def museum(bench: Path, work: Path) -> list[dict]:
    catalog = work / "museum-catalog"
    rate = timed_ingest(bench / "museum" / "collection", catalog, "museum")
    return [run_set("museum", catalog, bench / "museum" / "ground_truth.csv", rate)]


def aic(bench: Path, work: Path) -> list[dict]:
    catalog = work / "aic-catalog"
    rate = timed_ingest(bench / "aic", catalog, "aic")
    timed_ingest(bench / "museum" / "collection", catalog, "museum")
    sim = simulate(bench / "aic", work / "aic-queries", queries=200, seed=1, progress=False)
    return [run_set("aic+museum distractors", catalog, sim.ground_truth, rate)]


def hatching_source(bench: Path, work: Path) -> Path:
    """A collection folder of the aic and museum images, to render as engravings. They are copied:
    ingest refuses links that lead out of a collection folder."""
    source = work / "hatch-source"
    (source / "images").mkdir(parents=True)
    for image in [*(bench / "aic" / "images").glob("*.jpg"), *(bench / "museum/collection/images").glob("*.jpg")]:
        shutil.copyfile(image, source / "images" / image.name)
    return source


def hatched(bench: Path, work: Path) -> list[dict]:
    source = hatching_source(bench, work)
    sim = simulate(source, work / "hatched", queries=150, unknown=40, hatch=True, seed=2, progress=False)
    catalog = work / "hatched-catalog"
    rate = timed_ingest(sim.collection, catalog, "hatched")
    far = simulate(sim.collection, work / "hatched-far", queries=100, seed=3, settings=FAR_AWAY, progress=False)
    return [
        run_set("hatched prints", catalog, sim.ground_truth, rate),
        run_set("hatched, far away", catalog, far.ground_truth, rate),
    ]


SETS = {"museum": museum, "aic": aic, "hatched": hatched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench"))
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    rows = [row for name in args.sets.split(",") for row in SETS[name](args.bench, args.work)]

    print_table(rows, COLUMNS)
    print("\nmean time per query stage (ms):")
    for row in rows:
        print(f"  {row['set']}: " + ", ".join(f"{s} {ms}" for s, ms in row["stages_ms_mean"].items()))
    save_results(
        "bench_retrieval",
        {"rows": rows},
        ("torch", "opencv-contrib-python-headless", "faiss-cpu", "numpy"),
    )


if __name__ == "__main__":
    main()
