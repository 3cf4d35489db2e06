from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from platemark.errors import UnreadableImage
from platemark.images import load_image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient(width: int = 40, height: int = 20) -> Image.Image:
    array = np.zeros((height, width, 3), np.uint8)
    array[..., 0] = np.linspace(0, 255, width)[None, :]
    array[..., 2] = np.linspace(0, 255, height)[:, None]
    return Image.fromarray(array)


def test_load_image_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    rgb = load_image(encoded(gradient(), "JPEG", exif=exif))
    assert rgb.shape == (40, 20, 3)


@pytest.mark.parametrize(
    "image, fmt",
    [
        (gradient().convert("CMYK"), "JPEG"),
        (Image.fromarray(np.linspace(0, 65535, 800, dtype=np.uint16).reshape(20, 40)), "PNG"),
        (gradient().convert("P"), "GIF"),
        (gradient().convert("RGBA"), "PNG"),
        (gradient().convert("LA"), "PNG"),
        (gradient().convert("L"), "TIFF"),
        (gradient(), "WEBP"),
        (gradient(), "BMP"),
    ],
    ids=["cmyk-jpeg", "16bit-png", "palette-gif", "rgba-png", "la-png", "grey-tiff", "webp", "bmp"],
)
def test_load_image_converts_any_mode_to_rgb(image: Image.Image, fmt: str) -> None:
    rgb = load_image(encoded(image, fmt))
    assert rgb.dtype == np.uint8 and rgb.shape == (20, 40, 3)
    assert rgb.std() > 10, "content survives conversion"


def test_load_image_puts_transparent_areas_on_white_paper() -> None:
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert load_image(encoded(transparent, "PNG")).min() == 255


def test_load_image_shrinks_to_max_side() -> None:
    assert load_image(encoded(gradient(400, 100), "PNG"), max_side=100).shape == (25, 100, 3)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"just some text, not an image", "not an image platemark reads"),
        (encoded(gradient(), "JPEG")[:200], "truncated"),
        (encoded(gradient(), "PNG")[:60], "truncated"),
    ],
    ids=["zero-bytes", "text", "truncated-jpeg", "truncated-png"],
)
def test_load_image_rejects_bad_data_with_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableImage, match=message):
        load_image(data)


def test_load_image_refuses_decompression_bomb(bomb_png: Path) -> None:
    with pytest.raises(UnreadableImage, match="decompression bomb"):
        load_image(bomb_png)


def test_load_image_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match=r"missing\.jpg"):
        load_image(tmp_path / "missing.jpg")


@pytest.mark.parametrize("mode", ["P", "1", "L", "LA", "I;16", "I", "F", "CMYK", "RGBA", "RGB"])
def test_large_image_of_any_mode_is_shrunk_while_decoding(mode: str) -> None:
    grey = np.tile(np.linspace(0, 255, 400, dtype=np.uint8), (300, 1))
    image = Image.fromarray(grey).convert("RGB")
    if mode == "I;16":
        image = Image.fromarray(grey.astype(np.uint16) * 250)
    elif mode != "RGB":
        image = image.convert(mode)
    rgb = load_image(encoded(image, "TIFF" if mode in ("I;16", "I", "F", "CMYK") else "PNG"), max_side=100)
    assert rgb.shape == (75, 100, 3)
    assert rgb[:, :10].mean() < rgb[:, -10:].mean(), "the gradient survives"


def test_reading_an_image_file_sets_aside_about_its_size_not_the_size_limit(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "small.png"
    Image.new("RGB", (64, 48), "white").save(path)
    tracemalloc.start()
    try:
        load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000  # the collection limit is 1 GB
