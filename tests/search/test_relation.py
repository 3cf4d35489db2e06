"""Each verified hit says whether the photo shows the record's sheet, a detail of it, another
impression of its plate, or its mirror image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from platemark.search.engine import Searcher, SearchHit
from platemark.search.relation import MAX_INK_DIFFERENCE, MAX_STRETCH, Relation, _inside, compare_lines
from platemark.simulate.impressions import reinked
from platemark.simulate.photos import PhotoSettings, phone_photo
from tests.sheets import on_damp_paper, through_a_lens

STEADY = PhotoSettings(detail_crop=0, quarter_turn=0, glare=0, frame=0)


def hit_on(searcher: Searcher, photo: np.ndarray, record_id: str) -> SearchHit:
    hits = [h for h in searcher.search(photo).results if h.record.record_id == record_id]
    assert hits and hits[0].verification.verified, f"{record_id} not verified"
    return hits[0]


@pytest.mark.parametrize("name", ["camera", "astronaut", "page"])
def test_photo_of_the_sheet_is_the_same_sheet(searcher: Searcher, sample_images: dict, name: str) -> None:
    hit = hit_on(searcher, phone_photo(sample_images[name], np.random.default_rng(5), STEADY), name)
    assert hit.relation == Relation.SAME_SHEET and hit.claims_sheet
    assert hit.to_dict()["relation"] == "same_sheet"


def test_photo_of_a_part_of_the_sheet_is_a_detail(searcher: Searcher, sample_images: dict) -> None:
    image = sample_images["hubble_deep_field"]
    height, width = image.shape[:2]
    detail = cv2.resize(image[height // 3 : height * 5 // 6, width // 4 : width * 3 // 4], None, fx=1.5, fy=1.5)
    hit = hit_on(searcher, detail, "hubble_deep_field")
    assert hit.relation == Relation.DETAIL and hit.claims_sheet


def test_mirror_image_of_the_sheet_is_a_mirror_not_the_sheet(searcher: Searcher, sample_images: dict) -> None:
    mirrored = np.ascontiguousarray(sample_images["astronaut"][:, ::-1])
    hit = hit_on(searcher, phone_photo(mirrored, np.random.default_rng(3), STEADY), "astronaut")
    assert hit.relation == Relation.MIRROR and not hit.claims_sheet


def test_page_reusing_only_a_block_of_the_record_is_same_plate(searcher: Searcher, sample_images: dict) -> None:
    """A chapbook page with the record's block at its left and other text beside it: the rest of
    the record's sheet is not on the page."""
    block = sample_images["astronaut"]
    height, width = block.shape[:2]
    page = cv2.resize(sample_images["page"], (width, height))
    page[:, : width * 2 // 5] = block[:, : width * 2 // 5]
    hit = hit_on(searcher, phone_photo(page, np.random.default_rng(2), STEADY), "astronaut")
    assert hit.relation == Relation.SAME_PLATE and not hit.claims_sheet
    assert hit.agreement is not None and hit.agreement.coverage < 0.5


def test_impression_coloured_otherwise_is_same_plate(searcher: Searcher, sample_images: dict) -> None:
    """The same lines, coloured by another hand: the left half's colours are swapped."""
    impression = sample_images["retina"].copy()
    half = impression.shape[1] // 2
    impression[:, :half] = impression[:, :half, ::-1]
    hit = hit_on(searcher, phone_photo(impression, np.random.default_rng(4), STEADY), "retina")
    assert hit.relation == Relation.SAME_PLATE and not hit.claims_sheet


def test_few_inliers_on_a_smooth_print_still_make_the_sheet(searcher: Searcher, sample_images: dict) -> None:
    """The demo's photo of the moon: 26 inliers on craters, smooth ground between them."""
    hit = hit_on(searcher, phone_photo(sample_images["moon"], np.random.default_rng(5)), "moon")
    assert hit.relation == Relation.SAME_SHEET


@pytest.mark.parametrize("name", ["camera", "coffee"])
def test_another_pull_of_the_plate_differs_in_ink_where_a_rescan_does_not(sample_images: dict, name: str) -> None:
    """Two catalogue images of one engraving: a rescan (cropped, smaller, lighter, recompressed) keeps
    its lines; the plate pulled again (fatter and broken lines, other paper, stretched) does not."""
    image = sample_images[name]
    height, width = image.shape[:2]
    rescan = cv2.resize(image[10:-10, 10:-10], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    rescan = cv2.imdecode(cv2.imencode(".jpg", np.clip(rescan * 0.9 + 20, 0, 255).astype(np.uint8))[1], 1)
    in_rescan = [[-7, -7], [width * 0.7 - 7, -7], [width * 0.7 - 7, height * 0.7 - 7], [-7, height * 0.7 - 7]]
    rescan_size = (rescan.shape[1], rescan.shape[0])
    assert compare_lines(rescan, rescan_size, image, (width, height), in_rescan).ink_difference < MAX_INK_DIFFERENCE / 3
    whole = [[0, 0], [width, 0], [width, height], [0, height]]
    pulled = reinked(image, np.random.default_rng(1))
    assert compare_lines(image, (width, height), pulled, (width, height), whole).ink_difference > MAX_INK_DIFFERENCE


@pytest.mark.parametrize("name", ["camera", "coffee"])
def test_damp_paper_stretches_the_lines_where_a_lens_only_bends_them(sample_images: dict, name: str) -> None:
    """The same lines on paper that dried unevenly (3 px on 860) are another sheet, though inked alike; a
    photo through a lens that bends the sheet three times as far at its corners is the same sheet."""
    image = sample_images[name]
    height, width = image.shape[:2]
    whole = [[0, 0], [width, 0], [width, height], [0, height]]
    damp = compare_lines(image, (width, height), on_damp_paper(image, 0.003), (width, height), whole)
    assert damp.stretch > 2 * MAX_STRETCH and damp.ink_difference < MAX_INK_DIFFERENCE and damp.pulled_again
    lens = compare_lines(image, (width, height), through_a_lens(image, 0.02), (width, height), whole)
    assert lens.stretch < MAX_STRETCH / 2 and not lens.pulled_again


def test_line_comparison_gives_up_quietly_on_odd_geometry() -> None:
    """Slivers, specks, outlines far off the image or folded flat: no comparison, and no crash (OpenCV's
    optical flow segfaulted on a strip a few pixels high)."""
    rng = np.random.default_rng(1)
    for _ in range(300):
        (h1, w1), (h2, w2) = rng.integers(4, 500, 2), rng.integers(4, 500, 2)
        image, other = (rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in ((h1, w1), (h2, w2)))
        corners = np.float32([[0, 0], [w1, 0], [w1, h1], [0, h1]])
        outline = corners * rng.uniform(0.01, 3) + rng.normal(0, rng.uniform(0, 200), (4, 2))
        found = compare_lines(image, (int(w1), int(h1)), other, (int(w2), int(h2)), outline.tolist())
        assert found is None or found.ink_difference is None or 0 <= found.ink_difference <= 2
        assert found is None or found.stretch is None or found.stretch >= 0
    strip = rng.integers(0, 255, (12, 400, 3), dtype=np.uint8)
    assert compare_lines(strip, (400, 12), strip, (400, 12), [[0, 0], [400, 0], [400, 12], [0, 12]]) is None


def test__inside_agrees_with_opencv_on_footprints() -> None:
    rng = np.random.default_rng(4)
    for _ in range(50):
        outline = cv2.convexHull(rng.uniform(0, 1000, (6, 2)).astype(np.float32)).reshape(-1, 2)
        points = rng.uniform(-100, 1100, (500, 2)).astype(np.float32)
        contour = outline.reshape(-1, 1, 2)
        expected = [cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in points]
        assert _inside(points, outline).tolist() == expected
