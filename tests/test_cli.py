from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from web_support import free_port

from platemark.cli import cli
from platemark.simulate.photos import PhotoSettings, phone_photo
from platemark.store import open_catalog


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, sample_images: dict) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for seed, name in enumerate(("camera", "coins", "moon")):
        photo = phone_photo(sample_images[name], np.random.default_rng(seed), PhotoSettings(quarter_turn=0))
        Image.fromarray(photo).save(folder / f"{name}.jpg")
    (folder / "ground_truth.csv").write_text("query,record_ids\ncamera.jpg,camera\ncoins.jpg,coins\nmoon.jpg,moon\n")
    return folder


def test_search_json_is_the_documented_contract(runner: CliRunner, catalog_path: Path, photos: Path) -> None:
    result = runner.invoke(
        cli, ["search", str(photos / "camera.jpg"), "--catalog", str(catalog_path), "--json", "--top", "3"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert {"query", "results", "elapsed_ms"} <= set(payload)
    top = payload["results"][0]
    assert top["record_id"] == "camera" and top["verified"] is True and top["inliers"] >= 18
    assert top["metadata"]["title"] == "The cameraman"


def test_search_folder_writes_one_csv_row_per_photo(
    runner: CliRunner, catalog_path: Path, photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "matches.csv"
    result = runner.invoke(cli, ["search", str(photos), "--catalog", str(catalog_path), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("query,record_id,collection,verified")
    assert {line.split(",")[1] for line in lines[1:]} == {"camera", "coins", "moon"}


def test_evaluate_json_has_contract_keys(runner: CliRunner, catalog_path: Path, photos: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = runner.invoke(
        cli,
        [
            "evaluate",
            str(photos / "ground_truth.csv"),
            "--catalog",
            str(catalog_path),
            "--json",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == {
        "queries",
        "recall@1",
        "recall@5",
        "recall@10",
        "mAP",
        "answered_right",
        "not_in_collection_rejected",
        "not_in_collection_same_plate",
        "false_verified",
        "any_wrong_verified",
        "latency_ms_p50",
        "latency_ms_p95",
    }
    assert summary["recall@1"] == summary["answered_right"] == 1.0
    assert summary["false_verified"] == summary["any_wrong_verified"] == 0.0
    assert "<svg" in report.read_text()


def test_info_lists_collections(runner: CliRunner, catalog_path: Path) -> None:
    result = runner.invoke(cli, ["info", "--catalog", str(catalog_path), "--json"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["collections"] == {"samples": 13, "second": 2}
    assert info["extractors"]["global"].startswith("efficientnet-lite0")
    assert info["index"]["indexed"] == 15 and info["index"]["postings_mb"] > 0


def test_index_command_indexes_what_a_killed_ingest_left(runner: CliRunner, catalog_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "catalog"
    shutil.copytree(catalog_path, copy)
    with open_catalog(copy) as catalog:
        catalog.execute("DELETE FROM indexed WHERE record IN (SELECT id FROM records WHERE collection = 'second')")
    result = runner.invoke(cli, ["index", "--catalog", str(copy)])
    assert result.exit_code == 0 and "indexed 2 record(s)" in result.output
    again = runner.invoke(cli, ["index", "--catalog", str(copy)])
    assert again.exit_code == 0 and "indexed 0 record(s)" in again.output


def test_index_command_builds_a_deleted_global_index_again(
    runner: CliRunner, catalog_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "catalog"
    shutil.copytree(catalog_path, copy)
    for saved in (copy / "index").glob("global-*"):
        saved.unlink()
    result = runner.invoke(cli, ["index", "--catalog", str(copy)])
    assert result.exit_code == 0 and list((copy / "index").glob("global-*.faiss"))


def test_ingest_exits_1_and_lists_bad_files(runner: CliRunner, tmp_path: Path, sample_images: dict) -> None:
    (tmp_path / "col" / "images").mkdir(parents=True)
    Image.fromarray(sample_images["moon"]).save(tmp_path / "col" / "images" / "moon.png")
    (tmp_path / "col" / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    result = runner.invoke(cli, ["ingest", str(tmp_path / "col"), "--catalog", str(tmp_path / "cat")])
    assert result.exit_code == 1
    assert "1 added" in result.output and "broken.jpg" in result.output
    assert open_catalog(tmp_path / "cat").count() == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "{photo}", "--catalog", "{tmp}/nothing"], "no catalog here"),
        (["search", "{tmp}/notes.txt", "--catalog", "{catalog}"], "not an image platemark reads"),
        (["search", "{photo}", "--catalog", "{catalog}", "--collection", "nope"], "unknown collection"),
        (["evaluate", "{tmp}/notes.txt", "--catalog", "{catalog}"], "expected columns query,record_ids"),
        (["ingest", "{tmp}/empty", "--catalog", "{tmp}/cat"], "no images found"),
        (["index", "--catalog", "{tmp}/nothing"], "no catalog here"),
    ],
    ids=["missing-catalog", "not-an-image", "unknown-collection", "bad-ground-truth", "empty-collection", "index"],
)
def test_bad_input_gives_message_not_traceback(
    runner: CliRunner, tmp_path: Path, catalog_path: Path, photos: Path, args: list[str], message: str
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    values = {"photo": photos / "moon.jpg", "tmp": tmp_path, "catalog": catalog_path}
    result = runner.invoke(cli, [a.format(**values) for a in args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "{photos}", "--catalog", "{catalog}", "--csv", "{tmp}/missing/out.csv"],
        ["evaluate", "{tmp}/gt.csv", "--catalog", "{catalog}", "--report", "{tmp}/missing/report.html"],
        ["duplicates", "--catalog", "{catalog}", "--csv", "{tmp}/missing/pairs.csv"],
        ["ingest", "{photos}", "--catalog", "{tmp}/cat", "--report", "{tmp}/missing/failed.csv"],
    ],
    ids=["search-csv", "evaluate-report", "duplicates-csv", "ingest-report"],
)
def test_an_output_file_in_a_missing_folder_is_refused_before_any_work(
    runner: CliRunner, tmp_path: Path, catalog_path: Path, photos: Path, args: list[str]
) -> None:
    (tmp_path / "gt.csv").write_text("query,record_ids\n")
    values = {"photos": photos, "tmp": tmp_path, "catalog": catalog_path}
    result = runner.invoke(cli, [a.format(**values) for a in args])
    assert result.exit_code == 2 and f"{tmp_path / 'missing'} is not a folder that exists" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "cat").exists()  # nothing was ingested


@pytest.fixture
def serve_stops_at_uvicorn(monkeypatch) -> dict:
    """`serve` runs up to `uvicorn.run`, which records its keyword arguments and the settings a worker
    would read, and waits (at most 60 s) for the word index's preload instead of serving. The
    PLATEMARK_* variables serve sets for its workers are restored afterwards."""
    import threading

    import uvicorn

    from platemark.settings import Settings

    for name in ("PLATEMARK_CATALOG", "PLATEMARK_MAX_UPLOAD_MB", "PLATEMARK_SEARCHES_PER_WORKER"):
        monkeypatch.delenv(name, raising=False)
    seen: dict = {}

    def run(*args, **kwargs) -> None:
        seen.update(settings=Settings(), kwargs=kwargs)
        for thread in threading.enumerate():
            if thread.name == "platemark-preload":
                thread.join(timeout=60)

    monkeypatch.setattr(uvicorn, "run", run)
    return seen


@pytest.mark.parametrize("workers, per_worker", [(1, "2"), (2, "1")])
def test_serve_runs_one_thread_per_search_and_as_many_searches_as_cores(
    catalog_path, monkeypatch, serve_stops_at_uvicorn: dict, workers: int, per_worker: str
) -> None:
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    port = str(free_port())
    result = CliRunner().invoke(
        cli, ["serve", "--catalog", str(catalog_path), "--workers", str(workers), "--port", port]
    )
    assert result.exit_code == 0, result.output
    seen = serve_stops_at_uvicorn
    assert seen["settings"].search_threads == 1 and seen["settings"].searches_per_worker == int(per_worker)
    assert seen["kwargs"]["http"].endswith("GuardedH11Protocol")


@pytest.mark.parametrize("preload", [True, False])
def test_serve_reads_the_word_index_into_the_file_cache_unless_told_not_to(
    catalog_path, serve_stops_at_uvicorn: dict, preload: bool
) -> None:
    flag = "--preload" if preload else "--no-preload"
    result = CliRunner().invoke(cli, ["serve", "--catalog", str(catalog_path), "--port", str(free_port()), flag])
    assert result.exit_code == 0, result.output
    with open_catalog(str(catalog_path)) as catalog:
        postings_mb = catalog.index_info()["postings_mb"]
    assert postings_mb > 0
    preloaded = f"word index preloaded: {postings_mb:.1f} MB of posting lists in "
    assert (preloaded in result.output) is preload, result.output


def test_serve_leaves_a_word_index_larger_than_half_the_memory_on_the_disk_and_says_so(
    catalog_path, monkeypatch, serve_stops_at_uvicorn: dict
) -> None:
    import os

    monkeypatch.setattr(os, "sysconf", lambda name: 1 if name == "SC_PAGE_SIZE" else 1000)  # 1000 bytes
    result = CliRunner().invoke(cli, ["serve", "--catalog", str(catalog_path), "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert (
        "word index not preloaded: its 0.0 GB of posting lists are more than half this machine's 0.0 GB"
        in result.output
    )
    assert "word index preloaded" not in result.output


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PLATEMARK_IIIF_VIEWER", "javascript:alert(1)", "PLATEMARK_IIIF_VIEWER: Value error, must be an http(s) URL"),
        ("PLATEMARK_SEARCH_QUEUE", "-1", "PLATEMARK_SEARCH_QUEUE: Input should be greater than or equal to 0"),
    ],
)
def test_serve_refuses_a_bad_setting_with_its_name(
    catalog_path, monkeypatch, serve_stops_at_uvicorn: dict, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["serve", "--catalog", str(catalog_path), "--port", str(free_port())])
    assert result.exit_code == 1 and message in result.output and not serve_stops_at_uvicorn
