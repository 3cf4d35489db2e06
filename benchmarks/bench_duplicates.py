"""Which vetted pairs of real woodblock prints `platemark duplicates` finds, against PHash (issue 12).

    python benchmarks/bench_duplicates.py --bench ../shared/bench [--scale-sizes 1000]

Pairs: ../shared/bench/woodcuts/pairs.csv, 167 pairs checked by eye: `same_block` (16: the same
woodblock, other paper, inking, wear, trimming; 13 of them one panel against the whole sheet),
`other_state` (4: an etching plate reworked), `copy` (12: the composition re-cut or redrawn) and
`different` (135, many of them same-titled prints). The folder is ingested as one collection.

Per vetted relation: how many pairs `find_duplicates` reports, and as which relation; the same for a
PHash search (OpenCV img_hash, the hash ingest computes; imagededup's PHash default: a pair within 10 of
64 bits). "Same print" counts same_block and other_state as positives, copy and different as
negatives: precision and recall of that, for both methods.

With --scale-sizes, also the time `find_duplicates` takes over bench_scale.py's catalogs of those sizes
(built by `bench_scale.py` in its --work folder; their distractors share pool images, so they pair
among themselves as `overlap`).
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

import numpy as np
from report import print_table, save_results

from platemark.images import load_image
from platemark.ingest.pipeline import ingest, perceptual_hash
from platemark.search.duplicates import find_duplicates
from platemark.store import open_catalog

COLUMNS = ("vetted", "pairs", "platemark_found", "platemark_as", "phash_found")
SCALE_COLUMNS = ("records", "seconds", "records_per_s", "pairs", "relations")
#: imagededup's default Hamming threshold for PHash.
PHASH_THRESHOLD = 10
POSITIVE = {"same_block", "other_state"}


def vetted_pairs(bench: Path) -> list[tuple[str, str, str]]:
    with open(bench / "woodcuts" / "pairs.csv", newline="", encoding="utf-8") as handle:
        return [(row["record_id_a"], row["record_id_b"], row["relation"]) for row in csv.DictReader(handle)]


def platemark_relations(bench: Path, work: Path) -> tuple[dict[frozenset[str], str], float, int]:
    """{pair of record ids: relation} as `find_duplicates` reports them, its seconds, and the records."""
    catalog_dir = work / "woodcuts-catalog"
    if not catalog_dir.exists():
        report = ingest(bench / "woodcuts" / "images", catalog_dir, collection="woodcuts", progress=False)
        if not report.ok:
            raise SystemExit(f"ingest of the woodcuts failed: {report.failed[:3]}")
    with open_catalog(catalog_dir) as catalog:
        started = time.perf_counter()
        pairs = find_duplicates(catalog)
        took = time.perf_counter() - started
        records = catalog.count()
    return {frozenset((p.a.record_id, p.b.record_id)): p.relation for p in pairs}, took, records


def phash_neighbours(bench: Path, ids: set[str]) -> set[frozenset[str]]:
    """Pairs of these records whose PHashes are within PHASH_THRESHOLD bits."""
    names = sorted(ids)
    bits = np.array(
        [np.unpackbits(perceptual_hash(load_image(bench / "woodcuts" / "images" / f"{n}.jpg"))) for n in names]
    )
    distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    return {
        frozenset((names[i], names[j])) for i, j in zip(*np.nonzero(distances <= PHASH_THRESHOLD), strict=True) if i < j
    }


def scale_row(location: Path) -> dict:
    with open_catalog(location) as catalog:
        records = catalog.count()
        started = time.perf_counter()
        pairs = find_duplicates(catalog, across_collections=True)
        took = time.perf_counter() - started
    return {
        "records": records,
        "seconds": round(took),
        "records_per_s": round(records / took, 1),
        "pairs": len(pairs),
        "relations": dict(Counter(p.relation for p in pairs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-duplicates"))
    parser.add_argument("--scale-work", type=Path, default=Path("/tmp/platemark-bench-scale"))
    parser.add_argument("--scale-sizes", default="", help="comma-separated sizes of bench_scale catalogs to time")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    vetted = vetted_pairs(args.bench)
    found, took, records = platemark_relations(args.bench, args.work)
    close = phash_neighbours(args.bench, {record for a, b, _ in vetted for record in (a, b)})
    rows = []
    for relation in ("same_block", "other_state", "copy", "different"):
        pairs = [frozenset((a, b)) for a, b, r in vetted if r == relation]
        reported = [found[p] for p in pairs if p in found]
        rows.append(
            {
                "vetted": relation,
                "pairs": len(pairs),
                "platemark_found": len(reported),
                "platemark_as": dict(Counter(reported)),
                "phash_found": sum(p in close for p in pairs),
            }
        )
    print_table(rows, COLUMNS)
    summary = {}
    for method, hits in (("platemark", set(found)), ("phash", close)):
        positives = [frozenset((a, b)) in hits for a, b, r in vetted if r in POSITIVE]
        negatives = [frozenset((a, b)) in hits for a, b, r in vetted if r not in POSITIVE]
        true = sum(positives)
        summary[method] = {
            "same_print_precision": round(true / max(1, true + sum(negatives)), 3),
            "same_print_recall": round(true / len(positives), 3),
        }
        print(
            f"{method}: same print (same_block + other_state) precision {summary[method]['same_print_precision']}"
            f", recall {summary[method]['same_print_recall']}"
        )
    print(f"find_duplicates over the woodcut catalog ({records} records) took {took:.1f} s")
    scale = [scale_row(args.scale_work / f"catalog-{size}") for size in args.scale_sizes.split(",") if size]
    if scale:
        print_table(scale, SCALE_COLUMNS)
    save_results(
        "bench_duplicates",
        {"rows": rows, "summary": summary, "woodcuts_seconds": round(took, 1), "scale": scale},
        ("faiss-cpu", "numpy", "opencv-contrib-python-headless"),
        "-duplicates",
    )


if __name__ == "__main__":
    main()
