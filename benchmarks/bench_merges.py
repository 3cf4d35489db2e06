"""What keeping the word index merged costs while records keep coming (issue 11).

    python benchmarks/bench_merges.py --bench ../shared/bench --records 20000 --arrivals 100
    python benchmarks/bench_merges.py --bench ../shared/bench --compare-with REV   # before and after

An ingest indexes what it stored at least every minute, as a new segment, and `update_index` then
merges segments. Each version here stores the same distractor records (bench_scale.py's mosaics of
real pool keypoints) in `--arrivals` equal batches into a fresh embedded catalog and runs
`update_index` after each batch, as a long ingest does; a last batch of `--records / 10` comes at
once, as a bulk load or a retrain indexes. Per version: the seconds `update_index` took in all,
the bytes of postings merges wrote against the index's final size (`rewritten`), the largest merge
(written in batches since ead34d3: bench_merge_lock.py), and the most and the final
number of segments (a search reads one row per word and segment).

The policy alone, the same arithmetic `update_index` does over segment sizes, is shown for longer
ingests than a benchmark run can make: 333 and 3,300 one-minute segments of 3.5 MB (an ingest of
~100,000 and ~1,000,000 records at ~5 records a second).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench_scale import distractors, load_pool, staging
from report import checkout_process, print_table, save_results, worktree

COLUMNS = ("code", "arrivals", "records", "index_s", "rewritten", "largest_merge_mb", "most_segments", "segments")
POLICY_COLUMNS = ("policy", "segments_added", "segment_mb", "rewritten", "largest_merge_mb", "most_segments")


def measure(pool_location: Path, records: int, arrivals: int, seed: int) -> dict:
    """Store and index the records batch by batch in a fresh catalog, with the platemark on the path."""
    import platemark
    from platemark.index.build import update_index
    from platemark.store import open_catalog

    pool = load_pool(pool_location)
    bulk = records // 10
    batches = [(records - bulk) // arrivals] * arrivals + [bulk]
    merges: list[int] = []  # bytes of postings each merge wrote
    took, most, first = 0.0, 0, 0
    with tempfile.TemporaryDirectory() as work, open_catalog(Path(work) / "catalog", create=True) as catalog:
        replace = catalog.replace_segments

        def counted_merge(codebook: int, merged: list[int], rows: Iterable[tuple[int, bytes]]) -> int | None:
            merges.append(0)

            def counted() -> Iterator[tuple[int, bytes]]:
                for word, data in rows:
                    merges[-1] += len(data)
                    yield word, data

            return replace(codebook, merged, counted())

        catalog.replace_segments = counted_merge
        for count in batches:
            catalog.insert_many(record for record, _, _ in distractors(pool, first, count, seed))
            first += count
            started = time.perf_counter()
            update_index(catalog)
            took += time.perf_counter() - started
            segments = catalog.segments(catalog.active_codebook_id())
            most = max(most, len(segments))
        final = sum(size for _, size in segments.values())
    return {
        "arrivals": arrivals,
        "records": records,
        "index_s": round(took),
        "rewritten": round(sum(merges) / final, 1),
        "largest_merge_mb": round(max(merges, default=0) / 1e6),
        "most_segments": most,
        "segments": len(segments),
        "platemark": platemark.__file__,  # which version was measured
    }


def policy_rows() -> list[dict]:
    """Both policies over one-minute segments of a long ingest, by arithmetic on their sizes."""
    from platemark.index.build import merge_plan

    def all_but_two_largest(sizes: dict[int, int]) -> list[int]:
        by_size = sorted(sizes, key=sizes.get)
        return by_size[:-2] if len(sizes) > 4 else []

    rows = []
    for added in (333, 3300):
        for name, plan in (("all but the two largest, above 4", all_but_two_largest), ("tiers", merge_plan)):
            sizes: dict[int, int] = {}
            numbers = itertools.count()
            written = largest = most = 0
            for _ in range(added):
                sizes[next(numbers)] = 3_500_000
                while chosen := plan(sizes):
                    merged = sum(sizes.pop(segment) for segment in chosen)
                    sizes[next(numbers)] = merged
                    written, largest = written + merged, max(largest, merged)
                most = max(most, len(sizes))
            rows.append(
                {
                    "policy": name,
                    "segments_added": added,
                    "segment_mb": 3.5,
                    "rewritten": round(written / sum(sizes.values()), 1),
                    "largest_merge_mb": round(largest / 1e6),
                    "most_segments": most,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-scale"))
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--arrivals", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-with", metavar="REV", help="also measure platemark at this commit")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a version's run, as JSON
    args = parser.parse_args()
    args.bench, args.work = args.bench.resolve(), args.work.resolve()
    _, pool, _ = staging(args.bench, args.work)
    if args.one:
        print(json.dumps(measure(pool, args.records, args.arrivals, args.seed)))
        return
    command = [sys.executable, str(Path(__file__).resolve()), "--one", "--bench", str(args.bench)]
    command += ["--work", str(args.work), "--records", str(args.records), "--arrivals", str(args.arrivals)]
    rows = []
    with worktree(args.compare_with, args.work) if args.compare_with else contextlib.nullcontext() as before:
        for code, source in ((args.compare_with, before), ("this", None)):
            if code is None:
                continue
            done = subprocess.run(command, capture_output=True, text=True, check=True, **checkout_process(source))
            rows.append({"code": code, **json.loads(done.stdout.strip().splitlines()[-1])})
            print(rows[-1], flush=True)
    print_table(rows, COLUMNS)
    print()
    policies = policy_rows()
    print_table(policies, POLICY_COLUMNS)
    save_results("bench_merges", {"rows": rows, "policies": policies}, ("numpy",), "-merges")


if __name__ == "__main__":
    main()
