"""Can other writers get in while the word index is merged? (issue 11) Prints one table.

    python benchmarks/bench_merge_lock.py [--catalog /tmp/platemark-bench-scale/catalog-100000] [--compare-with REV]

Merges every live segment of a large embedded catalog's word index into one, as `update_index` does
when a tier fills (bench_scale.py's 100k catalog: ~1 GB of postings), while this process saves a
search into the same catalog every second, as the web app does after each search, through the
store's own connection (it waits up to 60 s for SQLite's write lock, then fails: a 500 for the
visitor, an ingest that stops). Per version: the merge's seconds, the saves tried and failed, and
the median and longest wait of a save. With --compare-with, another commit (a git worktree) merges
first, in the same run. The merge leaves the catalog holding what it held, in one segment.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from report import before_and_after, checkout_process, print_table, save_results

from platemark.store import open_catalog

COLUMNS = ("code", "segments", "postings_mb", "merge_s", "saves", "failed", "wait_p50_ms", "wait_max_s", "wal_max_mb")
#: The longest a merge may take here before the run is given up.
MERGE_TIMEOUT = 3 * 3600

MERGE = """
import json, sys, time
from pathlib import Path
from platemark.index.build import _live_rows
from platemark.store import open_catalog

with open_catalog(Path(sys.argv[1])) as catalog:
    codebook = catalog.active_codebook_id()
    merged = sorted(catalog.segments(codebook))
    size = sum(size for _, size in catalog.segments(codebook).values())
    live = catalog.indexed_segments(codebook)
    print(json.dumps({"segments": len(merged), "postings_mb": round(size / 1e6)}), flush=True)
    started = time.perf_counter()
    segment = catalog.replace_segments(codebook, merged, _live_rows(catalog, codebook, merged, live))
    print(json.dumps({"merge_s": round(time.perf_counter() - started), "merged_into": segment}), flush=True)
"""


def saves_while(process: subprocess.Popen, location: Path, tag: str) -> tuple[list[float], int, int]:
    """Save a search every second until the process ends: the waits of those that got in, how many failed,
    and the largest the write-ahead log grew (SQLite copies it into the database only between transactions)."""
    waits, failed, wal = [], 0, 0
    log = location / "catalog.db-wal"
    with open_catalog(location) as catalog:
        for number in range(MERGE_TIMEOUT):
            if process.poll() is not None:
                break
            wal = max(wal, log.stat().st_size if log.exists() else 0)
            started = time.perf_counter()
            try:
                catalog.save_search(f"bench-merge-lock-{tag}-{number}", {}, {}, expires_at=0.0)
                waits.append(time.perf_counter() - started)
            except sqlite3.OperationalError:  # database is locked, after the store's 60 s
                failed += 1
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))
        catalog.execute("DELETE FROM searches WHERE id LIKE ?", (f"bench-merge-lock-{tag}-%",))
    return waits, failed, wal


def measure(location: Path, code: str, source: Path | None) -> dict:
    process = subprocess.Popen(
        [sys.executable, "-c", MERGE, str(location)], stdout=subprocess.PIPE, text=True, **checkout_process(source)
    )
    found: dict = {}
    reader = threading.Thread(target=lambda: [found.update(json.loads(line)) for line in process.stdout])
    reader.start()
    waits, failed, wal = saves_while(process, location, code)
    process.wait(timeout=MERGE_TIMEOUT)
    reader.join()
    if process.returncode != 0 or "merge_s" not in found:
        raise SystemExit(f"the merge of {code} failed (exit {process.returncode})")
    return {
        "code": code,
        "segments": found["segments"],
        "postings_mb": found["postings_mb"],
        "merge_s": found["merge_s"],
        "saves": len(waits) + failed,
        "failed": failed,
        "wait_p50_ms": round(1000 * float(np.median(waits))) if waits else None,
        "wait_max_s": round(max(waits), 1) if waits else None,
        "wal_max_mb": round(wal / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, default=Path("/tmp/platemark-bench-scale/catalog-100000"))
    parser.add_argument("--compare-with", help="another commit, measured first in the same run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-merge-lock"))
    args = parser.parse_args()
    rows = before_and_after(
        args.catalog, args.compare_with, args.work, lambda code, source: measure(args.catalog, code, source)
    )
    print_table(rows, COLUMNS)
    save_results("bench_merge_lock", {"catalog": str(args.catalog), "rows": rows}, ("numpy",), "-merge-lock")


if __name__ == "__main__":
    main()
