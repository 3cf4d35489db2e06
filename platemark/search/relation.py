"""What a verified match is: this very sheet, a detail of it, another impression of its plate, or its mirror.

Verification says that the photo and the record share a picture; it does not say they are one sheet.
Two pieces of evidence the match already has tell them apart:
- **coverage**: a photo of the sheet agrees wherever both show something, so the record's keypoints
  in the overlap all have an inlier nearby. A page that reuses a block, a panel of a door-god pair
  printed on its own, or a print sharing only a border agrees on a part, and the rest (other text,
  other margins, the other panel) holds no inlier at all;
- **colour**: another impression has its own inking and hand colouring. After a colour correction
  per channel (lighting, white balance, a faded scan) one sheet's colours agree within a few Lab
  units; another impression's differ where the colourist's brush went elsewhere.
Measured on real woodblock impressions and museum photos (benchmarks/bench_impressions.py): the
thresholds keep 97% of same-sheet photos as "this sheet" and tell 24 of 28 photos of other
impressions apart; an impression printed from the same block, coloured alike over the whole sheet,
looks like the sheet, and so does a reworked state of a plate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import faiss
import numpy as np

from platemark.errors import UnreadableImage
from platemark.images import load_image
from platemark.search.verify import Verification
from platemark.store.base import Catalog

#: Share of the record's keypoints in the overlap that must lie near an inlier for "this sheet": same-sheet
#: photos median 0.97-0.98 (a few below 0.6), other woodblock impressions median 0.56 (bench_impressions.py).
MIN_COVERAGE = 0.6
#: Largest colour difference (Lab a/b units, 0-255 scale, COLOUR_PERCENTILE of the pixels) after colour
#: correction for "this sheet": the museum's real photos reach 18.4, photos of other woodblock
#: impressions median 24.6 (bench_impressions.py).
MAX_COLOUR_DIFFERENCE = 20.0
#: A photo whose footprint covers less than this share of the record shows a detail of it.
DETAIL_SHARE = 0.5
#: A record keypoint agrees with the photo when an inlier lies within this share of the record's long side,
NEAR = 0.125
#: or, with few inliers, within the radius at which that many discs spread evenly would cover the
#: overlap this many times over: 26 inliers on a smooth moon photo are sparse, not a part of the sheet.
SPARSE_COVER = 3.0
#: The colour difference reported is this percentile of the pixels' a/b differences: a recoloured part
#: of the sheet shows in it, a few pixels of glare do not.
COLOUR_PERCENTILE = 90
#: Colours are compared at this long side, blurred: the hatching becomes tone, misregistration vanishes.
COLOUR_SIDE = 256


class Relation(StrEnum):
    """How a verified record relates to the sheet in the photo."""

    SAME_SHEET = "same_sheet"  # the photo shows this record's sheet
    DETAIL = "detail"  # the photo shows a part of this record's sheet
    SAME_PLATE = "same_plate"  # another impression of its plate or block, or a page reusing it
    MIRROR = "mirror"  # its mirror image: a counterproof or a reversed copy

    @property
    def claims_sheet(self) -> bool:
        """The match says the photographed sheet is this record."""
        return self in (Relation.SAME_SHEET, Relation.DETAIL)


@dataclass(frozen=True)
class Agreement:
    """Where and how well a photo agrees with a record under their verified homography."""

    coverage: float  # share of the record's keypoints in the overlap with an inlier nearby (0-1)
    colour_difference: float | None  # Lab a/b difference after colour correction (see MAX_...); None: no image
    footprint: float  # share of the record's area the photo shows (0-1)

    def relation(self, mirrored: bool = False) -> Relation:
        """The relation this evidence supports."""
        if mirrored:
            return Relation.MIRROR
        recoloured = self.colour_difference is not None and self.colour_difference > MAX_COLOUR_DIFFERENCE
        if self.coverage < MIN_COVERAGE or recoloured:
            return Relation.SAME_PLATE
        return Relation.DETAIL if self.footprint < DETAIL_SHARE else Relation.SAME_SHEET


def agreement(
    photo: np.ndarray,
    photo_size: tuple[int, int],
    reference: np.ndarray | None,
    reference_size: tuple[int, int],
    reference_points: np.ndarray,
    verification: Verification,
) -> Agreement:
    """Measure how a verified photo agrees with the record it matched.

    Args:
        photo: the photo (RGB), at any size; `photo_size` is the (width, height) the verification's
            coordinates refer to.
        reference: the record's image (RGB), at any size, or None when it cannot be read (colour is then
            not compared); `reference_size` is the (width, height) of the verification's coordinates.
        reference_points: (N, 2) the record's keypoints, in `reference_size` coordinates.
        verification: a verified match (its region, query region and inlier positions).
    """
    if verification.region is None or verification.query_region is None:
        raise ValueError("agreement needs a verified match")
    return Agreement(
        _coverage(reference_points, verification.inlier_points, verification.region, reference_size),
        None if reference is None else _colour_difference(photo, photo_size, reference, verification.query_region),
        _area(verification.region) / float(reference_size[0] * reference_size[1]),
    )


def thumbnail(catalog: Catalog, name: str) -> np.ndarray | None:
    """A record's thumbnail (by `StoredRecord.thumb_name`), the `reference` colours are compared on;
    None if it cannot be read."""
    try:
        return load_image(catalog.thumbs_dir / name)
    except UnreadableImage:
        return None


def _coverage(points: np.ndarray, inliers: np.ndarray, footprint: list[list[float]], size: tuple[int, int]) -> float:
    """Share of the record's keypoints inside the photo's footprint that lie near an inlier."""
    points = points[_inside(points, np.float32(footprint))] if len(points) else points
    if not len(points):
        return 1.0  # nothing in the overlap to disagree with
    if not len(inliers):
        return 0.0
    reach = max(NEAR * max(size), np.sqrt(SPARSE_COVER * _area(footprint) / (np.pi * len(inliers))))
    nearest = faiss.knn(np.float32(points), np.float32(inliers), 1)[0].ravel()  # squared distances
    return float((nearest <= reach**2).mean())


def _inside(points: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Which (N, 2) points lie inside a polygon ((K, 2) corners), by counting the edges a ray to the
    right crosses: one pass per edge for all points, where OpenCV tests one point per call."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), bool)
    for (x1, y1), (x2, y2) in zip(outline, np.roll(outline, -1, axis=0), strict=True):
        spans = (y1 > y) != (y2 > y)
        crossing = x1 + (y - y1) * (x2 - x1) / np.where(y2 == y1, 1.0, y2 - y1)
        inside ^= spans & (x < crossing)
    return inside


def _colour_difference(
    photo: np.ndarray,
    photo_size: tuple[int, int],
    reference: np.ndarray,
    outline_in_photo: list[list[float]],
) -> float:
    """The a/b difference (COLOUR_PERCENTILE of pixels) between the record and the photo warped onto
    it, after fitting each of the photo's colour channels to the record's with a gain and an offset:
    a colour map per channel takes out lighting, white balance and fading, but cannot turn one
    part's red into blue while it keeps another part red."""
    scale = COLOUR_SIDE / max(reference.shape[:2])
    width, height = max(1, round(reference.shape[1] * scale)), max(1, round(reference.shape[0] * scale))
    small = cv2.resize(reference, (width, height), interpolation=cv2.INTER_AREA)
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    photo_scale = np.diag([photo_size[0] / photo.shape[1], photo_size[1] / photo.shape[0], 1.0])
    onto = cv2.getPerspectiveTransform(np.float32(outline_in_photo), corners) @ photo_scale
    warped = cv2.warpPerspective(photo, onto, (width, height), flags=cv2.INTER_AREA)
    shown = cv2.warpPerspective(np.full(photo.shape[:2], 255, np.uint8), onto, (width, height))
    shown = cv2.erode(shown, np.ones((5, 5), np.uint8)) > 0
    if shown.sum() < 50:
        return 0.0
    record, seen = (cv2.GaussianBlur(image.astype(np.float32) / 255, (0, 0), 2) for image in (small, warped))
    # a gain and an offset per channel (least squares): lighting, white balance, fading; not a repaint
    x, y = seen[shown], record[shown]
    spread = x.var(axis=0)
    gain = np.where(
        spread > 0, ((x - x.mean(axis=0)) * (y - y.mean(axis=0))).mean(axis=0) / np.maximum(spread, 1e-12), 0
    )
    corrected = np.clip(seen * gain + (y.mean(axis=0) - gain * x.mean(axis=0)), 0, 1).astype(np.float32)
    record_ab, corrected_ab = (cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[shown][:, 1:] for image in (record, corrected))
    a, b = np.abs(record_ab - corrected_ab).T
    difference = np.maximum(a, b) * 255 / 256  # float Lab a/b span ±127
    return round(float(np.percentile(difference, COLOUR_PERCENTILE)), 2)


def _area(outline: list[list[float]]) -> float:
    return float(abs(cv2.contourArea(np.float32(outline))))
