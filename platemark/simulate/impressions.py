"""Another impression of a print's plate or block: the same lines, printed again on another sheet.

Two pulls of one block never share their pixels. The printer inks and presses the block anew, so
lines come out a little fatter where the pressure was high and break up where the ink ran thin;
the paper is another sheet, with its own tone and grain, damped and stretched unevenly before it
dries; a colourist paints each sheet by hand. A rescan changes none of that, which is what
`platemark duplicates` tells them apart by (platemark.search.relation).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Largest stretch of the damp paper, share of the long side (0.3%: 3 px on a 1024-px image).
STRETCH = 0.003
#: Ink density varies between this share and its inverse across the sheet.
INKING = 0.8
#: The ink layer's density varies by up to this share from spot to spot (the paper's tooth, the block's
#: grain), in blotches of about MOTTLE_SIZE pixels.
MOTTLE = 0.3
MOTTLE_SIZE = 1.5
#: The sheet's paper is the brightest tone within this share of the long side (wider than the broadest
#: line of a woodcut, 25 px on a 1024-px image).
PAPER_REACH = 1 / 40
#: Marks darker than the paper by less than this share are the sheet's (grain, stains, foxing, uneven
#: light); lines are darker by 0.4-0.8.
FAINT = 0.12


def another_impression(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An RGB image of another impression of the print in `rgb` (dark ink on light paper): `reinked`,
    and a third or more of the sheet coloured by another hand.

    Example:
        >>> impression = another_impression(load_image("woodcut.jpg"), np.random.default_rng(1))
    """
    return _hand_coloured(reinked(rgb, rng), rng)


def reinked(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The print in `rgb` pulled again, in the same colours, on another sheet: only its ink is kept (the
    sheet's stains, grain and lighting stay with that sheet); lines thicken or thin by up to a pixel with
    the pressure, the ink layer is mottled by the paper's tooth and breaks up where it ran thin, it is
    denser or paler across the sheet, and the new paper has its own tint and grain and is stretched by
    up to STRETCH."""
    height, width = rgb.shape[:2]
    darkness = _ink(rgb)
    pressure = _field((height, width), rng)  # -1 (light) to 1 (heavy)
    fatter = cv2.dilate(darkness, np.ones((3, 3), np.uint8))  # the lines spread
    thinner = cv2.erode(darkness, np.ones((3, 3), np.uint8))
    heavy, light = np.clip(pressure, 0, 1)[..., None], np.clip(-pressure, 0, 1)[..., None]
    darkness = darkness + heavy * (fatter - darkness) + light * (thinner - darkness)
    tooth = _texture((height, width), MOTTLE_SIZE, rng)  # -1..1, blotches of a few pixels
    darkness *= (1.0 + MOTTLE * tooth)[..., None]
    darkness[(tooth > 0.5) & (pressure < -0.3)] *= rng.uniform(0.2, 0.5)  # starved: the ink breaks up
    darkness *= (INKING ** _field((height, width), rng))[..., None]
    grain = 0.03 * _texture((height, width), 0.7, rng) + 0.04 * _texture((height, width), 6.0, rng)
    paper = rng.uniform(0.85, 1.0, 3) * (1.0 + grain)[..., None]
    printed = np.clip(255.0 * (1.0 - darkness) * paper, 0, 255).astype(np.uint8)
    return _stretched(printed, rng)


def _ink(rgb: np.ndarray) -> np.ndarray:
    """The ink of the print in `rgb`, as darkness per channel (0-1) against its own sheet: the paper is
    the brightest tone within PAPER_REACH, smoothed, and marks fainter than FAINT (grain, stains, foxing,
    uneven light) belong to the sheet, not to the block."""
    reach = max(3, round(PAPER_REACH * max(rgb.shape[:2])))
    image = rgb.astype(np.float32)
    spot = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    paper = np.maximum(cv2.GaussianBlur(cv2.dilate(image, spot), (0, 0), reach), 1.0)
    darkness = np.clip(1.0 - image / paper, 0, 1)
    inked = np.clip((darkness.mean(axis=2) - FAINT) / FAINT, 0, 1)  # faint marks fade out, lines stay
    return darkness * inked[..., None]


def _texture(shape: tuple[int, int], size: float, rng: np.random.Generator) -> np.ndarray:
    """Random texture in about -1..1 whose grains are `size` pixels across."""
    grains = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), size)
    return np.clip(grains / (3 * grains.std() + 1e-6), -1, 1)


def _field(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth random field in -1..1 that varies over a sixth of the sheet."""
    coarse = rng.normal(0, 1, (8, 8)).astype(np.float32)
    smooth = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return smooth / (np.abs(smooth).max() + 1e-6)


def _stretched(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The sheet stretched unevenly, as damp paper is, by up to STRETCH of the long side."""
    height, width = image.shape[:2]
    reach = STRETCH * max(height, width)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = (reach * _field((height, width), rng) for _ in range(2))
    return cv2.remap(image, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _hand_coloured(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A third or more of the sheet, from a random column on, coloured otherwise."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    band = slice(int(rng.uniform(0, 0.66) * image.shape[1]), None)
    hsv[:, band, 0] = (hsv[:, band, 0].astype(int) + int(rng.integers(30, 150))) % 180
    hsv[:, band, 1] = np.clip(hsv[:, band, 1].astype(int) + 60, 0, 255)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
