"""`platemark duplicates`: pairs of records showing the same print, found through the word index."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from platemark.cli import cli
from platemark.errors import InvalidQuery, PlatemarkError, RecordNotFound
from platemark.index import build
from platemark.index.build import update_index
from platemark.ingest.pipeline import ingest
from platemark.search import duplicates
from platemark.search.duplicates import (
    CSV_COLUMNS,
    DuplicatesListing,
    by_group,
    decide,
    duplicate_pairs,
    find_duplicates,
    groups,
    update_duplicates,
)
from platemark.search.relation import MAX_INK_DIFFERENCE, MAX_STRETCH
from platemark.simulate.impressions import reinked
from platemark.store import open_catalog
from tests.sheets import on_damp_paper, through_a_lens


def relations(pairs) -> dict[frozenset[str], str]:
    return {frozenset((p.a.record_id, p.b.record_id)): p.relation for p in pairs}


def found_among(prints: dict[str, np.ndarray], tmp_path: Path) -> list:
    """The pairs `find_duplicates` finds among these images, ingested as one collection."""
    folder = tmp_path / "prints"
    folder.mkdir()
    for name, image in prints.items():
        Image.fromarray(image).save(folder / f"{name}.jpg", quality=90)
    ingest(folder, tmp_path / "catalog", progress=False)
    with open_catalog(tmp_path / "catalog") as catalog:
        return find_duplicates(catalog)


def test_duplicates_are_found_and_told_apart(duplicated_catalog: Path) -> None:
    with open_catalog(duplicated_catalog) as catalog:
        pairs = find_duplicates(catalog)
    assert relations(pairs) == {
        frozenset(("moon", "moon_copy")): "identical",
        frozenset(("horse", "horse_tiff")): "identical",  # same pixels, other bytes
        frozenset(("camera", "camera_rescan")): "rescan",
        frozenset(("astronaut", "astronaut_detail")): "detail",
        frozenset(("retina", "retina_impression")): "same_plate",
        frozenset(("chelsea", "chelsea_mirror")): "mirror",
        frozenset(("coffee", "page_with_coffee_block")): "overlap",
    }
    detail = next(p for p in pairs if p.relation == "detail")
    whole, part = (detail.a, detail.b) if detail.a.record_id == "astronaut" else (detail.b, detail.a)
    region = np.array(detail.region_a if detail.a is whole else detail.region_b)
    # the detail is the top right part of the whole: its region there starts a third of the way across
    assert region[:, 0].min() == pytest.approx(whole.width / 3, abs=0.05 * whole.width)
    assert region[:, 1].max() == pytest.approx(whole.height / 2, abs=0.05 * whole.height)
    assert part.record_id == "astronaut_detail"


def test_the_plate_pulled_again_is_same_plate_not_a_rescan(sample_images: dict, tmp_path: Path) -> None:
    """An engraving, its rescan, and its plate pulled again in the same colours: only the ink tells the
    second pull from the sheet."""
    astronaut = sample_images["astronaut"]
    rescan = cv2.resize(astronaut[12:-12, 12:-12], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    prints = {
        "astronaut": astronaut,
        "astronaut_rescan": np.clip(rescan * 0.9 + 20, 0, 255).astype(np.uint8),
        "astronaut_pulled_again": reinked(astronaut, np.random.default_rng(2)),
        "camera": sample_images["camera"],
        "coffee": sample_images["coffee"],
    }
    pairs = found_among(prints, tmp_path)
    assert relations(pairs) == {
        frozenset(("astronaut", "astronaut_rescan")): "rescan",
        frozenset(("astronaut", "astronaut_pulled_again")): "same_plate",
        frozenset(("astronaut_rescan", "astronaut_pulled_again")): "same_plate",
    }
    pulled = next(p for p in pairs if p.relation == "same_plate")
    assert pulled.ink_difference > MAX_INK_DIFFERENCE and pulled.colour_difference < 20


def test_the_same_lines_on_unevenly_shrunk_paper_are_same_plate_and_a_lens_bent_photo_a_rescan(
    sample_images: dict, tmp_path: Path
) -> None:
    """An engraving, a photo of it through a barrel-distorting lens, and the plate printed on paper that
    dried unevenly, inked alike: the stretch tells the other sheet where the ink cannot."""
    camera = sample_images["camera"]
    prints = {
        "camera": camera,
        "camera_through_a_lens": through_a_lens(camera, 0.02),
        "camera_on_damp_paper": on_damp_paper(camera, 0.003),
        "astronaut": sample_images["astronaut"],
        "coffee": sample_images["coffee"],
    }
    pairs = found_among(prints, tmp_path)
    assert relations(pairs) == {
        frozenset(("camera", "camera_through_a_lens")): "rescan",
        frozenset(("camera", "camera_on_damp_paper")): "same_plate",
        frozenset(("camera_through_a_lens", "camera_on_damp_paper")): "same_plate",
    }
    damp = next(p for p in pairs if {p.a.record_id, p.b.record_id} == {"camera", "camera_on_damp_paper"})
    assert damp.ink_difference < MAX_INK_DIFFERENCE and damp.stretch > MAX_STRETCH


def test_a_nearly_symmetric_print_and_its_mirror_image_are_a_mirror(sample_images: dict, tmp_path: Path) -> None:
    """Its symmetric three quarters verify the right way round too, with fewer inliers than the mirror
    image's whole sheet: the match with more inliers says how the two relate."""
    coffee = sample_images["coffee"]
    height, width = coffee.shape[:2]
    symmetric = np.concatenate([coffee[:, : width // 2], coffee[:, : width // 2][:, ::-1]], axis=1)
    symmetric[: height // 2, width // 2 :] = cv2.resize(sample_images["camera"], (width - width // 2, height // 2))
    prints = {
        "ornament": symmetric,
        "ornament_reversed": np.ascontiguousarray(symmetric[:, ::-1]),
        "astronaut": sample_images["astronaut"],
        "moon": sample_images["moon"],
    }
    pairs = found_among(prints, tmp_path)
    assert relations(pairs) == {frozenset(("ornament", "ornament_reversed")): "mirror"}


def test_a_block_shared_in_mirror_image_is_an_overlap_not_a_mirror(sample_images: dict, tmp_path: Path) -> None:
    """A page that reuses two fifths of a print, reversed: only that part agrees, as a symmetric border
    shared by two different woodcuts agrees with its own mirror image."""
    coffee = sample_images["coffee"]
    height, width = coffee.shape[:2]
    page = cv2.resize(sample_images["text"], (width, height))
    page[:, : width * 2 // 5] = coffee[:, ::-1][:, : width * 2 // 5]
    prints = {"coffee": coffee, "page": page, "camera": sample_images["camera"], "moon": sample_images["moon"]}
    pairs = found_among(prints, tmp_path)
    assert relations(pairs) == {frozenset(("coffee", "page")): "overlap"}
    assert pairs[0].inlier_coverage < 0.6


def test_groups_come_largest_then_most_certain_first_with_the_best_connected_record_first() -> None:
    from types import SimpleNamespace as Record

    def pair(a: int, b: int, relation: str = "rescan", inliers: int = 50) -> object:
        return Record(a=Record(key=a), b=Record(key=b), relation=relation, inliers=inliers)

    found = [pair(1, 2), pair(2, 3), pair(7, 8, "overlap"), pair(4, 5, "identical", 0), pair(9, 10, "overlap", 90)]
    assert groups(found) == [[2, 1, 3], [4, 5], [9, 10], [7, 8]]


def test_duplicates_command_writes_the_documented_csv(duplicated_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    result = CliRunner().invoke(cli, ["duplicates", "--catalog", str(duplicated_catalog), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 pair(s) in 7 group(s)" in result.output
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == CSV_COLUMNS and rows[0]["relation"] == "identical"
    relations_in_order = ["identical", "identical", "rescan", "detail", "same_plate", "mirror", "overlap"]
    assert [r["relation"] for r in rows] == relations_in_order
    rescan = rows[2]
    assert float(rescan["similarity"]) > 0.8 and float(rescan["inlier_coverage"]) >= 0.6
    assert float(rescan["ink_difference"]) < MAX_INK_DIFFERENCE and 0 <= float(rescan["stretch"]) < MAX_STRETCH
    assert len(json.loads(rescan["region_a"])) == 4
    unknown = CliRunner().invoke(
        cli, ["duplicates", "--catalog", str(duplicated_catalog), "--collection", "nope", "--csv", str(out)]
    )
    assert unknown.exit_code == 1 and "unknown collection" in unknown.output


@pytest.fixture
def catalog_copy(duplicated_catalog: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "catalog"
    shutil.copytree(duplicated_catalog, copy)
    return copy


def test_a_run_after_an_ingest_examines_only_the_new_records(
    catalog_copy: Path, sample_images: dict, tmp_path: Path
) -> None:
    with open_catalog(catalog_copy) as catalog:
        update_duplicates(catalog)
        assert update_duplicates(catalog).examined == 0  # nothing new
    folder = tmp_path / "more" / "images"
    folder.mkdir(parents=True)
    moon = sample_images["moon"]
    Image.fromarray(cv2.resize(moon[10:-10, 10:-10], None, fx=0.8, fy=0.8)).save(folder / "moon_rescan.jpg")
    assert ingest(folder.parent, catalog_copy, collection="prints", progress=False).added == 1
    with open_catalog(catalog_copy) as catalog:
        run = update_duplicates(catalog)
        pairs = relations(duplicate_pairs(catalog))
    assert run.examined == 1
    assert pairs[frozenset(("moon", "moon_rescan"))] == "rescan"
    assert pairs[frozenset(("moon_copy", "moon_rescan"))] == "rescan"
    assert pairs[frozenset(("camera", "camera_rescan"))] == "rescan"  # kept from the first run


def test_a_merge_during_a_run_leaves_the_records_it_moved_findable(
    catalog_copy: Path, sample_images: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_catalog(catalog_copy) as catalog:
        update_duplicates(catalog)
    folder = tmp_path / "more" / "images"
    folder.mkdir(parents=True)
    Image.fromarray(sample_images["text"]).save(folder / "a_page.jpg")  # examined first
    moon = sample_images["moon"]
    Image.fromarray(cv2.resize(moon[10:-10, 10:-10], None, fx=0.8, fy=0.8)).save(folder / "moon_rescan.jpg")
    assert ingest(folder.parent, catalog_copy, collection="prints", progress=False).added == 2
    monkeypatch.setattr(duplicates, "CHUNK", 1)
    monkeypatch.setattr(build, "FAN_IN", 2)  # the next update_index merges the new segment with the first
    with open_catalog(catalog_copy) as catalog:
        merged = []

        def merge_once() -> None:  # as an ingest would, between two records of the run
            if not merged:
                merged.append(update_index(catalog).merged)

        update_duplicates(catalog, workers=1, on_record=merge_once)
        pairs = relations(duplicate_pairs(catalog))
    assert merged == [2]
    assert pairs[frozenset(("moon", "moon_rescan"))] == "rescan"  # moon's postings moved during the run


def test_deleted_records_leave_no_pairs(catalog_copy: Path) -> None:
    with open_catalog(catalog_copy) as catalog:
        update_duplicates(catalog)
        catalog.delete("prints", ["camera_rescan"])
        assert frozenset(("camera", "camera_rescan")) not in relations(duplicate_pairs(catalog))


def test_decided_pairs_are_kept_exported_and_not_proposed_again(catalog_copy: Path, tmp_path: Path) -> None:
    with open_catalog(catalog_copy) as catalog:
        update_duplicates(catalog)
        decide(catalog, ("prints", "retina_impression"), ("prints", "retina"), "other_impression")
        undecided = relations(duplicate_pairs(catalog, undecided=True))
        decided = {p.decision for p in duplicate_pairs(catalog) if p.relation == "same_plate"}
        with pytest.raises(InvalidQuery, match="decision must be one of"):
            decide(catalog, ("prints", "retina"), ("prints", "retina_impression"), "maybe")
        with pytest.raises(RecordNotFound):
            decide(catalog, ("prints", "retina"), ("prints", "nope"), "different")
    assert frozenset(("retina", "retina_impression")) not in undecided and len(undecided) == 6
    assert decided == {"other_impression"}
    out = tmp_path / "pairs.csv"
    result = CliRunner().invoke(cli, ["duplicates", "--catalog", str(catalog_copy), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["record_b"]: r["decision"] for r in csv.DictReader(out.open())}
    assert rows["retina_impression"] == "other_impression" and rows["camera_rescan"] == ""


def test_duplicates_without_an_index_is_a_clear_error(empty_catalog) -> None:
    with (
        open_catalog(empty_catalog.location, media=empty_catalog.media, create=True) as catalog,
        pytest.raises(PlatemarkError, match="no local-feature index yet"),
    ):
        update_duplicates(catalog)


def test_worker_processes_find_the_same_pairs(catalog_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_catalog(catalog_copy) as catalog:
        update_duplicates(catalog, again=True, workers=1)
        alone = relations(duplicate_pairs(catalog))
        monkeypatch.setattr("platemark.search.duplicates.CHUNK", 4)  # 4 chunks for 2 workers
        examined = []
        run = update_duplicates(catalog, again=True, workers=2, on_record=lambda: examined.append(1))
        assert relations(duplicate_pairs(catalog)) == alone
    assert run.examined == len(examined) == 15


def test_duplicates_report_shows_each_pair_with_both_images_and_regions(
    duplicated_catalog: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "pairs.csv", tmp_path / "dups.html"
    args = ["duplicates", "--catalog", str(duplicated_catalog), "--csv", str(out), "--report", str(report)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    page = report.read_text()
    assert "7 pair(s) in 7 group(s)" in page and page.count("class='pair'") == 7
    assert page.count("data:image/jpeg;base64,") == 14 and page.count("<polygon") >= 12
    assert "same_plate" in page and "Group 7" in page


def test_listing_follows_decisions_and_deletions(catalog_copy: Path) -> None:
    def by_names(numbered) -> dict[frozenset[str], tuple[int, str | None]]:
        return {frozenset((p.a.record_id, p.b.record_id)): (group, p.decision) for group, p in numbered}

    listing = DuplicatesListing()
    impression = frozenset(("retina", "retina_impression"))
    with open_catalog(catalog_copy) as catalog:
        update_duplicates(catalog)
        first = listing.numbered(catalog)
        assert first == by_group(duplicate_pairs(catalog))
        decide(catalog, ("prints", "retina"), ("prints", "retina_impression"), "other_impression")
        decided = by_names(listing.numbered(catalog))
        assert decided[impression] == (by_names(first)[impression][0], "other_impression")
        assert {pair: group for pair, (group, _) in decided.items()} == {
            pair: group for pair, (group, _) in by_names(first).items()
        }  # group numbers stay put while curators decide
        assert impression not in by_names(listing.numbered(catalog, undecided=True))
        catalog.delete("prints", ["camera_rescan"])
        assert listing.numbered(catalog) == by_group(duplicate_pairs(catalog))
        assert frozenset(("camera", "camera_rescan")) not in by_names(listing.numbered(catalog))
