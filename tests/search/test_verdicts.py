"""Verdicts: one answer, other prints also in the photo, companions of the same part only related."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.search.verdicts import Verdict, overlap, verdicts
from platemark.search.verify import NOT_VERIFIED, Verification
from platemark.simulate.photos import PhotoSettings, phone_photo
from platemark.store import open_catalog

LEFT = [[0, 0], [100, 0], [100, 100], [0, 100]]
RIGHT = [[200, 0], [300, 0], [300, 100], [200, 100]]
LEFT_AGAIN = [[5, 5], [95, 5], [95, 95], [5, 95]]


def verified(outline: list[list[float]], inliers: int = 100) -> Verification:
    return Verification(inliers, [[0, 0], [10, 0], [10, 10], [0, 10]], outline)


def test_best_verified_is_the_answer_and_another_part_of_the_photo_is_also_in_it() -> None:
    found = verdicts([verified(LEFT, 175), verified(RIGHT, 40), NOT_VERIFIED])
    assert found == [Verdict.ANSWER, Verdict.ALSO_IN_PHOTO, Verdict.CANDIDATE]


def test_a_companion_matched_on_the_same_part_is_only_related() -> None:
    assert verdicts([verified(LEFT, 175), verified(LEFT_AGAIN, 18)]) == [Verdict.ANSWER, Verdict.RELATED]
    assert not Verdict.RELATED.claims_match and Verdict.ALSO_IN_PHOTO.claims_match


def test_overlap_is_the_share_of_the_smaller_outline() -> None:
    assert overlap(LEFT, LEFT_AGAIN) == 1.0
    assert overlap(LEFT, RIGHT) == 0.0
    half = [[50, 0], [150, 0], [150, 100], [50, 100]]
    assert abs(overlap(LEFT, half) - 0.5) < 1e-6


def test_search_calls_a_second_impression_of_the_same_picture_related(sample_images: dict, tmp_path: Path) -> None:
    images = sample_images
    collection = tmp_path / "prints" / "images"
    collection.mkdir(parents=True)
    camera = images["camera"]
    Image.fromarray(camera).save(collection / "camera.png")
    height, width = camera.shape[:2]
    Image.fromarray(camera[: height * 3 // 4, : width * 3 // 4]).save(collection / "camera-trimmed.png")
    Image.fromarray(images["coffee"]).save(collection / "coffee.png")
    ingest(tmp_path / "prints", tmp_path / "cat", progress=False)
    photo = phone_photo(camera, np.random.default_rng(3), PhotoSettings(quarter_turn=0, detail_crop=0))
    results = Searcher(open_catalog(tmp_path / "cat")).search(photo).results
    verdict = {h.record.record_id: h.verdict for h in results}
    assert results[0].record.record_id == "camera" and verdict["camera"] == Verdict.ANSWER
    assert verdict["camera-trimmed"] == Verdict.RELATED
    assert verdict["coffee"] == Verdict.CANDIDATE
