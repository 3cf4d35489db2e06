"""Harvesting IIIF and CSV sources from a real HTTP server on 127.0.0.1 (tests/iiif_site.py)."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from iiif_site import IIIFSite, SiteRecord

from platemark.cli import cli
from platemark.images import load_image
from platemark.ingest.fetch import Politeness
from platemark.ingest.pipeline import ingest
from platemark.store import open_catalog

FAST = Politeness(per_host=4, delay=0.0, timeout=5.0, retries=1, backoff=0.1)
#: How each sample record is published: (Presentation/Image API version, service).
LAYOUTS = [(2, "dynamic"), (3, "dynamic"), (2, "static"), (3, "static"), (3, "tiles")]


@pytest.fixture
def site(sample_collection, tmp_path: Path):
    folder, _ = sample_collection
    images = sorted((folder / "images").glob("*.png"))[:6]
    records = [
        SiteRecord(
            path.stem,
            path,
            {"title": f"Title of {path.stem}", "person": "Anon.", "date": "c. 1650"},
            *LAYOUTS[i % len(LAYOUTS)],
            canvas_scale=2.0 if i == 1 else 1.0,
        )
        for i, path in enumerate(images)
    ]
    with IIIFSite(tmp_path / "site", records) as running:
        yield running


def records_of(catalog_path: Path, collection: str) -> dict:
    with open_catalog(catalog_path) as catalog:
        rows, _ = catalog.browse(limit=1000)
    return {r.record_id: r for r in rows if r.collection == collection}


def test_ingest_harvests_a_paged_collection_of_v2_and_v3_manifests(site: IIIFSite, tmp_path: Path) -> None:
    report = ingest(f"{site.url}/iiif/collection.json", tmp_path / "cat", politeness=FAST, progress=False)
    assert report.ok and report.added == len(site.records), report.failed
    assert report.collection == "Test Print Room"
    assert len(site.requests_to(r"/collection/page/")) == 2  # 6 manifests, 4 per page
    records = records_of(tmp_path / "cat", "Test Print Room")
    assert set(records) == set(site.records)
    first, second = sorted(site.records)[:2]
    assert records[first].metadata == {
        "title": f"Title of {first}",
        "person": "Anon.",
        "date": "c. 1650",
        "inventory_number": f"INV-{first}",  # HTML stripped
        "credit_line": "Test Print Room",
        "image_licence": "https://creativecommons.org/publicdomain/zero/1.0/",
        "record_url": f"https://museum.example/records/{first}",
    }
    assert records[second].metadata["dimensions"] == "10 x 12 cm"  # unknown labels kept as extra metadata
    assert records[second].metadata["institution"] == "Test Print Room"
    assert records[first].year_min == 1650
    link = records[second].iiif
    assert link.manifest == site.manifest_url(second) and link.canvas.endswith("/canvas/p1")
    assert (link.service.version, link.service.level) == (3, 2)


def test_nested_collection_that_links_back_is_walked_once(site: IIIFSite, tmp_path: Path) -> None:
    report = ingest(f"{site.url}/iiif/3/collection.json", tmp_path / "cat", politeness=FAST, progress=False)
    assert report.ok and report.added == len(site.records)
    assert len(site.requests_to(r"/iiif/3/collection\.json")) == 1 and len(site.requests_to(r"/iiif/3/sub\.json")) == 1
    assert all(len(site.requests_to(f"/{rid}/manifest")) == 1 for rid in site.records)


@pytest.mark.parametrize("layout", ["dynamic", "static", "tiles"])
def test_each_image_api_layout_gives_the_image_itself(site: IIIFSite, tmp_path: Path, layout: str) -> None:
    record_id = next(r.record_id for r in site.records.values() if r.service == layout)
    ingest(site.manifest_url(record_id), tmp_path / "cat", politeness=FAST, progress=False)
    stored = records_of(tmp_path / "cat", "127.0.0.1:" + site.url.rsplit(":", 1)[1])[record_id]
    with open_catalog(tmp_path / "cat") as catalog:
        harvested = load_image(catalog.images_dir / stored.thumb_name)
    original = load_image(site.records[record_id].image)
    assert harvested.shape == original.shape
    assert np.abs(harvested.astype(int) - original.astype(int)).mean() < 4  # JPEG noise only
    if layout == "tiles":
        assert len(site.requests_to(rf"/static/{record_id}/\d+,\d+,\d+,\d+/")) > 1


def test_harvest_keeps_to_its_politeness(site: IIIFSite, tmp_path: Path) -> None:
    polite = Politeness(per_host=2, delay=0.1, timeout=5.0)
    site.latency = 0.15
    ingest(f"{site.url}/iiif/collection.json", tmp_path / "cat", politeness=polite, progress=False)
    assert site.max_in_flight <= 2
    starts = sorted(entry.started for entry in site.log)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Seen by the server, whose threads start a few ms late now and then on a busy machine; without
    # the delay two requests would start together (gap ~0).
    assert min(gaps) >= 0.06 and sum(gaps) / len(gaps) >= 0.095
    assert all(entry.user_agent.startswith("platemark/") for entry in site.log)


def test_rerun_asks_only_whether_images_changed_and_fetches_the_changed_one(
    site: IIIFSite, sample_collection, tmp_path: Path
) -> None:
    source = f"{site.url}/iiif/collection.json"
    ingest(source, tmp_path / "cat", politeness=FAST, progress=False)
    site.log.clear()
    again = ingest(source, tmp_path / "cat", politeness=FAST, progress=False)
    assert again.unchanged == len(site.records) and again.added == again.updated == 0
    image_requests = [e for e in site.log if "/image/" in e.path or "/plain/" in e.path]
    assert image_requests and all(e.status == 304 for e in image_requests if "/dynamic/" in e.path)
    assert all("info.json" not in e.path for e in image_requests)
    assert not any(e.status == 200 for e in image_requests)

    changed = next(r for r in site.records.values() if r.service == "dynamic")
    changed.image = sorted((sample_collection[0] / "images").glob("*.png"))[-1]
    site.log.clear()
    third = ingest(source, tmp_path / "cat", politeness=FAST, progress=False)
    assert (third.updated, third.unchanged) == (1, len(site.records) - 1)
    assert [e.path for e in site.log if e.status == 200 and "/image/" in e.path] == [
        e.path for e in site.log if f"/dynamic/{changed.record_id}/full" in e.path
    ]


def test_prune_drops_records_gone_from_the_source_but_not_when_part_of_it_failed(
    site: IIIFSite, tmp_path: Path
) -> None:
    source = f"{site.url}/iiif/collection.json"
    ingest(source, tmp_path / "cat", politeness=FAST, progress=False)
    gone = sorted(site.records)[0]
    site.remove(gone)
    listing = tmp_path / "manifests.txt"
    listing.write_text("\n".join([*(site.manifest_url(r) for r in site.records), f"{site.url}/iiif/broken.json"]))
    partial = ingest(
        listing, tmp_path / "cat", collection="Test Print Room", prune=True, politeness=FAST, progress=False
    )
    assert partial.pruned == 0 and "nothing was pruned" in " ".join(partial.problems)
    assert gone in records_of(tmp_path / "cat", "Test Print Room")
    full = ingest(source, tmp_path / "cat", prune=True, politeness=FAST, progress=False)
    assert full.pruned == 1 and set(records_of(tmp_path / "cat", "Test Print Room")) == set(site.records)


@pytest.mark.parametrize("outage", [r"^/image/", r"^/iiif/"])
def test_an_outage_loses_nothing_already_indexed(site: IIIFSite, tmp_path: Path, outage: str) -> None:
    source = f"{site.url}/iiif/collection.json"
    ingest(source, tmp_path / "cat", politeness=FAST, progress=False)
    before = records_of(tmp_path / "cat", "Test Print Room")
    site.failing = outage
    result = CliRunner().invoke(
        cli, ["ingest", source, "--catalog", str(tmp_path / "cat"), "--prune", "--delay", "0", "--retries", "1"]
    )
    assert result.exit_code == 1 and "503" in result.output, result.output
    after = records_of(tmp_path / "cat", "Test Print Room")
    assert {k: (r.content_hash, r.metadata) for k, r in after.items()} == {
        k: (r.content_hash, r.metadata) for k, r in before.items()
    }


def test_emuseumplus_csv_of_image_urls_is_harvested(site: IIIFSite, tmp_path: Path) -> None:
    report = ingest(f"{site.url}/export.csv", tmp_path / "cat", politeness=FAST, progress=False)
    assert report.ok and report.added == len(site.records) and report.collection == "export"
    records = records_of(tmp_path / "cat", "export")
    dynamic = next(r for r in site.records.values() if r.service == "dynamic")
    assert records[dynamic.record_id].metadata["title"] == f"Title of {dynamic.record_id}"
    assert records[dynamic.record_id].iiif.service.id == site.service_url(dynamic)  # an Image API URL keeps its service
    assert records[dynamic.record_id].iiif.service.width == dynamic.size[0]
    plain = next(r for r in site.records.values() if r.service != "dynamic")
    assert records[plain.record_id].iiif is None


FAULTS = {
    "missing": "HTTP 404",
    "slow": "no answer within 1 s",
    "truncated": "connection failed",
    "html": "expected image/, got text/html",
    "loop": "more than 5 redirects",
    "huge": "larger than 5 MB",
    "endless": "larger than 5 MB",
    "bomb": "image too large",
    "broken": "corrupt or truncated image",
}


def test_faults_are_listed_per_record_and_transient_ones_recovered(site: IIIFSite, tmp_path: Path) -> None:
    site.slow_seconds = 3.0
    rows = [(f"ok-{kind}", f"{site.url}/fault/{kind}/{kind}.jpg") for kind in ("flaky", "busy")]
    rows += [(kind, f"{site.url}/fault/{kind}/{kind}.jpg") for kind in FAULTS]
    export = tmp_path / "export.csv"
    with open(export, "w", newline="") as handle:
        csv.writer(handle).writerows([("recordID", "imageURL"), *rows])
    polite = Politeness(per_host=4, delay=0.0, timeout=1.0, retries=1, backoff=0.1, max_bytes=5_000_000)
    started = time.monotonic()
    report = ingest(export, tmp_path / "cat", politeness=polite, progress=False)
    assert time.monotonic() - started < 60
    failed = {entry.split(" ")[0]: why for entry, why in report.failed}
    assert set(failed) == set(FAULTS)
    for kind, message in FAULTS.items():
        assert message in failed[kind], (kind, failed[kind])
    assert report.added == 2  # flaky (500, then OK) and busy (429, then OK) came through
    busy = site.requests_to("/fault/busy/")
    assert len(busy) == 2 and busy[1].started - busy[0].ended >= 0.95  # waited as Retry-After asked


def test_cli_reports_failed_manifests_in_a_file_and_exits_1(site: IIIFSite, tmp_path: Path) -> None:
    listing = tmp_path / "manifests.txt"
    good = site.manifest_url(sorted(site.records)[0])
    listing.write_text(f"# our prints\n{good}\n{site.url}/iiif/broken.json\n{site.url}/iiif/3/nothing/manifest.json\n")
    report_csv = tmp_path / "failures.csv"
    result = CliRunner().invoke(
        cli,
        [
            *("ingest", str(listing), "--catalog", str(tmp_path / "cat")),
            *("--delay", "0", "--per-host", "1", "--report", str(report_csv)),
        ],
    )
    assert result.exit_code == 1, result.output
    assert site.max_in_flight == 1
    assert "1 added" in result.output and "2 failed" in result.output
    assert "broken.json: not JSON" in result.output and "HTTP 404" in result.output
    with open(report_csv) as handle:
        rows = list(csv.DictReader(handle))
    assert {row["entry"] for row in rows} == {
        f"{site.url}/iiif/broken.json",
        f"{site.url}/iiif/3/nothing/manifest.json",
    }


def test_a_remote_collection_cannot_make_the_harvest_read_local_files(site: IIIFSite, tmp_path: Path) -> None:
    secret = site.root / "secret.json"
    manifest = site.manifest(site.records[sorted(site.records)[1]])
    secret.write_text(json.dumps({**manifest, "label": {"en": ["the admin's secret"]}}))
    report = ingest(
        f"{site.url}/iiif/prying.json", tmp_path / "cat", collection="prying", politeness=FAST, progress=False
    )
    assert report.added == 1 and len(report.failed) == 2
    assert all("not an http(s) URL" in why for _, why in report.failed)
    titles = [r.metadata.get("title") for r in records_of(tmp_path / "cat", "prying").values()]
    assert titles == [f"Title of {sorted(site.records)[0]}"]


def test_unknown_source_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "nothing.xml"), "--catalog", str(tmp_path / "cat")])
    assert result.exit_code == 1 and "not a source platemark can read" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "cat").exists()


def test_killed_harvest_resumes_and_ends_with_exactly_the_sources_records(site: IIIFSite, tmp_path: Path) -> None:
    source = f"{site.url}/iiif/collection.json"
    command = [sys.executable, "-m", "platemark", "ingest", source, "--catalog", str(tmp_path / "cat")]
    site.latency = 0.4
    process = subprocess.Popen(
        [*command, "--per-host", "1", "--delay", "0"], stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while len([e for e in site.log if e.status == 200 and "/plain/" not in e.path and "/image/" in e.path]) < 3:
        assert time.monotonic() < deadline and process.poll() is None, "the harvest ended before it was killed"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    fetched_before = {e.path for e in site.log if e.status == 200 and "/image/" in e.path}
    site.latency = 0.0
    site.log.clear()
    resumed = subprocess.run([*command, "--delay", "0"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert set(records_of(tmp_path / "cat", "Test Print Room")) == set(site.records)
    fetched_again = {e.path for e in site.log if e.status == 200 and "/image/" in e.path}
    refetched = {path for path in fetched_before & fetched_again if "/full/" in path}
    assert len(refetched) <= 1, refetched  # only an image in flight when the harvest was killed
    assert any(e.status == 304 for e in site.log)


def test_harvest_from_a_host_that_is_down_reports_every_record_quickly(tmp_path: Path) -> None:
    from web_support import free_port

    port = free_port()  # nothing listens there
    export = tmp_path / "export.csv"
    with open(export, "w", newline="") as handle:
        csv.writer(handle).writerows(
            [("record_id", "image_url"), *((f"r{i}", f"http://127.0.0.1:{port}/{i}.jpg") for i in range(40))]
        )
    started = time.monotonic()
    report = ingest(export, tmp_path / "cat", politeness=Politeness(retries=2, backoff=0.05, delay=0.0), progress=False)
    assert time.monotonic() - started < 30
    assert len(report.failed) == 40 and report.added == 0
    assert "cannot connect" in report.failed[0][1]
    assert sum("reached no server" in why for _, why in report.failed) >= 20
    assert report.requests < 60  # 40 records x 3 attempts each, were every one tried
