"""`platemark duplicates`: pairs of records showing the same print, found through the word index."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from platemark.cli import DUPLICATE_COLUMNS, cli
from platemark.ingest.pipeline import ingest
from platemark.search.duplicates import find_duplicates, groups
from platemark.store import open_catalog


@pytest.fixture(scope="module")
def duplicated_catalog(sample_images: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prints, a re-scan of one, a detail of another, a second copy of a file, and an unrelated print."""
    folder = tmp_path_factory.mktemp("dups") / "prints"
    (folder / "images").mkdir(parents=True)

    def save(name: str, rgb: np.ndarray) -> None:
        Image.fromarray(rgb).save(folder / "images" / f"{name}.jpg", quality=90)

    for name in ("camera", "astronaut", "moon", "coffee", "page"):
        save(name, sample_images[name])
    camera = sample_images["camera"]
    rescan = cv2.resize(camera[8:-8, 6:-6], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    save("camera_rescan", np.clip(rescan.astype(int) * 0.9 + 20, 0, 255).astype(np.uint8))
    astronaut = sample_images["astronaut"]
    height, width = astronaut.shape[:2]
    save("astronaut_detail", cv2.resize(astronaut[: height // 2, width // 3 :], None, fx=1.3, fy=1.3))
    (folder / "images" / "moon_copy.jpg").write_bytes((folder / "images" / "moon.jpg").read_bytes())
    catalog = folder.parent / "catalog"
    assert ingest(folder, catalog, progress=False).added == 8
    return catalog


def relations(pairs) -> dict[frozenset[str], str]:
    return {frozenset((p.a.record_id, p.b.record_id)): p.relation for p in pairs}


def test_duplicates_are_found_and_told_apart(duplicated_catalog: Path) -> None:
    with open_catalog(duplicated_catalog) as catalog:
        pairs = find_duplicates(catalog)
    assert relations(pairs) == {
        frozenset(("moon", "moon_copy")): "identical",
        frozenset(("camera", "camera_rescan")): "rescan",
        frozenset(("astronaut", "astronaut_detail")): "detail",
    }
    detail = next(p for p in pairs if p.relation == "detail")
    whole, part = (detail.a, detail.b) if detail.a.record_id == "astronaut" else (detail.b, detail.a)
    region = np.array(detail.region_a if detail.a is whole else detail.region_b)
    # the detail is the top right part of the whole: its region there starts a third of the way across
    assert region[:, 0].min() == pytest.approx(whole.width / 3, abs=0.05 * whole.width)
    assert region[:, 1].max() == pytest.approx(whole.height / 2, abs=0.05 * whole.height)
    assert part.record_id == "astronaut_detail"


def test_pairs_form_groups_with_the_best_connected_record_first() -> None:
    from types import SimpleNamespace as Record

    def pair(a: int, b: int) -> object:
        return Record(a=Record(key=a), b=Record(key=b))

    assert groups([pair(1, 2), pair(2, 3), pair(7, 8)]) == [[2, 1, 3], [7, 8]]


def test_duplicates_command_writes_the_documented_csv(duplicated_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    result = CliRunner().invoke(cli, ["duplicates", "--catalog", str(duplicated_catalog), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 pair(s) in 3 group(s)" in result.output
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == DUPLICATE_COLUMNS and rows[0]["relation"] == "identical"
    assert {r["relation"] for r in rows} == {"identical", "rescan", "detail"}
    unknown = CliRunner().invoke(
        cli, ["duplicates", "--catalog", str(duplicated_catalog), "--collection", "nope", "--csv", str(out)]
    )
    assert unknown.exit_code == 1 and "unknown collection" in unknown.output
