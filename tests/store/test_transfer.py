"""platemark export / import: a catalog moves between the embedded and the PostgreSQL store."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from platemark.cli import cli
from platemark.search.engine import Searcher
from platemark.store import open_catalog


def snapshot(location: str, media: Path | None = None) -> list[tuple]:
    with open_catalog(location, media=media) as catalog:
        return [
            (
                r.collection,
                r.record_id,
                r.content_hash,
                r.metadata,
                r.years,
                r.global_vector.round(5).tobytes(),
                r.local.points.tobytes(),
                r.local.descriptors.tobytes(),
            )
            for r in catalog.records_with_features()
        ]


def test_export_to_postgres_and_import_back_keeps_everything(
    catalog_path: Path, new_database, tmp_path: Path, sample_images: dict
) -> None:
    runner = CliRunner()
    with open_catalog(catalog_path) as original:
        original.save_search("s1", {"top_k": 3}, {"data": []}, expires_at=time.time() + 60, photo_bytes=7)
        searches = len(list(original.saved_searches()))  # other tests may have saved some too
    url, media = new_database(), tmp_path / "pg-media"
    exported = runner.invoke(cli, ["export", url, "--catalog", str(catalog_path), "--to-media", str(media)])
    assert exported.exit_code == 0, exported.output
    assert f"copied 15 records, {searches} saved searches" in exported.output
    assert "indexed 15 records" in exported.output

    with open_catalog(url) as moved:  # the media directory was recorded
        assert moved.collections() == {"samples": 13, "second": 2}
        assert moved.get_search("s1") == original.get_search("s1")
        assert moved.get_meta("collection.samples.source") is not None
        assert all((moved.thumbs_dir / r.thumb_name).is_file() for r in moved.browse(limit=100)[0])
        response = Searcher(moved).search(sample_images["camera"])
        hit = response.results[0]
        assert hit.record.record_id == "camera" and hit.verification.verified
        assert "local_votes" in response.stages_ms  # through the copy's own word index

    back = tmp_path / "back"
    imported = runner.invoke(cli, ["import", url, "--catalog", str(back)])
    assert imported.exit_code == 0, imported.output
    assert snapshot(str(catalog_path)) == snapshot(url) == snapshot(str(back))
    assert {p.name for p in (back / "images").iterdir()} == {p.name for p in (catalog_path / "images").iterdir()}


def test_copy_into_a_catalog_that_holds_records_is_refused(catalog_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "copy"
    assert runner.invoke(cli, ["export", str(target), "--catalog", str(catalog_path)]).exit_code == 0
    again = runner.invoke(cli, ["export", str(target), "--catalog", str(catalog_path)])
    assert again.exit_code == 1 and "already holds 15 records" in again.output
    assert open_catalog(target).count() == 15
    missing = runner.invoke(cli, ["import", str(tmp_path / "nothing"), "--catalog", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "no catalog here" in missing.output
