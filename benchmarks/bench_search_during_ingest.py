"""How long does a search take right after an ingest stored or deleted a record? (issue 11) Prints one table.

    python benchmarks/bench_search_during_ingest.py [--catalog CATALOG] [--compare-with REV]

An embedded catalog's workers each hold the index of global vectors in memory. A serving process
(the `Searcher` a `serve` worker holds) searches museum photos against a large embedded catalog
(default: bench_scale.py's 100k catalog) while another connection stores records one at a time, as an ingest
does, then deletes them one at a time, as `ingest --prune` does: after each, one search. The records
are copies of the catalog's first records' features under new ids. Per version: the median of
searches with nothing changed between them, and the median and longest search after a record was
stored, and after one was deleted. With --compare-with, another commit (a git worktree) runs first,
in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from report import before_and_after, checkout_process, print_table, save_results

COLUMNS = (
    "code",
    "records",
    "stored",
    "idle_p50_ms",
    "after_store_p50_ms",
    "after_store_max_ms",
    "after_delete_p50_ms",
    "after_delete_max_ms",
)

#: Runs in the version's own checkout: the searches, with records stored in between, as JSON.
SEARCH_WHILE_STORING = """
import json, sys, time
from pathlib import Path
from platemark.extract.sift import LocalFeatures
from platemark.search.engine import Searcher
from platemark.store import open_catalog

location, stored, photos = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]

def timed(photo):
    started = time.perf_counter()
    searcher.search(photo)
    return round((time.perf_counter() - started) * 1000, 1)

with open_catalog(location) as serving, open_catalog(location) as ingest:
    searcher = Searcher(serving)
    idle = [timed(photos[number % len(photos)]) for number in range(stored)]
    after = []
    for number in range(stored):
        [(key, points, descriptors)] = list(ingest.local_features([number + 1]))
        record = ingest.records([key])[key]
        ingest.upsert(
            collection="bench-search-during-ingest", record_id=f"copy-{number}", image_path="copy.jpg",
            content_hash=f"copy-{number}", metadata={}, years=(None, None),
            global_vector=ingest.global_vectors([key])[1][0],
            local=LocalFeatures(points, descriptors, record.width, record.height),
        )
        after.append(timed(photos[number % len(photos)]))
    deleted = []
    for number in range(stored):
        ingest.delete("bench-search-during-ingest", [f"copy-{number}"])
        deleted.append(timed(photos[number % len(photos)]))
    print(json.dumps({"records": serving.count(), "idle": idle, "after": after, "deleted": deleted}))
"""


def measure(location: Path, code: str, source: Path | None, stored: int, photos: list[Path]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SEARCH_WHILE_STORING, str(location), str(stored), *map(str, photos)],
        capture_output=True,
        text=True,
        check=True,
        **checkout_process(source),
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    idle, after, deleted = (sorted(found[name]) for name in ("idle", "after", "deleted"))
    return {
        "code": code,
        "records": found["records"],
        "stored": stored,
        "idle_p50_ms": idle[len(idle) // 2],
        "after_store_p50_ms": after[len(after) // 2],
        "after_store_max_ms": after[-1],
        "after_delete_p50_ms": deleted[len(deleted) // 2],
        "after_delete_max_ms": deleted[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, default=Path("/tmp/platemark-bench-scale/catalog-100000"))
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--stored", type=int, default=10, help="records stored and deleted, a search after each")
    parser.add_argument("--compare-with", help="another commit, measured first in the same run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-search-during-ingest"))
    args = parser.parse_args()
    photos = sorted((args.bench / "museum" / "queries").rglob("*.jpg"))[::12][: args.stored]
    if not photos:
        raise SystemExit(f"{args.bench}/museum/queries: no photos")

    def measured(code: str, source: Path | None) -> dict:
        return measure(args.catalog, code, source, args.stored, photos)

    rows = before_and_after(args.catalog, args.compare_with, args.work, measured)
    print_table(rows, COLUMNS)
    payload = {"catalog": str(args.catalog), "rows": rows}
    save_results("bench_search_during_ingest", payload, ("faiss-cpu",), "-search-during-ingest")


if __name__ == "__main__":
    main()
