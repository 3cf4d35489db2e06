"""The one place that decodes images, with the limits that make hostile files cheap to refuse.

Every stage (ingest, extract, search, web) decodes through here, so no caller can skip a limit:
- only the formats a collection or a phone produces are opened (no PSD, EPS, ICO, JPEG 2000 ...);
- the header's size is checked against a pixel budget and an aspect-ratio limit before a pixel
  is decoded;
- large images are shrunk while decoding (JPEG DCT scaling, then an integer box reduction in the
  file's own mode), so memory is bounded by the budget, not by what the file claims.
"""

from __future__ import annotations

import io
import math
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import (
    BmpImagePlugin,
    ExifTags,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    MpoImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from platemark.errors import InvalidQuery, UnreadableImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})

#: Pillow formats platemark opens (the JPEG opener also reads MPO, which some phones write).
#: Everything else is refused before its decoder runs; only these plugins are imported.
PLUGINS = (
    JpegImagePlugin,
    MpoImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
    BmpImagePlugin,
    GifImagePlugin,
)
FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF")

#: Longest side at which a query photo is searched; `query_region` coordinates refer to it.
QUERY_MAX_SIDE = 1600


@dataclass(frozen=True)
class DecodeLimits:
    """What one decode may cost.

    A decoded pixel takes at most 4 bytes in any accepted mode, so `max_pixels` bounds memory:
    50 MP is at most 200 MB for the file's pixels, plus a small shrunken copy.
    """

    max_pixels: int
    #: Longest side over shortest side. A 60000x1 strip is no print, and would make every later
    #: stage (CNN input, keypoints) as long as it.
    max_aspect: float = 25.0
    max_file_bytes: int = 1_000_000_000


#: Collection images: large museum scans are welcome (120 MP, e.g. 12,000 x 10,000).
COLLECTION_LIMITS = DecodeLimits(max_pixels=120_000_000)
#: Uploaded photos: every phone camera's full resolution (50 MP) and no more.
UPLOAD_LIMITS = DecodeLimits(max_pixels=50_000_000, max_file_bytes=100_000_000)

_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

ImageSource = str | Path | bytes


@dataclass(frozen=True)
class Decoded:
    """An upright RGB image, possibly shrunk while decoding, and the upright size of the full image."""

    rgb: Image.Image
    full_size: tuple[int, int]

    @property
    def scale(self) -> float:
        """Decoded pixels per pixel of the full image."""
        return self.rgb.width / self.full_size[0]


def decode(
    source: ImageSource,
    *,
    limits: DecodeLimits = COLLECTION_LIMITS,
    keep_side: int | None = None,
    region_side: int | None = None,
) -> Decoded:
    """Decode an image file or bytes into an upright RGB Pillow image, within `limits`.

    EXIF orientation is applied, CMYK/16-bit/float/palette/alpha images are converted (alpha is
    composited on white, as a print on paper). With `keep_side`, the image is shrunk by an
    integer factor while it is decoded, as far as the longer side of the region that matters
    (`region_side` full-image pixels; default the whole image) keeps `keep_side` pixels.

    Raises:
        UnreadableImage: the data is empty, truncated, not an accepted format, or over a limit.

    Example:
        >>> decoded = decode("scan.tif", keep_side=1600)
    """
    name = "upload" if isinstance(source, bytes) else str(source)
    data = _read(source, name, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                _check_size(image.size, name, limits)
                orientation = _orientation(image)
                stored_width, stored_height = image.size
                shrink = max(1, (region_side or max(image.size)) // keep_side) if keep_side else 1
                if shrink > 1 and image.format in ("JPEG", "MPO"):
                    image.draft("RGB", (math.ceil(image.width / shrink), math.ceil(image.height / shrink)))
                image.load()
                remaining = max(1, math.floor(shrink * image.width / stored_width + 1e-9))
                full_size = (stored_width, stored_height)
                rgb = _to_rgb(_reducible(image).reduce(remaining) if remaining > 1 else image)
    except UnreadableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"{name}: image too large (possible decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage(f"{name}: not an image platemark reads (accepted: {', '.join(FORMATS)})") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise UnreadableImage(f"{name}: corrupt or truncated image ({exc})") from exc
    if orientation in _ORIENTATION:
        rgb = rgb.transpose(_ORIENTATION[orientation])
        if orientation >= 5:
            full_size = full_size[::-1]
    return Decoded(rgb, full_size)


def load_image(
    source: ImageSource, max_side: int | None = None, *, limits: DecodeLimits = COLLECTION_LIMITS
) -> np.ndarray:
    """Decode an image into an upright 8-bit RGB array (H, W, 3).

    Args:
        source: a path or the raw bytes of an image file.
        max_side: if given, shrink so the longer side is at most this many pixels.
        limits: pixel, aspect and file-size limits (collection images by default).

    Raises:
        UnreadableImage: the data is empty, truncated, not an accepted format, or over a limit.

    Example:
        >>> rgb = load_image("photo.jpg", max_side=1024)
    """
    rgb = decode(source, limits=limits, keep_side=max_side).rgb
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def _read(source: ImageSource, name: str, limits: DecodeLimits) -> bytes:
    """The file's bytes; only regular files, and none larger than the limit."""
    if isinstance(source, bytes):
        data = source
    else:
        if not Path(source).is_file():  # opening a FIFO would block, a device never end
            raise UnreadableImage(f"{name}: not a regular file")
        try:
            with open(source, "rb") as handle:
                # read(n) sets aside n bytes first: asked for the limit, each photo took a 1 GB buffer
                data = handle.read(min(os.fstat(handle.fileno()).st_size, limits.max_file_bytes) + 1)
        except OSError as exc:
            raise UnreadableImage(f"{name}: cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise UnreadableImage(f"{name}: file is empty")
    if len(data) > limits.max_file_bytes:
        raise UnreadableImage(f"{name}: file is larger than {limits.max_file_bytes / 1e6:g} MB")
    return data


def _check_size(size: tuple[int, int], name: str, limits: DecodeLimits) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise UnreadableImage(f"{name}: the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise UnreadableImage(
            f"{name}: {width}x{height} pixels is over the limit of {limits.max_pixels:,} "
            "(possible decompression bomb; shrink the image)"
        )
    if max(size) / min(size) > limits.max_aspect:
        raise UnreadableImage(
            f"{name}: {width}x{height} is too narrow for a print (sides over {limits.max_aspect:g}:1)"
        )


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1 = upright), read before the image is shrunk and loses it."""
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except (TypeError, ValueError, SyntaxError, OSError):  # a broken EXIF block is no reason to refuse
        return 1


def _reducible(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow can shrink by box averaging (palette indices cannot be averaged)."""
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparent areas become white paper."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        top = float(array.max()) or 1.0
        image = Image.fromarray((array * (255.0 / top)).astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float32), posinf=0.0, neginf=0.0)
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

    The photo is shrunk while it is decoded as far as the part searched keeps `max_side` pixels,
    so a 50 MP upload costs about as much memory as the pixels its file holds.

    Args:
        data: the image file's bytes.
        rotate: clockwise quarter turns in degrees (0, 90, 180, 270), applied first.
        crop: (x, y, width, height) in pixels of the turned photo at full size.
        max_side: longest side of the result.

    Raises:
        UnreadableImage: the data is not a decodable image, or over the upload limits.
        InvalidQuery: unsupported rotation, or a crop that is empty or leaves the photo.

    Example:
        >>> rgb = prepare_query(upload_bytes, rotate=90, crop=(120, 40, 800, 1000))
    """
    if rotate % 90 or not 0 <= rotate < 360:
        raise InvalidQuery(f"rotate must be 0, 90, 180 or 270, not {rotate}")
    decoded = decode(data, limits=UPLOAD_LIMITS, keep_side=max_side, region_side=max(crop[2:]) if crop else None)
    rgb = np.rot90(np.asarray(decoded.rgb), k=-(rotate // 90))
    width, height = decoded.full_size if rotate in (0, 180) else decoded.full_size[::-1]
    if crop is not None:
        x, y, crop_width, crop_height = crop
        if crop_width < 16 or crop_height < 16 or x < 0 or y < 0 or x + crop_width > width or y + crop_height > height:
            raise InvalidQuery(
                f"crop {x},{y},{crop_width},{crop_height} does not fit in the {width}x{height} photo "
                "(or is smaller than 16 pixels)"
            )
        s = decoded.scale
        rgb = rgb[round(y * s) : round((y + crop_height) * s), round(x * s) : round((x + crop_width) * s)]
    image = Image.fromarray(np.ascontiguousarray(rgb))
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(image)
