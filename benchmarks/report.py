"""What every benchmark does with its results: print a table, and keep them as JSON in results/
with the commit, the machine and the package versions."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from collections.abc import Callable, Iterator
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

#: The commit the benchmark runs (taken when it starts: commits made while it runs do not count).
COMMIT = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def print_table(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str]) -> None:
    """Rows as a Markdown table (the form benchmarks/README.md quotes)."""
    print(" | ".join(columns))
    print(" | ".join("---" for _ in columns))
    for row in rows:
        print(" | ".join(str(row.get(c)) for c in columns))


def save_results(benchmark: str, payload: dict[str, Any], packages: tuple[str, ...], suffix: str = "") -> Path:
    """Write results/<date>-<commit><suffix>.json; returns its path."""
    out = Path(__file__).parent / "results" / f"{date.today()}-{COMMIT or 'nocommit'}{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    document = {
        "benchmark": benchmark,
        **payload,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "gpu": None},
        "versions": {p: version(p) for p in ("platemark", *packages)},
    }
    out.write_text(json.dumps(document, indent=2))
    print(f"\nwritten: {out}")
    return out


def build_once(record: Path, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What `build()` returns (its time, the size it made), remembered in `record` so that a
    `--reuse` run measures the same catalogs again without rebuilding them."""
    if not record.exists():
        record.write_text(json.dumps(build()))
    return json.loads(record.read_text())


def checkout_process(source: Path | None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for `subprocess` that run `python -m platemark` (or `-c`) from `source`, another
    checkout (a `worktree`), instead of this one: its folder on PYTHONPATH and as the working directory,
    which Python puts first on the path. None: this checkout. `env` adds variables either way."""
    extra = {"PYTHONPATH": str(source)} if source is not None else {}
    return {"env": {**os.environ, **(env or {}), **extra}, "cwd": source}


@contextlib.contextmanager
def worktree(rev: str, parent: Path) -> Iterator[Path]:
    """A checkout of commit `rev` (a git worktree under `parent`), removed afterwards: run its
    platemark with PYTHONPATH and cwd set to it, to measure before and after in one run."""
    tree = parent / f"source-{rev}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=False)


def before_and_after(
    catalog: Path, compare_with: str | None, work: Path, measure: Callable[[str, Path | None], dict[str, Any]]
) -> list[dict[str, Any]]:
    """`measure(code, source)` on an existing embedded catalog: first at commit `compare_with` (a worktree
    under `work`) when given, then this checkout (source None). The catalog is migrated first, as
    `platemark migrate` does on an upgrade, so that both versions meet the same schema."""
    from platemark.store import open_catalog

    if not (catalog / "catalog.db").exists():
        raise SystemExit(f"{catalog}: no catalog here (bench_scale.py --sizes 100000 builds it)")
    with open_catalog(catalog, create=True):
        pass
    rows = []
    if compare_with:
        work.mkdir(parents=True, exist_ok=True)
        with worktree(compare_with, work) as source:
            rows.append(measure(compare_with, source.resolve()))
    rows.append(measure("this checkout", None))
    return rows
