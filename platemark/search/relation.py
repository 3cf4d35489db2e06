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
Two catalogue images are also compared line by line (`compare_lines`; `platemark duplicates` only: a
phone photo is too blurred and too unevenly lit for it): a sheet's lines are where they were
in any photograph of it, while another pull of the block spreads or starves them anew
(`ink_difference`), on paper that was damped for the press and shrank unevenly as it dried
(`stretch`: what is left once a smooth lens distortion is taken out).
Measured on real woodblock impressions and museum photos (benchmarks/bench_impressions.py): the
thresholds keep 97% of same-sheet photos as "this sheet" and tell 24 of 28 photos of other
impressions apart; an impression printed from the same block, coloured alike over the whole sheet,
looks like the sheet, and so does a reworked state of a plate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import faiss
import numpy as np

from platemark.errors import UnreadableImage
from platemark.images import load_image
from platemark.search.verify import Verification, corners
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
#: Largest ink difference between two images of one sheet. Measured (benchmarks/bench_duplicates.py) on
#: the vetted woodcut pairs: 11 real pairs of one sheet photographed or derived twice reach 0.052 (a
#: digitally smoothed copy; second photos of a panel 0.045), the three real other impressions or states
#: 0.065 (behind glass), 0.097 and 0.132; rescans and details made here stay below 0.02.
MAX_INK_DIFFERENCE = 0.06
#: Lines are compared at half the lower-resolution image's pixels (`cv2.pyrDown`): at full resolution
#: JPEG noise and the camera's sharpening differ more between two photos of one sheet than ink does;
#: in tiles of this many pixels, each correlated on its own: uneven lighting and focus stay local.
INK_TILE = 16
#: Fewer tiles with detail than this say nothing (a sliver of overlap, a blank sheet).
MIN_INK_TILES = 12
#: Blurs tried on either image before comparing, so that a softer photo is not taken for thinner lines.
INK_BLURS = (0.0, 0.5, 1.0, 1.5)
#: Largest stretch (share of the long side) between two images of one sheet. Measured
#: (benchmarks/bench_duplicates.py): the real pairs of one sheet photographed or derived twice reach
#: 0.00038 (the museum's painting catalogued twice; the woodcuts' smoothed derivative 0.00037, second
#: photos of a panel 0.00020), rescans and details made here 0.00040; impressions simulated on damp
#: paper stretched by up to 0.3% measure 0.00052-0.0050. The three real other impressions or states
#: measure 0.00032-0.00046: their ink tells them.
MAX_STRETCH = 0.00045
#: A cubic distortion has ten terms per axis: fewer detailed tiles than this would fit anything.
MIN_STRETCH_TILES = 40
#: The distortion is fitted as an affine map, then a quadratic, then a cubic, each to the tiles the fit
#: before left within STRAY times their median distance.
STRETCH_FITS = (1, 1, 1, 2, 3, 3, 3)
STRAY = 3.0


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
    return _readable(catalog.thumbs_dir / name)


def display_image(catalog: Catalog, name: str) -> np.ndarray | None:
    """A record's display image (by `StoredRecord.thumb_name`), the one its keypoints were found on and
    ink is compared on; None if it cannot be read."""
    return _readable(catalog.images_dir / name)


def _readable(path: Path) -> np.ndarray | None:
    try:
        return load_image(path)
    except UnreadableImage:
        return None


@dataclass(frozen=True)
class LineComparison:
    """How two catalogue images of one picture compare line by line (see `compare_lines`)."""

    ink_difference: float | None  # 0 (the same lines) to 1 (unrelated); None: too few detailed tiles
    stretch: float | None  # share of the long side; None: too few detailed tiles to fit a distortion

    @property
    def pulled_again(self) -> bool:
        """The lines are the same block's or plate's, printed anew: other inking, or other paper."""
        return (self.ink_difference is not None and self.ink_difference > MAX_INK_DIFFERENCE) or (
            self.stretch is not None and self.stretch > MAX_STRETCH
        )


def compare_lines(
    image: np.ndarray,
    image_size: tuple[int, int],
    other: np.ndarray,
    other_size: tuple[int, int],
    outline: list[list[float]],
) -> LineComparison | None:
    """Compare two images of one picture line by line, once the sharper image is laid onto the other by
    their homography and a dense optical flow (damp paper and lenses bend it); None when the outline
    is degenerate or the overlap too small.

    - `ink_difference`: one minus the median correlation of their fine detail, tile by tile, once the
      tones are matched;
    - `stretch`: how far the flow moves the lines once a smooth lens distortion is taken out of it.

    Args:
        image, other: the two images (RGB), at any size; `image_size` and `other_size` are the (width,
            height) the outline's coordinates refer to.
        outline: `other`'s four corners in `image` (unclipped, as `Verification.query_region`).
    """
    aligned = _aligned(image, image_size, other, other_size, outline)
    if aligned is None:
        return None
    target, laid, shown, flow = aligned
    # fine detail (linear: a blur of the detail is the detail of the blur)
    first, second = (
        im - cv2.GaussianBlur(im, (0, 0), 3) for im in (target.astype(np.float32), _tones_matched(laid, target, shown))
    )
    differences = [_tile_difference(first, second, shown)] + [
        _tile_difference(*pair, shown)
        for blur in INK_BLURS[1:]
        for pair in ((cv2.GaussianBlur(first, (0, 0), blur), second), (first, cv2.GaussianBlur(second, (0, 0), blur)))
    ]
    known = [d for d in differences if d is not None]
    return LineComparison(round(min(known), 3) if known else None, _stretch(first, flow, shown))


def _aligned(
    image: np.ndarray,
    image_size: tuple[int, int],
    other: np.ndarray,
    other_size: tuple[int, int],
    outline: list[list[float]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The overlap of the two images in grey, halved: the lower-resolution image's part, the sharper
    laid onto it by their homography and a dense optical flow, where it lies (eroded), and that flow
    refined at full resolution (the displacement at each pixel); None when the outline is degenerate
    or the overlap too small for MIN_INK_TILES tiles."""
    to_image = cv2.getPerspectiveTransform(corners(*other_size), np.float32(outline))
    pixels = [
        np.diag([im.shape[1] / w, im.shape[0] / h, 1.0]) for im, (w, h) in ((image, image_size), (other, other_size))
    ]
    to_image = pixels[0] @ to_image @ np.linalg.inv(pixels[1])  # other's pixels -> image's pixels
    footprint = cv2.perspectiveTransform(corners(other.shape[1], other.shape[0]), to_image)[:, 0]
    spread = abs(cv2.contourArea(footprint)) if np.isfinite(footprint).all() else 0.0
    if spread < (2 * INK_TILE) ** 2 or abs(np.linalg.det(to_image)) < 1e-9:
        return None  # a degenerate outline, or `other` a speck in `image`
    zoom = np.sqrt(spread / (other.shape[0] * other.shape[1]))  # image px per other px
    # the sharper image is laid onto the other, at its resolution: no detail is compared that one lacks
    target, source, onto = (other, image, np.linalg.inv(to_image)) if zoom >= 1 else (image, other, to_image)
    # only the overlap is compared: each image cut to the rectangle around it (a detail's is small)
    laid_outline = cv2.perspectiveTransform(corners(source.shape[1], source.shape[0]), onto)[:, 0]
    area, overlap = cv2.intersectConvexConvex(laid_outline, corners(target.shape[1], target.shape[0])[:, 0])
    if area <= 0:
        return None
    (x, y, width, height), (u, v, across, down) = (
        cv2.boundingRect(np.float32(polygon))
        for polygon in (overlap, cv2.perspectiveTransform(overlap, np.linalg.inv(onto)))
    )
    x, y, u, v = max(0, x), max(0, y), max(0, u), max(0, v)  # rounding can put a corner at -1
    target, source = target[y : y + height, x : x + width], source[v : v + down, u : u + across]
    onto = np.array([[1, 0, -x], [0, 1, -y], [0, 0, 1]]) @ onto @ np.array([[1, 0, u], [0, 1, v], [0, 0, 1]])
    shrink = min(zoom, 1 / zoom)
    if min(width, height) < 4 * INK_TILE or min(source.shape[:2]) * shrink < 4 * INK_TILE:
        return None  # too little overlap for a tile once halved
    target = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY)
    source = cv2.cvtColor(
        cv2.resize(source, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
    )
    onto = onto @ np.diag([1 / shrink, 1 / shrink, 1.0])
    size = (target.shape[1], target.shape[0])
    laid = cv2.warpPerspective(source, onto, size, flags=cv2.INTER_LINEAR)
    shown = cv2.warpPerspective(np.full(source.shape, 255, np.uint8), onto, size, flags=cv2.INTER_NEAREST)
    # halved through a Gaussian pyramid: hatching finer than that fades to grey instead of aliasing
    target, laid, shown = cv2.pyrDown(target), cv2.pyrDown(laid), cv2.pyrDown(shown)
    size = (target.shape[1], target.shape[0])
    shown = cv2.erode(shown, np.ones((9, 9), np.uint8)) == 255
    if min(size) < 2 * INK_TILE or shown.sum() < MIN_INK_TILES * INK_TILE**2:
        return None  # a sliver holds no tile (and OpenCV's optical flow crashes on a few-pixel strip)
    laid = np.where(shown, laid, target)  # nothing to align outside the overlap: no flow drifts off it
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(target, laid, None)
    rows, columns = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    laid = cv2.remap(laid, columns + flow[..., 0], rows + flow[..., 1], cv2.INTER_LINEAR)
    # the preset's finest flow is at half these pixels; the stretch is a tenth of a pixel, so what the
    # flow left is measured once more at full resolution
    finer = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    finer.setFinestScale(0)
    return target, laid, shown, flow + finer.calc(target, laid, None)


def _tones_matched(image: np.ndarray, model: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`image` (8-bit grey) with its levels mapped so that their distribution inside `where` is the
    model's: paler ink, darker paper or another exposure are one monotone map."""
    mine, theirs = (np.cumsum(np.bincount(im[where], minlength=256)) / where.sum() for im in (image, model))
    return np.interp(mine, theirs, np.arange(256)).astype(np.float32)[image]


def _tile_difference(first: np.ndarray, second: np.ndarray, where: np.ndarray) -> float | None:
    """One minus the median correlation of two images' fine detail over the INK_TILE tiles inside
    `where` that hold detail; None if fewer than MIN_INK_TILES do."""
    a, b, inside = (_tiles(z) for z in (first, second, where.astype(np.float32)))
    keep = _with_detail(a, inside) & (b.std(axis=1) > 1)  # grey levels, 0-255
    if keep.sum() < MIN_INK_TILES:
        return None
    a, b = (t[keep] - t[keep].mean(axis=1, keepdims=True) for t in (a, b))
    correlation = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return 1.0 - float(np.median(correlation))


def _stretch(detail: np.ndarray, flow: np.ndarray, where: np.ndarray) -> float | None:
    """How far (share of the long side) the optical flow moves the median INK_TILE tile that holds
    `detail` once a cubic distortion is taken out: a lens bends an image smoothly, damp paper stretches
    each sheet unevenly. None if fewer than MIN_STRETCH_TILES tiles hold detail.

    The distortion is fitted from an affine up, each fit to the tiles the one before left within
    STRAY times their median: tiles where the images show different things (a margin against the
    next panel) would bend a cubic fitted to all of them."""
    keep = _with_detail(_tiles(detail), _tiles(where.astype(np.float32)))
    if keep.sum() < MIN_STRETCH_TILES:
        return None
    moved = np.stack([np.median(_tiles(flow[..., axis])[keep], axis=1) for axis in (0, 1)], axis=1)
    long_side = max(detail.shape)
    rows, columns = np.divmod(np.flatnonzero(keep), detail.shape[1] // INK_TILE)
    x, y = ((centre + 0.5) * INK_TILE / long_side for centre in (columns, rows))
    fitted_to = np.ones(len(moved), bool)
    for degree in STRETCH_FITS:
        terms = np.stack([x**i * y**j for i in range(degree + 1) for j in range(degree + 1 - i)], axis=1)
        distortion = np.linalg.lstsq(terms[fitted_to], moved[fitted_to], rcond=None)[0]
        left = np.linalg.norm(moved - terms @ distortion, axis=1)
        fitted_to = left <= max(STRAY * float(np.median(left)), 0.05)  # pixels: flow is no finer
    return round(float(np.median(left)) / long_side, 5)


def _with_detail(tiles: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Which of these fine-detail tiles lie wholly inside the overlap (`inside`: the same tiles of its
    mask) and hold detail, more than 4 grey levels (0-255) of spread: the tiles lines are compared on."""
    return (inside.min(axis=1) > 0) & (tiles.std(axis=1) > 4)


def _tiles(image: np.ndarray) -> np.ndarray:
    """The image's whole INK_TILE × INK_TILE tiles in reading order, each flattened into a row."""
    rows, columns = image.shape[0] // INK_TILE, image.shape[1] // INK_TILE
    return (
        image[: rows * INK_TILE, : columns * INK_TILE]
        .reshape(rows, INK_TILE, columns, INK_TILE)
        .transpose(0, 2, 1, 3)
        .reshape(rows * columns, INK_TILE * INK_TILE)
    )


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
