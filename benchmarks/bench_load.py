"""A flood against `platemark serve --workers 2`: is every answer a success or a deliberate 503, and
does /healthz stay fast throughout? Prints one table.

    python benchmarks/bench_load.py --bench ../shared/bench [--clients 100] [--seconds 60] [--compare-with REV]

Starts the server on 127.0.0.1 over the museum catalog. `--clients` visitors (each with its own
X-Forwarded-For address, as behind a proxy) search back to back with the museum photos, pausing
only for Retry-After (at most 1 s) when shed; one more client polls /healthz every 100 ms and one
browses /api/records every 200 ms. With --compare-with, the same load is sent first to a server
run from another commit (a git worktree), so before and after are measured in one run.
Every loop is bounded in time and talks only to the loopback address.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from bench_serve import free_port, museum_catalog, start_server
from report import print_table, save_results, worktree


def flood(url: str, photos: list[bytes], clients: int, seconds: float) -> dict:
    """Run the visitors, the health poller and the browser for `seconds`; returns the row."""
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    answered: list[float] = []  # search latency of 200s (ms)
    shed: list[float] = []  # time to a 503 or 429 (ms)
    health: list[tuple[float, float]] = []  # (seconds since start, latency ms)
    browse: list[float] = []
    begin = time.monotonic()
    stop = begin + seconds

    def visitor(n: int) -> None:
        address = f"198.51.{n // 250}.{n % 250 + 1}"  # documentation range: only a header, never contacted
        with httpx.Client(base_url=url, timeout=120, headers={"X-Forwarded-For": address}) as client:
            i = n
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    response = client.post("/api/search", files={"image": ("q.jpg", photos[i % len(photos)])})
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status, response = type(exc).__name__, None
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    statuses[status] += 1
                    (answered if status == "200" else shed if status in ("503", "429") else []).append(elapsed)
                if response is not None and response.status_code in (503, 429):
                    time.sleep(min(1.0, float(response.headers.get("retry-after", 1))))
                i += clients

    def poll(path: str, every: float, into: list, stamped: bool) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    ok = client.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if not ok:
                        statuses[f"{path} failed"] += 1
                    into.append((time.monotonic() - begin, elapsed) if stamped else elapsed)
                time.sleep(every)

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(clients)]
    threads += [
        threading.Thread(target=poll, args=("/healthz", 0.1, health, True)),
        threading.Thread(target=poll, args=("/api/records?limit=20", 0.2, browse, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    health_ms = [ms for _, ms in health]
    windows = [[ms for at, ms in health if w <= at < w + 10] for w in range(0, int(seconds), 10)]
    server_errors = sum(n for s, n in statuses.items() if s.startswith("5") and s != "503")
    return {
        "clients": clients,
        "searched": statuses["200"],
        "shed_503": statuses["503"],
        "limited_429": statuses["429"],
        "other_5xx": server_errors,
        "other": sum(n for s, n in statuses.items() if s not in ("200", "503", "429") and not s.startswith("5")),
        "search_p50_ms": _percentile(answered, 50),
        "search_max_ms": round(max(answered), 1) if answered else None,
        "shed_p95_ms": _percentile(shed, 95),
        "healthz_p50_ms": _percentile(health_ms, 50),
        "healthz_p99_ms": _percentile(health_ms, 99),
        "healthz_worst_10s_p99_ms": max((_percentile(w, 99) or 0) for w in windows if w) if health else None,
        "healthz_max_ms": round(max(health_ms), 1) if health_ms else None,
        "browse_p95_ms": _percentile(browse, 95),
        "statuses": dict(statuses),
    }


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def run(label: str, catalog: str, photos: list[bytes], args: argparse.Namespace, source: Path | None) -> dict:
    port = free_port()
    server = start_server(["--catalog", catalog], port, 2, source=source)
    try:
        url = f"http://127.0.0.1:{port}"
        for photo in photos[:4]:  # warm-up: both workers load their model
            httpx.post(url + "/api/search", files={"image": ("q.jpg", photo)}, timeout=120)
        row = {"server": label, **flood(url, photos, args.clients, args.seconds)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-serve"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--compare-with", metavar="REV", help="also load a server run from this commit, first")
    args = parser.parse_args()
    catalog = museum_catalog(args.bench, args.work)
    photos = [p.read_bytes() for p in sorted((args.bench / "museum" / "queries").rglob("*.jpg"))]
    rows = []
    if args.compare_with:
        with worktree(args.compare_with, args.work) as tree:
            rows.append(run(args.compare_with, catalog, photos, args, tree))
    rows.append(run("this commit", catalog, photos, args, None))
    columns = [c for c in rows[-1] if c != "statuses"]
    print_table(rows, columns)
    save_results(
        "bench_load",
        {"rows": rows, "seconds": args.seconds, "workers": 2, "dataset": "museum collection, museum query photos"},
        ("uvicorn", "fastapi"),
        "-load",
    )


if __name__ == "__main__":
    main()
