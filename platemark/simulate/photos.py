"""Synthetic phone photos of a print: frame, wall or table, perspective, crop, glare, blur, JPEG."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PhotoSettings:
    """How hard the simulated photos are. The defaults resemble a visitor's phone photo."""

    size: int = 1024  # long side of the photo
    max_tilt: float = 0.12  # corner jitter of the perspective, share of the print's size
    detail_crop: float = 0.2  # chance the photo shows only a detail of the print
    quarter_turn: float = 0.1  # chance of a 90°/180°/270° turn (print photographed sideways)
    frame: float = 0.5  # chance of a mount and frame around the print
    glare: float = 0.4  # chance of a specular highlight
    blur: float = 0.5  # chance of defocus or motion blur
    cover: tuple[float, float] = (0.45, 0.9)  # share of the photo's width or height the print fills


#: Photos of a print that fills only a fifth to a half of the frame, tilted and mostly blurred.
FAR_AWAY = PhotoSettings(cover=(0.2, 0.45), blur=0.8, glare=0.6, max_tilt=0.18)


def phone_photo(print_rgb: np.ndarray, rng: np.random.Generator, settings: PhotoSettings | None = None) -> np.ndarray:
    """A simulated phone photo (RGB) of a print.

    Example:
        >>> photo = phone_photo(load_image("print.jpg"), np.random.default_rng(0))
    """
    settings = settings or PhotoSettings()
    image = print_rgb
    if rng.random() < settings.detail_crop:
        image = _detail(image, rng)
    if rng.random() < settings.frame:
        image = _framed(image, rng)
    height, width = image.shape[:2]
    photo_w, photo_h = (settings.size, settings.size * 3 // 4)
    if rng.random() < 0.35:
        photo_w, photo_h = photo_h, photo_w
    cover = rng.uniform(*settings.cover)
    scale = cover * min(photo_w / width, photo_h / height)
    centre = np.array([photo_w / 2, photo_h / 2]) + rng.uniform(-0.08, 0.08, 2) * [photo_w, photo_h]
    half = np.array([width, height]) * scale / 2
    target = centre + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    angle = np.deg2rad(rng.uniform(-12, 12))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = (target - centre) @ rotation.T + centre
    target += rng.uniform(-1, 1, (4, 2)) * settings.max_tilt * half.mean()
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    homography = cv2.getPerspectiveTransform(source, target.astype(np.float32))
    background = _background(photo_h, photo_w, rng)
    warped = cv2.warpPerspective(
        image, homography, (photo_w, photo_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT
    )
    mask = cv2.warpPerspective(np.full((height, width), 255, np.uint8), homography, (photo_w, photo_h))
    photo = np.where(mask[..., None] > 127, warped, background).astype(np.float32)
    photo = _lighting(photo, rng)
    if rng.random() < settings.glare:
        photo = _glare(photo, rng)
    if rng.random() < settings.blur:
        photo = _blur(photo, rng)
    photo += rng.normal(0, rng.uniform(1, 5), photo.shape)
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    if rng.random() < settings.quarter_turn:
        photo = np.ascontiguousarray(np.rot90(photo, int(rng.integers(1, 4))))
    quality = int(rng.integers(55, 92))
    _, encoded = cv2.imencode(".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _detail(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    share = rng.uniform(0.5, 0.75)
    crop_w, crop_h = int(width * share), int(height * share)
    x, y = int(rng.integers(0, width - crop_w + 1)), int(rng.integers(0, height - crop_h + 1))
    return image[y : y + crop_h, x : x + crop_w]


def _framed(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add a passe-partout and a wooden or black frame."""
    height, width = image.shape[:2]
    mat = int(max(height, width) * rng.uniform(0.04, 0.15))
    mat_colour = rng.uniform(215, 250, 3) * [1, 0.98, 0.93]
    framed = cv2.copyMakeBorder(image, mat, mat, mat, mat, cv2.BORDER_CONSTANT, value=mat_colour.tolist())
    border = int(max(height, width) * rng.uniform(0.02, 0.06))
    frame_colour = rng.choice([[25, 22, 20], [110, 70, 40], [180, 150, 90], [200, 200, 200]])
    return cv2.copyMakeBorder(
        framed, border, border, border, border, cv2.BORDER_CONSTANT, value=[int(c) for c in frame_colour]
    )


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A wall or table: a colour with a soft gradient and texture."""
    colour = rng.uniform(60, 235, 3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    gradient = 1 + 0.25 * ((xx / width) * rng.uniform(-1, 1) + (yy / height) * rng.uniform(-1, 1))
    texture = cv2.GaussianBlur(rng.normal(0, 12, (height, width)).astype(np.float32), (0, 0), rng.uniform(1, 6))
    return np.clip(colour[None, None, :] * gradient[..., None] + texture[..., None], 0, 255)


def _lighting(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven exposure and a colour cast from room light."""
    height, width = photo.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    falloff = 1 - rng.uniform(0, 0.35) * (
        ((xx - width * rng.random()) / width) ** 2 + ((yy - height * rng.random()) / height) ** 2
    )
    cast = rng.uniform(0.85, 1.1, 3)
    return photo * falloff[..., None] * cast * rng.uniform(0.75, 1.15)


def _glare(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = photo.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    radius = rng.uniform(0.05, 0.15) * max(height, width)
    blob = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2)))
    return photo + blob[..., None] * rng.uniform(80, 200)


def _blur(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.6, 1.8))
    length = int(rng.integers(3, 9))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1 / length
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1)
    return cv2.filter2D(photo, -1, cv2.warpAffine(kernel, rotation, (length, length)))
