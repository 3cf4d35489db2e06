"""Do searches stay fast while an ingest runs on the same machine? Prints one table.

    python benchmarks/bench_contention.py --bench ../shared/bench [--queries 60] [--compare-with REV]

For each way of searching — the CLI (`platemark search DIR --json`), the library (`Searcher`) and
`platemark serve` with 1 and 2 workers (one client, one request at a time) — the museum photos are
searched against the museum catalog twice: on an idle machine, and while `platemark ingest` indexes
the aic collection (267 paintings, its default worker processes) into a scratch catalog, started
again whenever it finishes. The table gives p50 and p95 of each and the ratio of the p50s.
With --compare-with, the CLI of another commit (a git worktree) is measured too, next to that
commit's own ingest: before and after in one run. The server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
from bench_serve import free_port, museum_catalog, start_server
from report import checkout_process, print_table, save_results, worktree

from platemark.search.engine import Searcher
from platemark.store import open_catalog


@contextlib.contextmanager
def ingest_running(collection: Path, scratch: Path, source: Path | None = None) -> Iterator[None]:
    """`platemark ingest` of `collection` over and over in the background, until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        runs = 0
        while not stop.is_set():
            target = scratch / f"run-{runs}"
            process = subprocess.Popen(
                [sys.executable, "-m", "platemark", "ingest", str(collection), "--catalog", str(target)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **checkout_process(source),
            )
            while process.poll() is None and not stop.wait(0.5):
                pass
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
            shutil.rmtree(target, ignore_errors=True)
            runs += 1

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(15)  # until its worker processes have loaded their model and are extracting
    try:
        yield
    finally:
        stop.set()
        thread.join()


def library(catalog: str, photos: list[Path]) -> list[float]:
    searcher = Searcher(open_catalog(catalog))
    searcher.search(photos[0])  # warm-up
    timings = []
    for photo in photos:
        started = time.perf_counter()
        searcher.search(photo)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def cli(catalog: str, photos: list[Path], source: Path | None = None) -> list[float]:
    """Per-photo search time as `platemark search DIR --json` reports it (model loading excluded)."""
    with tempfile.TemporaryDirectory() as folder:
        for n, photo in enumerate(photos):
            shutil.copy(photo, Path(folder) / f"{n:04d}.jpg")
        result = subprocess.run(
            [sys.executable, "-m", "platemark", "search", folder, "--catalog", catalog, "--json", "--top", "5"],
            capture_output=True,
            text=True,
            check=True,
            **checkout_process(source),
        )
    return [response["elapsed_ms"] for response in json.loads(result.stdout)[1:]]  # the first warms up


def served(workers: int) -> Callable[[str, list[Path]], list[float]]:
    def measure(catalog: str, photos: list[Path]) -> list[float]:
        port = free_port()
        server = start_server(["--catalog", catalog], port, workers, {"PLATEMARK_SEARCHES_PER_MINUTE": "0"})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                for photo in photos[: 2 * workers]:  # warm-up: every worker loads its model
                    client.post("/api/search", files={"image": ("q.jpg", photo.read_bytes())})
                timings = []
                for photo in photos:
                    data = photo.read_bytes()
                    started = time.perf_counter()
                    assert client.post("/api/search", files={"image": ("q.jpg", data)}).status_code == 200
                    timings.append((time.perf_counter() - started) * 1000)
        finally:
            server.terminate()
            server.wait(timeout=30)
        return timings

    return measure


def row(mode: str, alone: list[float], busy: list[float]) -> dict:
    p50_alone, p50_busy = float(np.median(alone)), float(np.median(busy))
    return {
        "mode": mode,
        "queries": len(alone),
        "p50_alone_ms": round(p50_alone, 1),
        "p95_alone_ms": round(float(np.percentile(alone, 95)), 1),
        "p50_with_ingest_ms": round(p50_busy, 1),
        "p95_with_ingest_ms": round(float(np.percentile(busy, 95)), 1),
        "p50_ratio": round(p50_busy / p50_alone, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-serve"))
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--compare-with", metavar="REV", help="also measure the CLI of this commit, next to its ingest")
    args = parser.parse_args()
    catalog = museum_catalog(args.bench, args.work)
    every = sorted((args.bench / "museum" / "queries").rglob("*.jpg"))
    photos = [every[i] for i in np.linspace(0, len(every) - 1, args.queries).astype(int)]
    aic = args.bench / "aic"
    scratch = Path(tempfile.mkdtemp(prefix="platemark-contention-"))
    modes: list[tuple[str, Callable[[str, list[Path]], list[float]], Path | None]] = [
        ("cli", cli, None),
        ("library", library, None),
        ("serve --workers 1", served(1), None),
        ("serve --workers 2", served(2), None),
    ]
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        if args.compare_with:
            tree = stack.enter_context(worktree(args.compare_with, args.work))
            modes.insert(0, (f"cli at {args.compare_with}", lambda c, p, t=tree: cli(c, p, t), tree))
        rows = []
        for mode, measure, source in modes:
            alone = measure(catalog, photos)
            with ingest_running(aic, scratch, source):
                busy = measure(catalog, photos)
            rows.append(row(mode, alone, busy))
            print(rows[-1], flush=True)
    print()
    print_table(rows, list(rows[0]))
    save_results(
        "bench_contention",
        {
            "rows": rows,
            "background": "platemark ingest of aic/ (267 images), default workers, restarted when done",
            "dataset": f"museum collection, {len(photos)} museum query photos",
        },
        ("torch", "faiss-cpu", "uvicorn"),
        "-contention",
    )


if __name__ == "__main__":
    main()
