"""Does a verified search hit tell "this sheet" from "another impression of its plate"? (issue 12)

    python benchmarks/bench_impressions.py --bench ../shared/bench

Catalogs:
- the woodcut folder (../shared/bench/woodcuts) without one member of each vetted same_block,
  other_state and copy pair, and of each pair of different prints that share a key-fret border
  (found_by_scan): the held-out member's plate or border is in the catalog, its sheet is not;
- the museum collection (287 records) with its 120 real gallery photos.
Photos:
- `this sheet`: a simulated phone photo (`simulate.photos.phone_photo`) of 60 woodcut sheets in the
  catalog, and the museum's real photos of records in the collection;
- `mirror`: simulated photos of 20 of those sheets, mirrored (a counterproof or reversed copy);
- `another impression`, `other state`, `copy`, `shares a border`: two simulated photos of each
  held-out sheet;
- `not in collection`: the museum photos of artworks outside the collection.
Per kind: photos, how many got a verified hit on the expected record (for held-out sheets: their
partner), how those hits are related (`platemark.search.relation`), and how many photos had any hit
claiming "this sheet" of a wrong record. What it cannot show: the simulated photos share one sheet's
own pixels, so "this sheet" is easier here than for a real second photo; the held-out impressions are
real.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
from collections import Counter
from pathlib import Path

import numpy as np
from report import print_table, save_results

from platemark.images import load_image
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher, SearchResponse
from platemark.simulate.photos import phone_photo
from platemark.store import open_catalog

COLUMNS = (
    "photos",
    "count",
    "verified_expected",
    "claims_sheet",
    "relations",
    "coverage_median",
    "colour_median",
    "wrong_sheet",
    "relation_ms_p50",
)
HELD_OUT = {"same_block": "another impression", "other_state": "other state", "copy": "copy"}


def held_out(bench: Path) -> dict[str, tuple[str, str]]:
    """{held-out record id: (its partner in the catalog, kind of photo)}."""
    with open(bench / "woodcuts" / "pairs.csv", newline="", encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    held: dict[str, tuple[str, str]] = {}
    for row in pairs:
        kind = HELD_OUT.get(row["relation"])
        if row["relation"] == "different" and row["basis"] == "found_by_scan":
            kind = "shares a border"
        a, b = row["record_id_a"], row["record_id_b"]
        taken = {*held, *(partner for partner, _ in held.values())}
        if kind and a not in taken and b not in taken:
            held[b] = (a, kind)
    return held


def woodcut_catalog(bench: Path, work: Path, held: set[str]) -> Path:
    catalog = work / "woodcuts-held-out"
    if not (catalog / "catalog.db").exists():
        folder = work / "woodcuts-held-out-images" / "images"
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted((bench / "woodcuts" / "images").glob("*.jpg")):
            if path.stem not in held:
                shutil.copy(path, folder / path.name)
        ingest(folder.parent, catalog, collection="woodcuts", progress=False)
    return catalog


def museum_catalog(bench: Path, work: Path) -> Path:
    catalog = work / "museum"
    if not (catalog / "catalog.db").exists():
        ingest(bench / "museum" / "collection", catalog, collection="museum", progress=False)
    return catalog


class Tally:
    """Per photo kind: the hits on the expected record and the wrong "this sheet" claims."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def add(self, kind: str, response: SearchResponse, expected: set[str]) -> None:
        hits = response.results
        row = self.rows.setdefault(kind, {"count": 0, "hits": [], "wrong_sheet": 0, "ms": []})
        row["count"] += 1
        row["ms"].append(response.stages_ms.get("relation", 0.0))
        row["hits"] += [h for h in hits if h.verification.verified and h.record.record_id in expected][:1]
        row["wrong_sheet"] += any(h.claims_sheet and h.record.record_id not in expected for h in hits)

    def table(self) -> list[dict]:
        return [
            {
                "photos": kind,
                "count": row["count"],
                "verified_expected": len(row["hits"]),
                "claims_sheet": sum(h.claims_sheet for h in row["hits"]),
                "relations": dict(Counter(str(h.relation) for h in row["hits"])),
                "coverage_median": _median([h.agreement.coverage for h in row["hits"]]),
                "colour_median": _median([h.agreement.colour_difference for h in row["hits"]]),
                "wrong_sheet": row["wrong_sheet"],
                "relation_ms_p50": _median(row["ms"]),
            }
            for kind, row in self.rows.items()
        ]


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-impressions"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    tally = Tally()
    held = held_out(args.bench)
    images = args.bench / "woodcuts" / "images"
    with open_catalog(woodcut_catalog(args.bench, args.work, set(held))) as catalog:
        searcher = Searcher(catalog)
        for record_id, (partner, kind) in sorted(held.items()):
            sheet = load_image(images / f"{record_id}.jpg")
            for _ in range(2):
                tally.add(kind, searcher.search(phone_photo(sheet, rng), top_k=5), {partner})
        in_catalog = sorted(p.stem for p in images.glob("*.jpg") if p.stem not in held)
        chosen = rng.choice(in_catalog, 60, replace=False)
        for record_id in chosen:
            photo = phone_photo(load_image(images / f"{record_id}.jpg"), rng)
            tally.add("this sheet (simulated)", searcher.search(photo, top_k=5), {record_id})
        for record_id in chosen[:20]:
            photo = phone_photo(np.ascontiguousarray(load_image(images / f"{record_id}.jpg")[:, ::-1]), rng)
            tally.add("mirror", searcher.search(photo, top_k=5), {record_id})
    with open(args.bench / "museum" / "ground_truth.csv", newline="", encoding="utf-8") as handle:
        truth = [(row["query"], [r for r in row["record_ids"].split(";") if r]) for row in csv.DictReader(handle)]
    with open_catalog(museum_catalog(args.bench, args.work)) as catalog:
        searcher = Searcher(catalog)
        for query, records in truth:
            response = searcher.search(args.bench / "museum" / query, top_k=5)
            kind = "this sheet (museum photos)" if records else "not in collection (museum)"
            tally.add(kind, response, set(records))
    rows = tally.table()
    print_table(rows, COLUMNS)
    evidence = {
        kind: [[h.agreement.coverage, h.agreement.colour_difference] for h in row["hits"]]
        for kind, row in tally.rows.items()
    }
    payload = {"rows": rows, "seed": args.seed, "coverage_and_colour": evidence}
    save_results("bench_impressions", payload, ("opencv-contrib-python-headless",), "-impressions")


if __name__ == "__main__":
    main()
