"""How fast does platemark harvest a IIIF collection, and is the harvested catalog as good as one
ingested from folders?

The 554 bench images (museum: 287, aic: 267) with their metadata are published by a local IIIF
server (tests/iiif_site.py on 127.0.0.1): one Presentation manifest per record, 2.1 and 3.0
alternating, listed by a paged collection, each image behind a level-0 Image API service with
fixed sizes (info.json + full-size JPEG, the bytes of the bench file). platemark harvests it twice
into fresh catalogs, with the default politeness (2 requests in flight per host, 0.5 s between
request starts) and with politeness off (`--impolite`), and ingests the same images from their
folders into a third. Each catalog is then evaluated on the museum's 120 photos.

Timings include reading the collection and manifests, info.json and image downloads ("download"),
and the whole ingest with feature extraction ("total"). The server runs in this process, on the
same 2 cores.

    python benchmarks/bench_harvest.py --bench ../shared/bench
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

from report import print_table, save_results

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from iiif_site import IIIFSite, SiteRecord

from platemark.evaluate.run import evaluate
from platemark.ingest.fetch import Politeness
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.store import open_catalog

#: Collection folders under the bench (images/ and metadata.csv each).
FOLDERS = ("museum/collection", "aic")
#: The evaluation's numbers each run reports.
SCORES = ("recall@1", "recall@5", "mAP", "false_verified", "not_in_collection_rejected")


def site_records(bench: Path) -> list[SiteRecord]:
    records = []
    for folder in FOLDERS:
        with open(bench / folder / "metadata.csv", encoding="utf-8") as handle:
            rows = {row["record_id"]: row for row in csv.DictReader(handle)}
        for n, image in enumerate(sorted((bench / folder / "images").glob("*.jpg"))):
            meta = {k: v for k, v in rows.get(image.stem, {}).items() if v and k != "record_id"}
            records.append(SiteRecord(image.stem, image, meta, version=2 + n % 2, service="sizes"))
    return records


def run(source: str, catalog: Path, politeness: Politeness | None, ground_truth: Path) -> dict:
    started = time.perf_counter()
    report = ingest(source, catalog, politeness=politeness, collection="bench", progress=False)
    total = time.perf_counter() - started
    with open_catalog(catalog) as opened:
        summary = evaluate(Searcher(opened), ground_truth, progress=False).summary
    images = report.added + report.updated + report.unchanged
    download = report.download_seconds
    return {
        "images": images,
        "failed": len(report.failed),
        "requests": report.requests,
        "download_s": round(download, 1),
        "download_img_per_s": round(images / download, 2) if report.requests else "-",
        "total_s": round(total, 1),
        "total_img_per_s": round(images / total, 2),
        **{k: summary[k] for k in SCORES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    args = parser.parse_args()
    ground_truth = args.bench / "museum" / "ground_truth.csv"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-harvest-") as tmp:
        work = Path(tmp)
        with IIIFSite(work / "site", site_records(args.bench), page_size=100) as site:
            source = f"{site.url}/iiif/collection.json"
            for name, politeness in (
                ("IIIF, default politeness", Politeness()),
                ("IIIF, --impolite", Politeness.off()),
            ):
                rows.append(
                    {"run": name, **run(source, work / name.split(",")[1].strip(" -"), politeness, ground_truth)}
                )
                print(rows[-1], flush=True)
            before = len(site.log)
            rerun = run(source, work / "default politeness", Politeness(), ground_truth)
            statuses = sorted({e.status for e in site.log[before:] if "/full/" in e.path})
            rows.append({"run": f"IIIF re-run, nothing changed (image answers: {statuses})", **rerun})
        folder_catalog = work / "folders"
        started = time.perf_counter()
        for folder in FOLDERS:
            ingest(args.bench / folder, folder_catalog, collection="bench", progress=False)
        total = time.perf_counter() - started
        with open_catalog(folder_catalog) as opened:
            summary = evaluate(Searcher(opened), ground_truth, progress=False).summary
            images = opened.count()
        rows.append(
            {
                "run": "folders (platemark ingest DIR)",
                "images": images,
                "total_s": round(total, 1),
                "total_img_per_s": round(images / total, 2),
                **{k: summary[k] for k in SCORES},
            }
        )
    columns = ["run", "images", "failed", "requests", "download_s", "download_img_per_s", "total_s", "total_img_per_s"]
    columns += list(SCORES)
    print_table(rows, columns)
    save_results("bench_harvest", {"dataset": "bench museum + aic (554 images)", "rows": rows}, ("httpx",), "-harvest")


if __name__ == "__main__":
    main()
