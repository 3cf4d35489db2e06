"""What does a search pay for each segment of the word index? (issue 11) Prints one table.

    python benchmarks/bench_segments.py --bench ../shared/bench [--catalog /tmp/platemark-bench-scale/catalog-100000]

A search reads one row per word it looks up and segment that holds the word, so an index in many
segments costs more lookups than the same postings in one. This indexes the catalog again under a
new codebook without merging (`SEGMENT_RECORDS` records a segment, as a retrain or a bulk index
writes them), merges those segments four by four (a tier up, as `update_index` does while records
keep coming), then all into one, and after each step searches the museum's 120 gallery photos
(after 3 to warm up). Per step: segments, search p50 / p95, the median of the `local_votes` stage
(reading and voting the postings) and recall@1. The catalog holds the same postings throughout and
ends with one segment under a new codebook (bench_scale.py's catalog: ~12 minutes at 100k records).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from report import print_table, save_results

from platemark.evaluate.groundtruth import read_ground_truth
from platemark.index import build
from platemark.index.build import update_index
from platemark.search.engine import Searcher
from platemark.store import Catalog, open_catalog

COLUMNS = ("step", "segments", "postings_mb", "search_p50_ms", "search_p95_ms", "local_votes_p50_ms", "R@1", "step_s")


def measured(catalog: Catalog, ground_truth: Path) -> dict:
    """Search the photos of a ground-truth CSV: timings and recall@1 of those of catalogued prints."""
    queries = read_ground_truth(ground_truth)
    searcher = Searcher(catalog)
    for query in queries[:3]:
        searcher.search(query.path)
    totals, votes, found = [], [], 0
    for query in queries:
        response = searcher.search(query.path, top_k=5)
        totals.append(response.elapsed_ms)
        votes.append(response.stages_ms.get("local_votes", 0.0))
        found += bool(response.results) and response.results[0].record.record_id in query.record_ids
    segments = catalog.segments(catalog.active_codebook_id())
    return {
        "segments": len(segments),
        "postings_mb": round(sum(size for _, size in segments.values()) / 1e6),
        "search_p50_ms": round(float(np.percentile(totals, 50))),
        "search_p95_ms": round(float(np.percentile(totals, 95))),
        "local_votes_p50_ms": round(statistics.median(votes)),
        "R@1": round(found / sum(1 for query in queries if query.record_ids), 3),
    }


def merged_by(catalog: Catalog, group: int) -> None:
    """Merge the live segments `group` at a time, smallest numbers first."""
    codebook = catalog.active_codebook_id()
    segments = sorted(catalog.segments(codebook))
    for start in range(0, len(segments), group):
        chosen = segments[start : start + group]
        live = catalog.indexed_segments(codebook)
        catalog.replace_segments(codebook, chosen, build._live_rows(catalog, codebook, chosen, live))


def unmerged_retrain(catalog: Catalog) -> None:
    """Index every record again under a new codebook, leaving the segments as they were written."""
    fan_in = build.FAN_IN
    build.FAN_IN = 10**9  # no tier ever fills: every segment stays as indexed
    try:
        update_index(catalog, retrain=True)
    finally:
        build.FAN_IN = fan_in


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--catalog", type=Path, default=Path("/tmp/platemark-bench-scale/catalog-100000"))
    args = parser.parse_args()
    ground_truth = args.bench / "museum" / "ground_truth.csv"
    rows = []
    with open_catalog(args.catalog, create=True) as catalog:  # create: migrated, as `platemark migrate` does
        steps = [
            (f"indexed again, {build.SEGMENT_RECORDS} records a segment", lambda: unmerged_retrain(catalog)),
            ("merged four by four", lambda: merged_by(catalog, build.FAN_IN)),
            ("merged into one", lambda: merged_by(catalog, 10**9)),
        ]
        for step, run in steps:
            started = time.perf_counter()
            run()
            took = round(time.perf_counter() - started)
            rows.append({"step": step, **measured(catalog, ground_truth), "step_s": took})
            print(rows[-1], flush=True)
    print_table(rows, COLUMNS)
    save_results("bench_segments", {"catalog": str(args.catalog), "rows": rows}, ("numpy",), "-segments")


if __name__ == "__main__":
    main()
