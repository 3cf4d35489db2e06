"""A sheet's image bent as a lens bends it, and its lines on paper stretched unevenly: what the
line comparison (platemark.search.relation.compare_lines) must tell apart."""

from __future__ import annotations

import cv2
import numpy as np


def through_a_lens(image: np.ndarray, barrel: float) -> np.ndarray:
    """The image photographed through a lens with radial distortion: a point at the long side's half
    from the centre moves outwards by `barrel` of that distance."""
    height, width = image.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = columns - width / 2, rows - height / 2
    bent = 1 + barrel * (x * x + y * y) / (max(width, height) / 2) ** 2
    return _remapped(image, width / 2 + x * bent, height / 2 + y * bent)


def on_damp_paper(image: np.ndarray, stretch: float) -> np.ndarray:
    """The same lines printed on paper that shrank unevenly as it dried: moved by up to `stretch` of the
    long side, in two waves across the sheet each way."""
    height, width = image.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    reach = stretch * max(width, height)
    return _remapped(
        image,
        columns + reach * np.sin(4 * np.pi * rows / height),
        rows + reach * np.sin(4 * np.pi * columns / width),
    )


def _remapped(image: np.ndarray, columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return cv2.remap(
        image, columns.astype(np.float32), rows.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
