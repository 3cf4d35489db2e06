"""Whole searches on a 100k-record catalog in each backend: the museum photos among distractors.

    python benchmarks/bench_store_search.py --bench ../shared/bench --records 100000

The catalog holds the 554 real records of ../shared/bench (museum collection + aic paintings,
with their real features) and synthetic distractors up to --records: each has a global
descriptor made from real ones (simulate.vectors.mixed_descriptors) and the real keypoints
of a random aic record (~850 each; never a museum record's, which would make true duplicates
of the records the photos show). At this size (~85M keypoints) both backends search
as large catalogs do: the global shortlist (16 records) is verified with keypoints fetched
from the store. Queries: the 120 museum photos (ground_truth.csv), through `Searcher`, so the
times include decoding, the CNN, the store's vector search, fetching and verification.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from report import build_once, print_table, save_results

from platemark.evaluate.run import evaluate
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.simulate.vectors import mixed_descriptors
from platemark.store import RecordWithFeatures, open_catalog

COLUMNS = (
    "backend",
    "records",
    "build_s",
    "disk_gb",
    "searcher_s",
    "recall@1",
    "not_in_collection_rejected",
    "false_verified",
    "latency_ms_p50",
    "latency_ms_p95",
)


@functools.cache
def real_records(bench: Path, work: Path) -> list[RecordWithFeatures]:
    """The bench collections, ingested once into a staging catalog, with their features."""
    staging = work / "staging"
    ingest(bench / "museum" / "collection", staging, collection="museum", progress=False)
    ingest(bench / "aic", staging, collection="aic", progress=False)
    with open_catalog(staging) as catalog:
        return list(catalog.records_with_features())


def catalog_records(real: list[RecordWithFeatures], count: int, seed: int = 0) -> Iterator[RecordWithFeatures]:
    yield from real
    rng = np.random.default_rng(seed)
    vectors = np.stack([r.global_vector for r in real])
    donors = [r for r in real if r.collection == "aic"]
    for start in range(0, count - len(real), 10_000):
        chunk = mixed_descriptors(vectors, min(10_000, count - len(real) - start), rng)
        for offset, vector in enumerate(chunk):
            donor = donors[rng.integers(len(donors))]
            number = start + offset
            yield RecordWithFeatures(
                "distractors",
                f"d{number:06d}",
                donor.image_path,
                donor.content_hash,
                {"title": f"distractor {number}"},
                (None, None),
                vector,
                donor.local,
            )


def run(backend: str, location: str, media: Path | None, args: argparse.Namespace) -> dict:
    def build() -> dict:
        real = real_records(args.bench, args.work)
        started = time.perf_counter()
        with open_catalog(location, media=media, create=True) as catalog:
            catalog.insert_many(catalog_records(real, args.records))
            return {"build_s": round(time.perf_counter() - started), "disk_gb": round(catalog.size_on_disk() / 1e9, 2)}

    construction = build_once(args.work / f"{backend}-build.json", build)
    with open_catalog(location, media=media) as catalog:
        started = time.perf_counter()
        searcher = Searcher(catalog)  # builds (or loads) what a serve worker keeps in memory
        ready = time.perf_counter() - started
        result = evaluate(searcher, args.bench / "museum" / "ground_truth.csv", progress=False)
        stages: dict[str, list[float]] = {}
        for response in result.responses:
            for stage, ms in response.stages_ms.items():
                stages.setdefault(stage, []).append(ms)
        return {
            "backend": backend,
            "records": catalog.count(),
            **construction,
            "searcher_s": round(ready),
            **result.summary,
            "vote_keypoints_per_record": searcher.local_index.per_record if searcher.local_index else None,
            "stages_ms_mean": {s: round(float(np.mean(v)), 1) for s, v in stages.items()},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-search"))
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="search the catalogs a previous run built in --work")
    args = parser.parse_args()
    if not args.reuse:
        shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True, exist_ok=True)

    import pgserver

    fresh = not (args.work / "pg").exists()
    server = pgserver.get_server(args.work / "pg", cleanup_mode="stop")
    if fresh:
        server.psql("ALTER SYSTEM SET maintenance_work_mem = '4GB'")
        server.psql("ALTER SYSTEM SET shared_buffers = '2GB'")
        server.cleanup()
        server = pgserver.get_server(args.work / "pg", cleanup_mode="stop")
    try:
        rows = [
            run("sqlite", str(args.work / "sqlite-catalog"), None, args),
            run("postgresql", server.get_uri(), args.work / "pg-media", args),
        ]
    finally:
        server.cleanup()

    print_table(rows, COLUMNS)
    print("\nmean time per query stage (ms):")
    for row in rows:
        print(f"  {row['backend']}: " + ", ".join(f"{s} {ms}" for s, ms in row["stages_ms_mean"].items()))
    ratio = rows[1]["latency_ms_p50"] / rows[0]["latency_ms_p50"]
    print(f"\npostgresql p50 / sqlite p50 = {ratio:.2f}")
    save_results(
        "bench_store_search",
        {"rows": rows, "p50_ratio_postgres_to_sqlite": round(ratio, 3)},
        ("torch", "faiss-cpu", "psycopg", "pgvector"),
        "-store-search",
    )


if __name__ == "__main__":
    main()
