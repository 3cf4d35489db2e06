"""Throughput and latency of `platemark serve` under concurrent searches; prints one table.

    python benchmarks/bench_serve.py --bench ../shared/bench [--seconds 60] [--clients 20]

Starts `platemark serve --workers 2` on 127.0.0.1 over a catalog of the museum collection (embedded,
or with --store postgres in a PostgreSQL server started from the pgserver wheel), then
(1) one client searching back to back, (2) N clients searching at once, while one more client
browses (GET /api/records) to show that searches do not block browsing. Every request loop is
bounded in time and stays on the loopback address.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from report import checkout_process, print_table, save_results

from platemark.ingest.pipeline import ingest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    catalog_args: list[str], port: int, workers: int, env: dict[str, str] | None = None, source: Path | None = None
) -> subprocess.Popen:
    """`platemark serve` on 127.0.0.1:port, once /healthz answers. `env` adds PLATEMARK_* settings;
    `source` serves the platemark of another checkout (a git worktree) instead of this one."""
    process = subprocess.Popen(
        [sys.executable, "-m", "platemark", "serve", *catalog_args, "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **checkout_process(source, env),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("platemark serve did not start")


def museum_catalog(bench: Path, work: Path) -> str:
    """The embedded museum catalog under `work`, ingested (incrementally: a second run reuses it)."""
    work.mkdir(parents=True, exist_ok=True)
    catalog = str(work / "catalog")
    ingest(bench / "museum" / "collection", catalog, collection="museum", progress=False)
    return catalog


def load(url: str, photos: list[bytes], clients: int, seconds: float, browse: bool) -> dict:
    """Run `clients` search loops (and optionally one browsing loop) for `seconds`."""
    latencies: list[float] = []
    browse_latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def searcher(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            n = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = client.post("/api/search", files={"image": ("q.jpg", photos[n % len(photos)])})
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    (latencies if response.status_code == 200 else errors).append(
                        elapsed if response.status_code == 200 else f"{response.status_code}"
                    )
                n += clients

    def browser() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = client.get("/api/records", params={"limit": 20})
                with lock:
                    if response.status_code == 200:
                        browse_latencies.append((time.perf_counter() - started) * 1000)
                    else:
                        errors.append(f"browse {response.status_code}")
                time.sleep(0.2)

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(clients)]
    if browse:
        threads.append(threading.Thread(target=browser))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "searches": len(latencies),
        "errors": len(errors),
        "searches_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "browse_p95_ms": round(float(np.percentile(browse_latencies, 95)), 1) if browse_latencies else None,
    }


def measure(args: argparse.Namespace, catalog_args: list[str]) -> tuple[dict, dict]:
    """One client, then many, against a server started on a free loopback port."""
    photos = [p.read_bytes() for p in sorted((args.bench / "museum" / "queries").rglob("*.jpg"))]
    port = free_port()
    # This benchmark measures throughput from one address: no per-client rate, and room to queue.
    server = start_server(
        catalog_args,
        port,
        args.workers,
        {
            "PLATEMARK_SEARCHES_PER_MINUTE": "0",
            "PLATEMARK_SEARCH_QUEUE": str(args.clients),
            "PLATEMARK_SEARCH_WAIT_SECONDS": "120",
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        load(url, photos[:4], 2, 5, browse=False)  # warm-up: both workers load their model
        single = load(url, photos, 1, args.seconds / 2, browse=False)
        many = load(url, photos, args.clients, args.seconds, browse=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return single, many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-serve"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.store == "postgres":
            import pgserver

            postgres = pgserver.get_server(args.work / "pg", cleanup_mode="stop")
            stack.callback(postgres.cleanup)
            catalog, media = postgres.get_uri(), args.work / "media"
        else:
            catalog, media = str(args.work / "catalog"), None
        # incremental: a second run reuses the catalog
        ingest(args.bench / "museum" / "collection", catalog, media=media, collection="museum", progress=False)
        single, many = measure(args, ["--catalog", catalog, *(["--media", str(media)] if media else [])])

    columns = ("clients", "searches", "errors", "searches_per_s", "p50_ms", "p95_ms", "browse_p95_ms")
    print_table([single, many], columns)
    speedup = many["searches_per_s"] / single["searches_per_s"]
    print(f"\nthroughput with {args.clients} clients = {speedup:.2f}x one client ({args.workers} workers)")
    save_results(
        "bench_serve",
        {
            "rows": [single, many],
            "speedup": round(speedup, 2),
            "workers": args.workers,
            "store": args.store,
            "seconds": args.seconds,
            "dataset": "museum collection, museum query photos",
        },
        ("uvicorn", "fastapi"),
        f"-serve-{args.store}",
    )


if __name__ == "__main__":
    main()
