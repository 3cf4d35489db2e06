from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from catalogs import BACKENDS
from PIL import Image

from platemark.errors import PlatemarkError
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.store import open_catalog

GOOD = ("coins", "moon", "chelsea")


def write_collection(folder: Path, images: dict[str, np.ndarray], names: tuple[str, ...] = GOOD) -> Path:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(images[name]).save(folder / "images" / f"{name}.jpg", quality=92)
    return folder


def test_ingest_skips_bad_files_and_reports_them(tmp_path: Path, sample_images: dict, bomb_png: Path) -> None:
    folder = write_collection(tmp_path / "col", sample_images)
    jpeg = (folder / "images" / "coins.jpg").read_bytes()
    (folder / "images" / "empty.jpg").write_bytes(b"")
    (folder / "images" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (folder / "images" / "notes.png").write_bytes(b"these are notes, not a picture")
    (folder / "images" / "bomb.png").write_bytes(bomb_png.read_bytes())
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert report.added == len(GOOD)
    failed = {Path(path).name: message for path, message in report.failed}
    assert set(failed) == {"empty.jpg", "truncated.jpg", "notes.png", "bomb.png"}
    assert "empty" in failed["empty.jpg"] and "decompression bomb" in failed["bomb.png"]
    assert not report.ok


def test_ingest_accepts_unusual_image_modes(tmp_path: Path, sample_images: dict) -> None:
    folder = tmp_path / "col"
    (folder / "images" / "sub").mkdir(parents=True)
    image = Image.fromarray(sample_images["chelsea"])
    image.convert("CMYK").save(folder / "images" / "cmyk.jpg")
    image.convert("P").save(folder / "images" / "sub" / "palette.gif")
    image.convert("RGBA").save(folder / "images" / "alpha.png")
    Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257).save(folder / "images" / "deep.png")
    exif = Image.Exif()
    exif[0x0112] = 8
    image.save(folder / "images" / "rotated.jpg", exif=exif)
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert report.ok and report.added == 5
    with open_catalog(tmp_path / "cat") as catalog:
        rotated = catalog.find("col", "rotated")
        assert (rotated.width, rotated.height) == (image.height, image.width)


def test_metadata_joins_by_id_not_row_order(tmp_path: Path, sample_images: dict) -> None:
    folder = write_collection(tmp_path / "col", sample_images)
    (folder / "metadata.csv").write_text(
        "recordID,title,date\nmoon,The Moon,c. 1710\nchelsea,A Cat,1600–50\ncoins,Coins,\nghost,No image,\n",
        encoding="utf-8",
    )
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert any("ghost" in p for p in report.problems)
    with open_catalog(tmp_path / "cat") as catalog:
        assert catalog.find("col", "moon").metadata == {"title": "The Moon", "date": "c. 1710"}
        assert catalog.find("col", "chelsea").metadata["title"] == "A Cat"
        year = catalog.execute("SELECT year_min, year_max FROM records WHERE record_id = 'chelsea'").fetchone()
        assert year == (1600, 1650)


def test_unusable_metadata_is_reported_and_images_still_indexed(tmp_path: Path, sample_images: dict) -> None:
    folder = write_collection(tmp_path / "col", sample_images)
    (folder / "metadata.csv").write_text("title,person\nA,B\n")
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert report.added == len(GOOD)
    assert any("no id column" in p for p in report.problems)


def test_reingest_processes_only_new_or_changed_images(tmp_path: Path, sample_images: dict) -> None:
    folder = write_collection(tmp_path / "col", sample_images)
    assert ingest(folder, tmp_path / "cat", progress=False).added == 3
    again = ingest(folder, tmp_path / "cat", progress=False)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    Image.fromarray(sample_images["coffee"]).save(folder / "images" / "moon.jpg")
    changed = ingest(folder, tmp_path / "cat", progress=False)
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 2)
    with open_catalog(tmp_path / "cat") as catalog:
        assert catalog.count() == 3


def test_prune_removes_records_whose_image_is_gone(tmp_path: Path, sample_images: dict) -> None:
    folder = write_collection(tmp_path / "col", sample_images)
    ingest(folder, tmp_path / "cat", progress=False)
    (folder / "images" / "moon.jpg").unlink()
    assert ingest(folder, tmp_path / "cat", progress=False).pruned == 0
    assert ingest(folder, tmp_path / "cat", prune=True, progress=False).pruned == 1
    with open_catalog(tmp_path / "cat") as catalog:
        assert catalog.find("col", "moon") is None and catalog.count() == 2
        assert len(list(catalog.thumbs_dir.glob("*.jpg"))) == 2


def test_placeholder_images_are_dropped_even_when_resized(tmp_path: Path, sample_images: dict) -> None:
    folder = write_collection(tmp_path / "col", sample_images)
    placeholder = Image.fromarray(sample_images["text"])
    (folder / "images_to_remove").mkdir()
    placeholder.save(folder / "images_to_remove" / "no_image_available.png")
    placeholder.resize((placeholder.width // 2, placeholder.height // 2)).save(
        folder / "images" / "record_without_photo.jpg", quality=60
    )
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert report.placeholders_removed == 1 and report.added == len(GOOD)


def test_interrupted_ingest_resumes_without_loss_or_duplicates(tmp_path: Path, sample_images: dict) -> None:
    names = ("coins", "moon", "chelsea", "coffee", "page")
    folder = write_collection(tmp_path / "col", sample_images, names)

    def stop_after_two(record_id: str, seen: list[str] = []) -> None:  # noqa: B006
        seen.append(record_id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(folder, tmp_path / "cat", progress=False, on_record=stop_after_two)
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert (report.added, report.unchanged) == (3, 2)
    searcher = Searcher(open_catalog(tmp_path / "cat"))
    assert searcher.catalog.count() == 5
    assert searcher.search(sample_images["page"]).results[0].record.record_id == "page"


def ingest_command(folder: Path, where, *extra: str) -> list[str]:
    return [sys.executable, "-m", "platemark", "ingest", str(folder), *where.cli_args(), *extra]


def _count(where) -> int:
    try:
        with open_catalog(where.location, media=where.media) as catalog:
            return catalog.count()
    except PlatemarkError:
        return 0


@pytest.mark.parametrize("empty_catalog", BACKENDS, indirect=True)
def test_killed_ingest_process_leaves_consistent_catalog(empty_catalog, tmp_path: Path, sample_images: dict) -> None:
    where = empty_catalog
    names = tuple(sample_images)
    folder = write_collection(tmp_path / "col", sample_images, names)
    process = subprocess.Popen(
        ingest_command(folder, where, "--workers", "1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _count(where) < 3:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = _count(where)
    assert 3 <= interrupted < len(names), "the process was killed part-way"
    report = ingest(folder, where.location, media=where.media, progress=False)
    assert report.unchanged == interrupted and report.added == len(names) - interrupted
    with open_catalog(where.location, media=where.media) as store:
        assert store.count() == len(names)
        assert store.execute("SELECT count(*) FROM features").fetchone()[0] == len(names)
        assert sorted(store.content_hashes("col")) == sorted(names)


@pytest.mark.parametrize("empty_catalog", BACKENDS, indirect=True)
def test_concurrent_ingests_neither_lose_nor_duplicate_and_search_keeps_working(
    empty_catalog, tmp_path: Path, sample_images: dict
) -> None:
    where = empty_catalog
    names = ("astronaut", "camera", "chelsea", "coffee", "moon", "page", "coins", "clock")
    folder = write_collection(tmp_path / "col", sample_images, names)
    first = write_collection(tmp_path / "first", sample_images, ("camera", "page"))
    ingest(first, where.location, media=where.media, collection="col", progress=False)
    searcher = Searcher(open_catalog(where.location, media=where.media))
    processes = [
        subprocess.Popen(ingest_command(folder, where, "--workers", "1"), stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    searches = 0
    while any(p.poll() is None for p in processes):
        assert searcher.search(sample_images["page"]).results[0].record.record_id == "page"
        searches += 1
    assert [p.wait() for p in processes] == [0, 0], [p.stderr.read() for p in processes]
    assert searches >= 3
    with open_catalog(where.location, media=where.media) as store:
        assert store.count() == len(names) and sorted(store.content_hashes("col")) == sorted(names)
        assert store.execute("SELECT count(*) FROM features").fetchone()[0] == len(names)
    assert (
        Searcher(open_catalog(where.location, media=where.media))
        .search(sample_images["clock"])
        .results[0]
        .record.record_id
        == "clock"
    )


def test_ingest_reads_folder_without_images_subfolder(tmp_path: Path, sample_images: dict) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    buffer = io.BytesIO()
    Image.fromarray(sample_images["moon"]).save(buffer, "PNG")
    (folder / "moon.png").write_bytes(buffer.getvalue())
    assert ingest(folder, tmp_path / "cat", progress=False).added == 1


def test_placeholders_listed_later_remove_already_indexed_records(tmp_path: Path, sample_images: dict) -> None:
    folder = write_collection(tmp_path / "col", sample_images)
    Image.fromarray(sample_images["text"]).save(folder / "images" / "no_photo_yet.jpg")
    assert ingest(folder, tmp_path / "cat", progress=False).added == len(GOOD) + 1
    (folder / "images_to_remove").mkdir()
    Image.fromarray(sample_images["text"]).resize((224, 86)).save(folder / "images_to_remove" / "placeholder.png")
    report = ingest(folder, tmp_path / "cat", progress=False)
    assert report.placeholders_removed == 1 and report.unchanged == len(GOOD)
    with open_catalog(tmp_path / "cat") as catalog:
        assert catalog.find("col", "no_photo_yet") is None and catalog.count() == len(GOOD)
