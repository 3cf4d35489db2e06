"""Browse's full-text search (`GET /api/records?q=`) at catalog sizes, in each backend, against the
Python loop it replaces; the answers are checked against that loop.

    python benchmarks/bench_text_search.py --bench ../shared/bench --records 10000 100000

Records carry real catalogue text: titles, people, dates, techniques and institutions of the 554
records in ../shared/bench (museum + aic metadata.csv), recombined at random (title of one, person of
another, …) with their own record ids and inventory numbers, so the words and their frequencies are
a real catalogue's. Features are a unit vector and one keypoint each: text search never reads them.
Each query runs `Catalog.browse(RecordFilter(text=q), limit=24)` (the count of matches and the first
page, as the page asks), warm-up 2, then --repeat times; "python loop" reads every record's text and
matches in Python with the same rule (every word begins a word), once per query.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from report import print_table, save_results

from platemark.extract.sift import LocalFeatures
from platemark.store import Catalog, RecordWithFeatures, open_catalog
from platemark.store.filters import RecordFilter

FIELDS = ("title", "person", "date", "material_technique", "institution")
COLUMNS = ("backend", "records", "query", "matches", "p50_ms", "p95_ms", "python_loop_ms", "same_answer")


def catalogue_text(bench: Path) -> dict[str, list[str]]:
    """Every value of each field in the bench's metadata files."""
    values: dict[str, list[str]] = {field: [] for field in FIELDS}
    for path in (bench / "museum" / "collection" / "metadata.csv", bench / "aic" / "metadata.csv"):
        for row in csv.DictReader(path.open(encoding="utf-8")):
            for field in FIELDS:
                if row.get(field):
                    values[field].append(row[field])
    return values


def records(values: dict[str, list[str]], count: int, seed: int = 0) -> Iterator[RecordWithFeatures]:
    rng = np.random.default_rng(seed)
    vector = np.zeros(1280, np.float32)
    vector[0] = 1
    local = LocalFeatures(np.zeros((1, 2), np.float32), np.zeros((1, 128), np.uint8), 100, 100)
    for n in range(count):
        metadata = {f: values[f][rng.integers(len(values[f]))] for f in FIELDS if rng.random() < 0.9}
        metadata["inventory_number"] = f"INV-{rng.integers(1800, 2025)}-{n:06d}"
        yield RecordWithFeatures("bench", f"r{n:07d}", "/none.jpg", f"h{n}", metadata, (None, None), vector, local)


def queries(values: dict[str, list[str]]) -> list[str]:
    """A frequent word, a rare one, a prefix, two words, part of an inventory number, a word and a year."""
    words: dict[str, int] = {}
    for text in values["title"] + values["person"]:
        for word in re.findall(r"[^\W_]{4,}", text.lower()):
            words[word] = words.get(word, 0) + 1
    ranked = sorted((w for w in words if w.isascii()), key=words.get, reverse=True)  # PostgreSQL keeps accents
    person = values["person"][0].split()[0].lower()
    return [ranked[0], ranked[len(ranked) // 2], ranked[1][:4], f"{ranked[2]} {person}", "000042", "oil 18"]


def python_loop(catalog: Catalog, words: list[str]) -> tuple[int, float]:
    """How many records match, found by reading them all into Python; and how long it took (ms)."""
    started = time.perf_counter()
    found = 0
    for collection, record_id, metadata in catalog.execute("SELECT collection, record_id, metadata FROM records"):
        text = " ".join([collection, record_id, *map(str, json.loads(metadata).values())])
        tokens = re.findall(r"[^\W_]+", text.lower())
        found += all(any(token.startswith(word) for token in tokens) for word in words)
    return found, (time.perf_counter() - started) * 1000


def run(
    backend: str, location: str, media: Path | None, size: int, values: dict[str, list[str]], repeat: int
) -> list[dict]:
    rows = []
    with open_catalog(location, media=media, create=True, extractors={"global": "bench/1", "local": "bench/1"}) as c:
        c.insert_many(records(values, size))
        for text in queries(values):
            where = RecordFilter(text=text)
            for _ in range(2):
                c.browse(where, limit=24)
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                _, matches = c.browse(where, limit=24)
                times.append((time.perf_counter() - started) * 1000)
            expected, loop_ms = python_loop(c, where.words)
            rows.append(
                {
                    "backend": backend,
                    "records": size,
                    "query": text,
                    "matches": matches,
                    "p50_ms": round(statistics.median(times), 2),
                    "p95_ms": round(float(np.percentile(times, 95)), 2),
                    "python_loop_ms": round(loop_ms, 1),
                    "same_answer": matches == expected,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-text"))
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    values = catalogue_text(args.bench)

    import pgserver

    server = pgserver.get_server(args.work / "pg", cleanup_mode="stop")
    rows = []
    try:
        for size in args.records:
            rows += run("sqlite", str(args.work / f"sqlite-{size}"), None, size, values, args.repeat)
            database = f"text_{size}"
            server.psql(f"CREATE DATABASE {database}")
            url = urlsplit(server.get_uri())._replace(path=f"/{database}").geturl()
            rows += run("postgresql", url, args.work / f"pg-media-{size}", size, values, args.repeat)
    finally:
        server.cleanup()
    print_table(rows, COLUMNS)
    save_results("bench_text_search", {"rows": rows}, ("psycopg",), "-text-search")


if __name__ == "__main__":
    main()
