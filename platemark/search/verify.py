"""Geometric verification: a homography fitted with MAGSAC decides "same object" and locates it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

#: Inliers needed to call a match verified. Calibrated on the museum benchmark: wrong
#: records reach at most ~12 inliers after the sanity checks, true ones mostly 30+.
VERIFIED_INLIERS = 18
#: Inliers a wrong record reaches by chance: 99% of the wrong results of the bench_scale photos at 1k
#: records have at most 6 (median 5). Below verification, inliers up to this say nothing.
CHANCE_INLIERS = 6

MIN_CORRESPONDENCES = 8


@dataclass(frozen=True)
class Verification:
    """Outcome of fitting a homography from query photo to reference image."""

    inliers: int
    region: list[list[float]] | None  # photo's footprint in the reference image, 4 corners
    query_region: list[list[float]] | None  # reference's outline in the photo, 4 corners
    #: (N, 2) positions of the inliers in the reference image: where photo and reference agree.
    inlier_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32), compare=False, repr=False)
    mirrored: bool = False  # found in the mirror image of the photo
    #: median distance of the inliers from where the homography puts them, share of the reference's long side
    residual: float = field(default=0.0, compare=False)

    @property
    def verified(self) -> bool:
        return self.inliers >= VERIFIED_INLIERS and self.region is not None

    def score(self, similarity: float) -> float:
        """What results are ranked by: a verified match's inliers plus its global similarity (0-1);
        an unverified one's similarity plus how far its inliers got from chance towards verification
        (0-1), so that one chance inlier more does not outrank a far more similar print."""
        if self.verified:
            return round(self.inliers + similarity, 4)
        beyond_chance = max(0, self.inliers - CHANCE_INLIERS) / (VERIFIED_INLIERS - CHANCE_INLIERS)
        return round(similarity + beyond_chance, 4)

    def flipped(self, photo_width: int) -> Verification:
        """The same match for the left-right mirror of the photo it was found in."""
        if self.query_region is None:
            return self
        return replace(self, query_region=[[round(photo_width - x, 1), y] for x, y in self.query_region], mirrored=True)


NOT_VERIFIED = Verification(0, None, None)


def verify(
    query_points: np.ndarray,
    reference_points: np.ndarray,
    query_size: tuple[int, int],
    reference_size: tuple[int, int],
) -> Verification:
    """Fit a homography to tentative correspondences and count the inliers.

    Degenerate fits (collapsed, self-crossing or absurdly scaled quadrilaterals) count
    as no match, because random correspondences in repetitive hatching can otherwise
    gather a few dozen "inliers" on a line.

    Args:
        query_points, reference_points: (M, 2) matched positions in photo and reference.
        query_size, reference_size: (width, height) of photo and reference image.
    """
    if len(query_points) < MIN_CORRESPONDENCES:
        return NOT_VERIFIED
    ref_w, ref_h = reference_size
    threshold = max(2.0, 0.006 * max(ref_w, ref_h))
    homography, mask = cv2.findHomography(
        query_points.astype(np.float32),
        reference_points.astype(np.float32),
        cv2.USAC_MAGSAC,
        threshold,
        maxIters=2000,
        confidence=0.999,
    )
    if homography is None or mask is None:
        return NOT_VERIFIED
    inlier_mask = mask.ravel().astype(bool)
    inliers = int(inlier_mask.sum())
    ref_corners = corners(ref_w, ref_h)
    try:
        photo_outline = cv2.perspectiveTransform(ref_corners, np.linalg.inv(homography))[:, 0]
    except np.linalg.LinAlgError:
        return NOT_VERIFIED
    footprint = cv2.perspectiveTransform(corners(*query_size), homography)[:, 0]
    if not _plausible(photo_outline, query_size) or not _spread(reference_points[inlier_mask], reference_size):
        return Verification(min(inliers, VERIFIED_INLIERS - 1), None, None)
    region = np.column_stack([np.clip(footprint[:, 0], 0, ref_w), np.clip(footprint[:, 1], 0, ref_h)])
    placed = cv2.perspectiveTransform(query_points[inlier_mask].reshape(-1, 1, 2).astype(np.float32), homography)
    residual = float(np.median(np.linalg.norm(placed[:, 0] - reference_points[inlier_mask], axis=1)))
    return Verification(
        inliers,
        _rounded(region),
        _rounded(photo_outline),
        reference_points[inlier_mask],
        residual=round(residual / max(ref_w, ref_h), 5),
    )


def corners(width: float, height: float) -> np.ndarray:
    """An image's four corners, clockwise from the top left, shaped (4, 1, 2) as OpenCV's point
    functions take them."""
    return np.array([[[0, 0]], [[width, 0]], [[width, height]], [[0, height]]], np.float32)


def _plausible(outline: np.ndarray, query_size: tuple[int, int]) -> bool:
    """Is the reference's outline in the photo a convex quadrilateral of sensible size?"""
    if not np.all(np.isfinite(outline)):
        return False
    if not cv2.isContourConvex(outline.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(outline.astype(np.float32))
    photo_area = query_size[0] * query_size[1]
    return photo_area * 0.002 < area < photo_area * 400


def _spread(points: np.ndarray, reference_size: tuple[int, int]) -> bool:
    """Inliers must cover some area of the reference, not sit on one line or blob."""
    if len(points) < 4:
        return False
    hull = cv2.convexHull(points.astype(np.float32))
    return cv2.contourArea(hull) > 0.002 * reference_size[0] * reference_size[1]


def _rounded(points: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in points]
