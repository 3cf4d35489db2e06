from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from platemark.simulate.dataset import simulate
from platemark.simulate.hatching import hatched_print


def test_hatched_print_is_monochrome_line_work(sample_images: dict) -> None:
    engraving = hatched_print(sample_images["chelsea"], np.random.default_rng(0), long_side=400)
    grey = engraving.mean(axis=2)
    assert np.ptp(engraving.astype(int), axis=2).max() < 40, "ink and paper, no colours"
    assert ((grey < 90).mean() > 0.1) and ((grey > 200).mean() > 0.2), "dark lines on light paper"


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
