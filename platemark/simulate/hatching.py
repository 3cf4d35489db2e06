"""Render any image as an engraving-like print: tone becomes crossing layers of fine lines.

The point is to reproduce what makes prints hard to find from a phone photo: the
picture is made of monochrome hatching and cross-hatching whose fine, regular lines
alias (moiré) when photographed and look alike to an ImageNet CNN.
"""

from __future__ import annotations

import cv2
import numpy as np

#: (angle in degrees, tone at which the layer starts) for the hatching layers.
LAYERS = ((45.0, 0.18), (-45.0, 0.42), (0.0, 0.62), (90.0, 0.8))


def hatched_print(rgb: np.ndarray, rng: np.random.Generator, long_side: int = 1024) -> np.ndarray:
    """An RGB "engraving" of the image: ink lines on paper, with a plate mark.

    Line spacing (4-7 px), the wobble of the lines, the paper and ink colours are
    drawn from `rng`, so each print in a simulated print room looks a bit different.

    Example:
        >>> engraving = hatched_print(load_image("painting.jpg"), np.random.default_rng(1))
    """
    height, width = rgb.shape[:2]
    scale = long_side / max(height, width)
    size = (max(16, round(width * scale)), max(16, round(height * scale)))
    gray = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    tone = 1.0 - cv2.GaussianBlur(gray, (0, 0), 1.5).astype(np.float32) / 255.0
    h, w = tone.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    spacing = rng.uniform(4.0, 7.0)
    wobble = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 25)
    wobble *= spacing * 1.5 / (np.abs(wobble).max() + 1e-6)
    ink = np.zeros((h, w), np.float32)
    for angle, start in LAYERS:
        theta = np.deg2rad(angle + rng.uniform(-8, 8))
        phase = ((xx * np.cos(theta) + yy * np.sin(theta) + wobble) / spacing) % 1.0
        strength = np.clip((tone - start) / (1.0 - start), 0, 1)
        half_width = 0.08 + 0.35 * strength  # lines swell in the shadows, as with a burin
        line = np.clip((half_width - np.abs(phase - 0.5)) * spacing, 0, 1)
        ink = np.maximum(ink, line * (strength > 0))
    stipple = (rng.random((h, w)) < np.clip(tone - 0.05, 0, 0.15) * 0.6).astype(np.float32)
    ink = np.maximum(ink, stipple)
    paper = rng.uniform(228, 250) * np.array([1.0, 0.97, 0.9])
    ink_colour = rng.uniform(15, 45) * np.array([1.0, 0.9, 0.8])
    out = paper * (1 - ink[..., None]) + ink_colour * ink[..., None]
    margin = int(0.06 * max(h, w))
    sheet = np.empty((h + 2 * margin, w + 2 * margin, 3), np.float32)
    sheet[:] = paper
    plate = int(margin * 0.4)
    sheet[margin - plate : margin + h + plate, margin - plate : margin + w + plate] = paper * 0.965
    sheet[margin : margin + h, margin : margin + w] = out
    grain = cv2.GaussianBlur(rng.normal(0, 4, sheet.shape[:2]).astype(np.float32), (0, 0), 1.2)
    return np.clip(sheet + grain[..., None], 0, 255).astype(np.uint8)
