"""platemark export / import: a catalog moves between the embedded and the PostgreSQL store."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from click.testing import CliRunner

from platemark.cli import cli
from platemark.search.duplicates import decide, duplicate_pairs, update_duplicates
from platemark.search.engine import Searcher
from platemark.store import open_catalog
from platemark.store.transfer import _copy_duplicate_pairs


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
    assert f"copied 15 records, {searches} saved searches, " in exported.output
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


def pairs_by_name(location: Path) -> dict[frozenset, tuple]:
    """Each duplicate pair by its records' names: relation, decision, and each record's region and share."""
    with open_catalog(location) as catalog:
        return {
            frozenset((p.a.record_id, p.b.record_id)): (
                p.relation,
                p.decision,
                {p.a.record_id: (p.region_a, p.coverage_a), p.b.record_id: (p.region_b, p.coverage_b)},
            )
            for p in duplicate_pairs(catalog)
        }


def test_export_keeps_answers_decisions_and_duplicate_pairs(duplicated_catalog: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(duplicated_catalog, source)
    with open_catalog(source) as catalog:
        update_duplicates(catalog)
        decide(catalog, ("prints", "retina"), ("prints", "retina_impression"), "other_impression")
        catalog.save_search("s1", {"top_k": 3}, {"data": []}, expires_at=time.time() + 60, photo_bytes=7)
        catalog.save_feedback("s1", "prints", "camera", "this", time.time())
        answers = catalog.feedback()
    target = tmp_path / "target"
    exported = CliRunner().invoke(cli, ["export", str(target), "--catalog", str(source)])
    assert exported.exit_code == 0, exported.output
    assert "1 answers, 7 duplicate pairs, 1 decisions" in exported.output
    assert pairs_by_name(target) == pairs_by_name(source)
    with open_catalog(target) as moved:
        assert moved.feedback() == answers
        assert update_duplicates(moved).examined == 0  # the pairs came along: nothing to examine again


def test__copy_duplicate_pairs_renumbers_records_and_swaps_their_evidence(
    duplicated_catalog: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    shutil.copytree(duplicated_catalog, source)
    target = tmp_path / "target"
    with open_catalog(source) as original, open_catalog(target, create=True) as moved:
        update_duplicates(original)
        moved.insert_many(reversed(list(original.records_with_features())))  # keys in the other order
        assert _copy_duplicate_pairs(original, moved) == 7
        assert all(a < b for a, b, *_ in moved.duplicate_rows())  # as a later run finds and updates them
    assert pairs_by_name(target) == pairs_by_name(source)
