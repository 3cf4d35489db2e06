from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from platemark.simulate.dataset import simulate
from platemark.simulate.hatching import hatched_print
from platemark.simulate.impressions import reinked


def test_hatched_print_is_monochrome_line_work(sample_images: dict) -> None:
    engraving = hatched_print(sample_images["chelsea"], np.random.default_rng(0), long_side=400)
    grey = engraving.mean(axis=2)
    assert np.ptp(engraving.astype(int), axis=2).max() < 40, "ink and paper, no colours"
    assert ((grey < 90).mean() > 0.1) and ((grey > 200).mean() > 0.2), "dark lines on light paper"


def test_another_pull_keeps_the_lines_and_leaves_the_sheets_stains_behind() -> None:
    """A woodcut on a stained sheet pulled again: its lines print where they were, the stain (a faint
    mark of that sheet, not of the block) does not."""
    sheet = np.full((400, 400, 3), (225, 205, 170), np.uint8)  # tan paper
    stain = np.zeros((400, 400), bool)
    stain[40:140, 40:360] = True
    sheet[stain] = (200, 182, 150)  # a tide mark, 11% darker than the paper around it
    lines = np.zeros((400, 400), bool)
    for x in range(60, 360, 40):
        lines[200:360, x : x + 6] = True  # broad lines, in the unstained lower half
    sheet[lines] = (40, 30, 25)
    pulled = reinked(sheet, np.random.default_rng(3)).mean(axis=2)
    between = np.roll(lines, 20, axis=1)  # the paper halfway between two lines
    assert pulled[lines].mean() < 0.5 * pulled[between].mean(), "the lines are printed"
    assert abs(pulled[stain].mean() - pulled[between].mean()) < 6, "the stain is not"


def test_simulate_is_seeded(tmp_path: Path, sample_collection: tuple) -> None:
    folder, _ = sample_collection
    first = simulate(folder, tmp_path / "a", queries=3, seed=5, progress=False)
    second = simulate(folder, tmp_path / "b", queries=3, seed=5, progress=False)
    assert first.ground_truth.read_text() == second.ground_truth.read_text()
    assert (tmp_path / "a/queries/00000.jpg").read_bytes() == (tmp_path / "b/queries/00000.jpg").read_bytes()


def test_simulate_hatched_holds_out_unknown_prints(tmp_path: Path, sample_collection: tuple) -> None:
    folder, images = sample_collection
    result = simulate(folder, tmp_path / "sim", queries=4, unknown=2, hatch=True, seed=1, progress=False)
    rows = list(csv.DictReader(result.ground_truth.open()))
    assert len(rows) == 6 and sum(not r["record_ids"] for r in rows) == 2
    assert len(list((result.collection / "images").glob("*.jpg"))) == len(images) - 2
    assert all((tmp_path / "sim" / r["query"]).is_file() for r in rows)
