"""Ingest of a collection folder full of hostile entries: each is named, every good one is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from hostile import good_image_entries, hostile_image_entries, hostile_metadata_entries
from PIL import Image

from platemark.cli import cli
from platemark.ingest.pipeline import ingest
from platemark.store import open_catalog


def test_ingest_names_every_hostile_entry_and_keeps_every_good_one(tmp_path: Path, sample_images: dict) -> None:
    folder = tmp_path / "collection"
    images, metadata = folder / "images", folder / "metadata"
    images.mkdir(parents=True)
    metadata.mkdir()
    Image.fromarray(sample_images["clock"]).save(tmp_path / "outside.png")  # a real image outside the folder
    good, bad_images, bad_csvs = good_image_entries(sample_images), hostile_image_entries(), hostile_metadata_entries()
    for name, make in [*good.items(), *bad_images.items()]:
        make(images / name)
    (images / "etc").symlink_to("/etc")  # a linked folder
    os.mkfifo(images / "pipe.png")
    bad_images["etc"] = bad_images["pipe.png"] = None
    undecodable = os.fsencode(images) + b"/\xff\xfe-latin1.jpg"
    with open(undecodable, "wb") as handle:
        handle.write(b"\xff\xd8")
    for name, make in bad_csvs.items():
        make(metadata / name)
    assert len(bad_images) + 1 + len(bad_csvs) >= 60

    report = ingest(folder, tmp_path / "catalog", workers=2, progress=False)

    failed = {Path(path).name for path, _ in report.failed}
    assert set(bad_images) <= failed, sorted(set(bad_images) - failed)
    assert any("\\xff\\xfe-latin1.jpg" in path for path, _ in report.failed), "a name that is not UTF-8"
    assert not failed & set(good), sorted(failed & set(good))
    for name in bad_csvs:
        assert any(name in problem for problem in report.problems), f"{name} is not reported"
    assert "javascript:" not in str(report.problems).replace("'javascript:alert(document.cookie)'", "")
    with open_catalog(tmp_path / "catalog") as catalog:
        stored = {record.record_id for record in catalog.browse(None, 0, 100)[0]}
        assert stored == {Path(name).stem for name in good}
        assert "root:" not in str([catalog.find("collection", r).metadata for r in stored])
    assert not report.ok


def test_two_images_given_one_record_id_by_the_metadata_keep_the_first(tmp_path: Path, sample_images: dict) -> None:
    folder = tmp_path / "col"
    (folder / "images").mkdir(parents=True)
    for name in ("a", "b", "c"):
        Image.fromarray(sample_images[{"a": "coins", "b": "moon", "c": "chelsea"}[name]]).save(
            folder / "images" / f"{name}.jpg"
        )
    (folder / "metadata.csv").write_text("filename,record_id,title\na.jpg,INV-1,First\nb.jpg,INV-1,Second\n")
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert report.added == 2
    assert [(Path(p).name, m) for p, m in report.failed] == [
        ("b.jpg", f"record id 'INV-1' (from the metadata) is already used by {folder / 'images' / 'a.jpg'}")
    ]
    again = ingest(folder, tmp_path / "cat", progress=False)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2), "a re-run does not swap them"
    with open_catalog(tmp_path / "cat") as catalog:
        assert catalog.find("col", "INV-1").metadata["title"] == "First"


def test_a_second_metadata_row_for_an_image_is_reported_not_merged(tmp_path: Path, sample_images: dict) -> None:
    folder = tmp_path / "col"
    (folder / "images").mkdir(parents=True)
    Image.fromarray(sample_images["coins"]).save(folder / "images" / "coins.jpg")
    (folder / "metadata.csv").write_text("record_id,title,person\ncoins,Coins,Someone\ncoins,Other title,\n")
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert any("line 3: a second row for 'coins' (first at" in p for p in report.problems)
    with open_catalog(tmp_path / "cat") as catalog:
        assert catalog.find("col", "coins").metadata == {"title": "Coins", "person": "Someone"}


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_killed_ingest_leaves_no_worker_processes(tmp_path: Path, sample_images: dict) -> None:
    folder = tmp_path / "col" / "images"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for n in range(40):  # enough to start a pool of workers
        Image.fromarray(np.roll(sample_images["camera"], int(rng.integers(0, 500)), axis=1)).save(folder / f"{n}.jpg")
    command = [sys.executable, "-m", "platemark", "ingest", str(folder.parent), "--catalog", str(tmp_path / "cat")]
    process = subprocess.Popen([*command, "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = [pid for pid in _children(process.pid) if "spawn" in Path(f"/proc/{pid}/cmdline").read_text()]
        time.sleep(0.2)
    assert len(workers) >= 2, "the ingest started its workers"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "the workers ended with the ingest"


def test_batch_csv_never_writes_a_spreadsheet_formula(tmp_path: Path, sample_images: dict) -> None:
    folder = tmp_path / "col"
    (folder / "images").mkdir(parents=True)
    Image.fromarray(sample_images["coins"]).save(folder / "images" / "coins.jpg")
    (folder / "metadata.csv").write_text('record_id,title\ncoins,"=HYPERLINK(""http://evil.example"",""click"")"\n')
    ingest(folder, tmp_path / "cat", progress=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(sample_images["coins"]).save(photos / "-2+3.jpg")
    out = tmp_path / "matches.csv"
    result = CliRunner().invoke(cli, ["search", str(photos), "--catalog", str(tmp_path / "cat"), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    cells = [cell for line in out.read_text().splitlines()[1:] for cell in line.split(",")]
    assert not [cell for cell in cells if cell.lstrip('"')[:1] in ("=", "+", "-", "@")], cells
    assert "'=HYPERLINK" in out.read_text()
