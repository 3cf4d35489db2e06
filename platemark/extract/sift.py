"""Local features: RootSIFT keypoints computed on a toned-down copy of the image.

Prints are hatching and stipple; at full resolution SIFT fires on individual lines,
which moiré and the phone's resampling destroy. Working on an area-averaged copy
(long side `max_side`) turns hatching into tone, so reference and photo agree.
Measured on simulated engravings: references at 768 px verified 73% of true pairs,
at 384 px 100%, with no loss on the museum photos (benchmarks/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from platemark.images import to_gray


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoint positions (in the original image's pixels) and RootSIFT descriptors."""

    points: np.ndarray  # (N, 2) float32, x y
    descriptors: np.ndarray  # (N, 128) uint8, RootSIFT scaled by DESCRIPTOR_SCALE
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.points)

    def mirrored(self) -> LocalFeatures:
        """The features of the left-right mirrored image, without extracting again.

        Mirroring a patch mirrors its SIFT descriptor: the 4x4 grid's rows (along the keypoint's
        orientation) reverse and each gradient orientation bin o becomes -o. On phone photos 85-95%
        of these descriptors find their counterpart from the mirrored image's own extraction.
        """
        grid = self.descriptors.reshape(-1, 4, 4, 8)[:, ::-1][:, :, :, _MIRRORED_BINS]
        points = np.column_stack([self.width - self.points[:, 0], self.points[:, 1]]).astype(np.float32)
        return LocalFeatures(points, np.ascontiguousarray(grid.reshape(-1, 128)), self.width, self.height)


DESCRIPTOR_SCALE = 512.0
#: Orientation bin o of a SIFT descriptor becomes bin -o (mod 8) in the mirrored image.
_MIRRORED_BINS = [(8 - o) % 8 for o in range(8)]

#: Long side (px) at which collection images are analysed.
REFERENCE_SIDE = 384
#: Long side (px) at which query photos are analysed: larger, as the print fills only part of it.
QUERY_SIDE = 512


class SiftExtractor:
    """RootSIFT on a resized grey copy of the image.

    Args:
        max_side: the image is area-resized so its longer side is at most this.
        max_features: strongest keypoints kept, spread over the image on a grid.

    Example:
        >>> features = SiftExtractor(max_side=768).extract(load_image("print.jpg"))
    """

    name = "rootsift-tone"
    version = 2

    def __init__(self, max_side: int = REFERENCE_SIDE, max_features: int = 1000) -> None:
        self.max_side = max_side
        self.max_features = max_features

    def extract(self, rgb: np.ndarray) -> LocalFeatures:
        """Keypoints and RootSIFT descriptors of one RGB image."""
        height, width = rgb.shape[:2]
        gray = _contrast_channel(rgb)
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(gray)
        # A detector per call: cheap, and safe when web workers search from several threads.
        sift = cv2.SIFT_create(nfeatures=self.max_features * 2, contrastThreshold=0.02)
        keypoints, descriptors = sift.detectAndCompute(gray, None)
        if descriptors is None or not keypoints:
            return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), width, height)
        keep = _spread(keypoints, gray.shape, self.max_features)
        points = np.array([keypoints[i].pt for i in keep], np.float32) / scale
        return LocalFeatures(points, _root_sift(descriptors[keep]), width, height)


def _contrast_channel(rgb: np.ndarray) -> np.ndarray:
    """Grey version of the image; for colour-only designs (flat luminance), the strongest channel."""
    gray = to_gray(rgb)
    if gray.std() >= 4.0:
        return gray
    stds = rgb.reshape(-1, 3).std(axis=0)
    return np.ascontiguousarray(rgb[:, :, int(np.argmax(stds))])


def _root_sift(descriptors: np.ndarray) -> np.ndarray:
    """Hellinger-normalise SIFT (L1, then square root) and quantise to uint8."""
    l1 = descriptors.astype(np.float32)
    l1 /= l1.sum(axis=1, keepdims=True) + 1e-7
    return np.clip(np.sqrt(l1) * DESCRIPTOR_SCALE, 0, 255).astype(np.uint8)


def _spread(keypoints: list, shape: tuple[int, int], limit: int, cells: int = 8) -> np.ndarray:
    """Indices of the strongest keypoints, at most limit/cells² per grid cell first.

    Hatching makes a few textured areas produce most keypoints; a per-cell quota
    keeps matches spread over the whole print, which RANSAC needs.
    """
    responses = np.array([k.response for k in keypoints])
    order = np.argsort(-responses)
    if len(order) <= limit:
        return order
    height, width = shape
    xs = np.array([k.pt[0] for k in keypoints])[order]
    ys = np.array([k.pt[1] for k in keypoints])[order]
    cell = (np.minimum(ys * cells // height, cells - 1) * cells + np.minimum(xs * cells // width, cells - 1)).astype(
        int
    )
    rank_in_cell = np.zeros(len(order), int)
    seen = np.zeros(cells * cells, int)
    for i, c in enumerate(cell):
        rank_in_cell[i] = seen[c]
        seen[c] += 1
    # Take keypoints by (rank within its cell, global strength): round-robin over cells.
    chosen = np.lexsort((np.arange(len(order)), rank_in_cell))[:limit]
    return order[np.sort(chosen)]
