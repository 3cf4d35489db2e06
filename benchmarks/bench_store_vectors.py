"""Global-vector search at scale in each backend: build time, disk, RAM, latency and ANN recall@10.

    python benchmarks/bench_store_vectors.py --bench ../shared/bench --records 1000000

Vectors: the real EfficientNet-Lite0 GeM descriptors (1280-d) of every image in ../shared/bench
(collection images and museum photos), and N synthetic records made from them: a random mix of
two real descriptors (weight 0.5-1 on the first) plus Gaussian noise of norm 0.5, renormalised.
Queries: the 120 real museum photos, plus 80 noisy copies (noise norm 0.3) of stored vectors.
Exact answers come from brute force in numpy. Records carry no keypoints: this measures the
store's global stage (`Catalog.nearest`) only; bench_scale.py measures whole searches.

The PostgreSQL server is the `pgserver` wheel's (PostgreSQL 16, pgvector 0.6.2) with
maintenance_work_mem 8GB and shared_buffers 4GB; SQLite's index is faiss HNSW32 in the process.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from report import build_once, print_table, save_results
from tqdm import tqdm

from platemark.extract.cnn import CNNExtractor
from platemark.extract.sift import LocalFeatures
from platemark.images import QUERY_MAX_SIDE, load_image
from platemark.simulate.vectors import mixed_descriptors, unit
from platemark.store import RecordWithFeatures, open_catalog
from platemark.store.base import Catalog

DIM = 1280
COLUMNS = ("backend", "records", "ef_search", "build_s", "disk_gb", "ram_gb", "p50_ms", "p95_ms", "recall@10")
#: HNSW search breadths measured; the store defaults are PostgresCatalog's and vectors.py's EF_SEARCH.
EF_SEARCH = (40, 100, 200, 400)
NO_KEYPOINTS = LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), 640, 480)


def real_descriptors(bench: Path) -> tuple[np.ndarray, np.ndarray]:
    """(descriptors of all bench images, descriptors of the museum query photos)."""
    cnn = CNNExtractor()
    paths = sorted(p for p in bench.rglob("*.jpg"))
    vectors = np.stack([cnn.extract(load_image(p, max_side=QUERY_MAX_SIDE)) for p in tqdm(paths, desc="real")])
    photos = np.array(["queries" in p.parts for p in paths])
    return vectors, vectors[photos]


def synthesise(real: np.ndarray, count: int, path: Path, seed: int = 0) -> np.memmap:
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, DIM))
    for start in tqdm(range(0, count, 100_000), desc="synthesise"):
        out[start : start + 100_000] = mixed_descriptors(real, min(100_000, count - start), rng)
    out.flush()
    return out


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row numbers of the 10 most similar vectors for each query, by brute force."""
    best_sims = np.full((len(queries), 0), -np.inf, np.float32)
    best_rows = np.zeros((len(queries), 0), np.int64)
    for start in range(0, len(vectors), 200_000):
        sims = queries @ np.asarray(vectors[start : start + 200_000]).T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        best_sims = np.hstack([best_sims, np.take_along_axis(sims, top, 1)])
        best_rows = np.hstack([best_rows, top + start])
        keep = np.argsort(-best_sims, axis=1)[:, :10]
        best_sims, best_rows = np.take_along_axis(best_sims, keep, 1), np.take_along_axis(best_rows, keep, 1)
    return best_rows


def records(vectors: np.ndarray) -> Iterator[RecordWithFeatures]:
    for row in range(len(vectors)):
        yield RecordWithFeatures(
            "synthetic",
            f"s{row:07d}",
            f"/synthetic/{row}.jpg",
            f"{row:064x}",
            {},
            (None, None),
            vectors[row],
            NO_KEYPOINTS,
        )


def rss_bytes(pid: int | str = "self") -> int:
    """Proportional set size of a process (shared pages split between their users)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def postgres_ram() -> int:
    """PSS of every PostgreSQL process (run nothing else on a PostgreSQL server meanwhile)."""
    total = 0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().startswith("postgres"):
                total += rss_bytes(proc.name)
        except OSError:
            continue
    return total


def measure(catalog: Catalog, queries: np.ndarray, exact_keys: np.ndarray) -> dict:
    for query in queries[:20]:  # warm-up
        catalog.nearest(query, 10)
    latencies, recalls = [], []
    for query, truth in zip(queries, exact_keys, strict=True):
        started = time.perf_counter()
        found, _ = catalog.nearest(query, 10)
        latencies.append((time.perf_counter() - started) * 1000)
        recalls.append(len(set(found.tolist()) & set(truth.tolist())) / 10)
    return {
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "recall@10": round(float(np.mean(recalls)), 4),
    }


def run_sqlite(work: Path, vectors: np.ndarray, queries: np.ndarray, exact_rows: np.ndarray) -> list[dict]:
    location = work / "sqlite-catalog"

    def build() -> dict:
        started = time.perf_counter()
        with open_catalog(location, create=True) as catalog:
            catalog.insert_many(records(vectors))
            catalog.warm()  # builds the faiss HNSW index and saves it beside the database
            disk = catalog.size_on_disk() + sum(p.stat().st_size for p in catalog.index_dir.glob("global-*"))
        return {"build_s": round(time.perf_counter() - started), "disk_gb": round(disk / 1e9, 2)}

    construction = build_once(work / "sqlite-build.json", build)
    gc.collect()
    before = rss_bytes()
    rows = []
    with open_catalog(location) as catalog:  # as a serve worker: load the saved index
        catalog.warm()
        ram = round((rss_bytes() - before) / 1e9, 2)
        index = catalog.vector_index()
        for ef in EF_SEARCH:
            index.index.hnsw.efSearch = ef
            measured = measure(catalog, queries, index.keys[exact_rows])
            rows.append(
                {"backend": "sqlite + faiss HNSW32", "ef_search": ef, **construction, "ram_gb": ram, **measured}
            )
    return rows


def run_postgres(work: Path, vectors: np.ndarray, queries: np.ndarray, exact_rows: np.ndarray) -> list[dict]:
    import pgserver

    data = work / "pg"
    fresh = not data.exists()
    server = pgserver.get_server(data, cleanup_mode="stop")
    if fresh:
        server.psql("ALTER SYSTEM SET maintenance_work_mem = '8GB'")
        server.psql("ALTER SYSTEM SET shared_buffers = '4GB'")
        server.cleanup()
        server = pgserver.get_server(data, cleanup_mode="stop")
    url = server.get_uri()

    def build() -> dict:
        started = time.perf_counter()
        with open_catalog(url, media=work / "pg-media", create=True) as catalog:
            catalog.insert_many(records(vectors))
            return {"build_s": round(time.perf_counter() - started), "disk_gb": round(catalog.size_on_disk() / 1e9, 2)}

    rows = []
    try:
        construction = build_once(work / "postgres-build.json", build)
        with open_catalog(url) as catalog:
            first_key = catalog.find("synthetic", "s0000000").key
            for ef in EF_SEARCH:
                catalog.ef_search = ef
                measured = measure(catalog, queries, exact_rows + first_key)
                ram = round(postgres_ram() / 1e9, 2)
                rows.append(
                    {
                        "backend": "postgresql + pgvector HNSW",
                        "ef_search": ef,
                        **construction,
                        "ram_gb": ram,
                        **measured,
                    }
                )
    finally:
        server.cleanup()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-vectors"))
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--reuse", action="store_true", help="measure the catalogs a previous run built in --work")
    args = parser.parse_args()
    if not args.reuse:
        shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True, exist_ok=True)

    real, photos = real_descriptors(args.bench)
    vectors = (
        np.load(args.work / "vectors.npy", mmap_mode="r")
        if args.reuse
        else synthesise(real, args.records, args.work / "vectors.npy")
    )
    rng = np.random.default_rng(1)
    picked = vectors[np.sort(rng.choice(args.records, 80, replace=False))]
    queries = np.vstack([photos, unit(picked + unit(rng.normal(size=picked.shape)) * 0.3)])
    exact_rows = exact_top10(vectors, queries)

    runners = {"postgres": run_postgres, "sqlite": run_sqlite}
    rows = []
    for backend in args.backends.split(","):
        for row in runners[backend](args.work, vectors, queries, exact_rows):
            rows.append({**row, "records": args.records})
            print(" | ".join(str(rows[-1].get(c)) for c in COLUMNS), flush=True)
        gc.collect()

    print_table(rows, COLUMNS)
    save_results(
        "bench_store_vectors",
        {"records": args.records, "queries": len(queries), "rows": rows},
        ("faiss-cpu", "numpy", "psycopg", "pgvector", "pgserver"),
        "-store-vectors",
    )


if __name__ == "__main__":
    main()
