"""The one place that decodes images: EXIF orientation, colour mode, size limits."""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from platemark.errors import InvalidQuery, UnreadableImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})

#: Largest image we decode (pixels). Bigger files are refused as decompression bombs.
MAX_PIXELS = 120_000_000

#: Longest side at which a query photo is searched; `query_region` coordinates refer to it.
QUERY_MAX_SIDE = 1600

ImageSource = str | Path | bytes


def load_image(source: ImageSource, max_side: int | None = None) -> np.ndarray:
    """Decode an image file or bytes into an upright 8-bit RGB array (H, W, 3).

    EXIF orientation is applied, CMYK/16-bit/palette/alpha images are converted
    (alpha is composited on white, as a print on paper), and images larger than
    MAX_PIXELS are refused instead of exhausting memory.

    Args:
        source: a path or the raw bytes of an image file.
        max_side: if given, shrink so the longer side is at most this many pixels.

    Raises:
        UnreadableImage: the data is empty, truncated, not an image or too large.

    Example:
        >>> rgb = load_image("photo.jpg", max_side=1024)
    """
    name = "upload" if isinstance(source, bytes) else str(source)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as exc:
        raise UnreadableImage(f"{name}: cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise UnreadableImage(f"{name}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise UnreadableImage(
                        f"{name}: {image.width}x{image.height} pixels is over the limit of "
                        f"{MAX_PIXELS:,} (possible decompression bomb)"
                    )
                if max_side and image.format == "JPEG":
                    image.draft("RGB", (max_side, max_side))
                image.load()
                image = ImageOps.exif_transpose(image)
                rgb = _to_rgb(image)
    except UnreadableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"{name}: image too large (possible decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage(f"{name}: not a recognised image format") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableImage(f"{name}: corrupt or truncated image ({exc})") from exc
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparent areas become white paper."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = array.max() or 1.0
        image = Image.fromarray((array * (255.0 / top)).astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        span = float(array.max() - array.min()) or 1.0
        image = Image.fromarray(((array - array.min()) * (255.0 / span)).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image.convert("RGB")


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """Luminance of an RGB array as uint8."""
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def encode_jpeg(rgb: np.ndarray, max_side: int | None = None, quality: int = 85) -> bytes:
    """JPEG bytes of the image, shrunk to max_side if given."""
    image = Image.fromarray(rgb)
    if max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that readers never see it half-written (and concurrent writers don't collide)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    partial.write_bytes(data)
    partial.replace(path)


def prepare_query(
    data: bytes, *, rotate: int = 0, crop: tuple[int, int, int, int] | None = None, max_side: int = QUERY_MAX_SIDE
) -> np.ndarray:
    """Decode an uploaded photo, turn it, cut out the print, and shrink it for searching.

    Args:
        data: the image file's bytes.
        rotate: clockwise quarter turns in degrees (0, 90, 180, 270), applied first.
        crop: (x, y, width, height) in pixels of the turned photo.
        max_side: longest side of the result.

    Raises:
        UnreadableImage: the data is not a decodable image.
        InvalidQuery: unsupported rotation, or a crop that is empty or leaves the photo.

    Example:
        >>> rgb = prepare_query(upload_bytes, rotate=90, crop=(120, 40, 800, 1000))
    """
    if rotate % 90 or not 0 <= rotate < 360:
        raise InvalidQuery(f"rotate must be 0, 90, 180 or 270, not {rotate}")
    rgb = np.rot90(load_image(data), k=-(rotate // 90))
    if crop is not None:
        x, y, width, height = crop
        if width < 16 or height < 16 or x < 0 or y < 0 or x + width > rgb.shape[1] or y + height > rgb.shape[0]:
            raise InvalidQuery(
                f"crop {x},{y},{width},{height} does not fit in the {rgb.shape[1]}x{rgb.shape[0]} photo "
                "(or is smaller than 16 pixels)"
            )
        rgb = rgb[y : y + height, x : x + width]
    image = Image.fromarray(np.ascontiguousarray(rgb))
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(image)
