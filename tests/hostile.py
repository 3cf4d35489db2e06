"""Hostile inputs, made by code: uploads the API must refuse, odd uploads it must survive, and
collection entries ingest must list without losing the good ones.

Nothing here is a committed blob: every file is built from a seed, so the corpus is the same on
every run and can grow by editing a list.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

Upload = tuple[str, bytes]


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _picture(seed: int = 0, size: tuple[int, int] = (96, 64)) -> Image.Image:
    rng = np.random.default_rng(seed)
    array = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    array[::8] = 0  # some line work
    return Image.fromarray(array)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    """A PNG that claims a size and holds almost no data: a bomb that must be refused from its header."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def png_of_zeros(width: int, height: int) -> bytes:
    """A real, complete PNG of black pixels: tiny on disk, large in memory."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width * 3 + 1)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def tiff_header_only(width: int, height: int, bits: int = 32, sample_format: int = 3) -> bytes:
    """A little-endian TIFF claiming a float (or integer) image of the given size, with no pixels."""
    entries = [
        (256, 4, 1, width),  # ImageWidth
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, bits),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8),  # StripOffsets
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, width * height * bits // 8 & 0xFFFFFFFF),  # StripByteCounts
        (339, 3, 1, sample_format),  # SampleFormat
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 16) + b"\x00" * 8 + ifd


def gif_header_only(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b";"


def bmp_header_only(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\x00" * 64


def jpeg_with_size(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to claim another size."""
    data = bytearray(_encoded(_picture(1, (16, 16)), "JPEG", quality=80))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_canvas(width: int, height: int) -> bytes:
    """An extended WebP (VP8X) header with a huge canvas and no image data."""
    vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def truncations() -> list[Upload]:
    """Every accepted format, in several modes, cut at many points inside its image data."""
    picture = _picture()
    bases = [
        ("jpeg", _encoded(picture, "JPEG", quality=85)),
        ("jpeg-progressive", _encoded(picture, "JPEG", quality=85, progressive=True)),
        ("jpeg-grey", _encoded(picture.convert("L"), "JPEG")),
        ("png", _encoded(picture, "PNG")),
        ("png-grey", _encoded(picture.convert("L"), "PNG")),
        ("png-palette", _encoded(picture.convert("P"), "PNG")),
        ("gif", _encoded(picture.convert("P"), "GIF")),
        ("webp", _encoded(picture, "WEBP")),
        ("webp-lossless", _encoded(picture, "WEBP", lossless=True)),
        ("tiff", _encoded(picture, "TIFF")),
        ("tiff-lzw", _encoded(picture, "TIFF", compression="tiff_lzw")),
        ("bmp", _encoded(picture, "BMP")),
    ]
    uploads = []
    for name, data in bases:
        end = len(data) - 32  # the last bytes are checksums and trailers: cut there, the image is whole
        cuts = sorted({1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64} | {end * k // 10 for k in range(1, 10)} | {end})
        uploads += [(f"cut-{name}-{cut}", data[:cut]) for cut in cuts if 0 < cut <= end]
    return uploads


def wrong_types() -> list[Upload]:
    """Files that are not an accepted image format: other image formats, documents, archives, noise."""
    picture = _picture(2, (32, 32))
    uploads: list[Upload] = []
    for fmt in ("ICO", "PPM", "PCX", "TGA", "DDS", "JPEG2000", "EPS", "PDF", "SGI", "QOI", "ICNS", "AVIF"):
        try:
            uploads.append((f"format-{fmt.lower()}", _encoded(picture, fmt)))
        except (OSError, KeyError, ValueError):  # a format this Pillow build cannot write
            continue
    uploads += [
        ("format-xbm", _encoded(picture.convert("1"), "XBM")),
        ("format-msp", _encoded(picture.convert("1"), "MSP")),
        ("format-palm", _encoded(picture.convert("1"), "PALM")),
        ("format-spider", _encoded(picture.convert("F"), "SPIDER")),
        ("format-psd", b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 3, 64, 64, 8, 3) + b"\x00" * 64),
        ("format-svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'),
        ("format-html", b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"),
        ("format-text", b"just some notes, not a picture"),
        ("format-json", b'{"image": "no"}'),
        ("format-zip", b"PK\x03\x04" + b"\x00" * 26 + b"a.jpg"),
        ("format-gzip", b"\x1f\x8b\x08\x00" + b"\x00" * 20),
        ("format-elf", b"\x7fELF\x02\x01\x01" + b"\x00" * 57),
        ("format-heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
        ("format-mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42"),
        ("byte-00", b"\x00"),
        ("byte-ff", b"\xff"),
        ("magic-jpeg", b"\xff\xd8\xff"),
        ("magic-png", b"\x89PNG\r\n\x1a\n"),
        ("magic-gif", b"GIF89a"),
        ("magic-webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
        ("magic-tiff-le", b"II*\x00"),
        ("magic-tiff-be", b"MM\x00*"),
        ("magic-bmp", b"BM"),
        ("utf16-text", "not an image".encode("utf-16")),
    ]
    rng = np.random.default_rng(7)
    uploads += [
        (f"noise-{i}", rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes()) for i in range(20)
    ]
    return uploads


def polyglots() -> list[Upload]:
    """Files that start like an image and go on as something else, and are not decodable images."""
    return [
        ("polyglot-gif-js", b"GIF89a/*\x00\x00\x00\x00*/=1;alert(document.domain);//"),
        ("polyglot-jpeg-html", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>"),
        ("polyglot-png-js", b"\x89PNG\r\n\x1a\n<script>alert(1)</script>"),
        ("polyglot-pdf-jpeg", b"%PDF-1.4\n\xff\xd8\xff\xe0\x00\x10JFIF"),
        ("polyglot-bmp-html", b"BM<html><body>hi</body></html>"),
        ("polyglot-tiff-zip", b"II*\x00PK\x03\x04" + b"\x00" * 30),
        ("polyglot-webp-svg", b"RIFF\x10\x00\x00\x00WEBP<svg onload=alert(1)>"),
        ("polyglot-zip-then-jpeg", b"PK\x03\x04" + b"\x00" * 26 + _encoded(_picture(3, (16, 16)), "JPEG")),
    ]


def bombs() -> list[Upload]:
    """Decompression bombs of every shape: extreme aspect, huge sizes, deep pixels, in every format."""
    return [
        ("bomb-strip-60000x1", png_of_zeros(60000, 1)),
        ("bomb-strip-1x60000", png_of_zeros(1, 60000)),
        ("bomb-strip-20000x20", png_of_zeros(20000, 20)),
        ("bomb-strip-26x1", png_of_zeros(26, 1)),
        ("bomb-strip-1000x30", png_of_zeros(1000, 30)),
        ("bomb-png-9400x9400", png_of_zeros(9400, 9400)),
        ("bomb-png-header-65535", png_header_only(65535, 65535)),
        ("bomb-png-header-16bit", png_header_only(9000, 9000, bit_depth=16, colour=6)),
        ("bomb-png-header-2g", png_header_only(2**31 - 1, 2**31 - 1)),
        ("bomb-png-header-zero", png_header_only(0, 100)),
        ("bomb-png-header-palette", png_header_only(20000, 20000, colour=3)),
        ("bomb-tiff-float-40000", tiff_header_only(40000, 40000)),
        ("bomb-tiff-float-9000", tiff_header_only(9000, 9000)),
        ("bomb-tiff-int32-20000", tiff_header_only(20000, 20000, sample_format=2)),
        ("bomb-tiff-16bit-30000", tiff_header_only(30000, 30000, bits=16, sample_format=1)),
        ("bomb-tiff-strip", tiff_header_only(100000, 2)),
        ("bomb-gif-65535", gif_header_only(65535, 65535)),
        ("bomb-gif-strip", gif_header_only(65535, 1)),
        ("bomb-bmp-50000", bmp_header_only(50000, 50000)),
        ("bomb-bmp-strip", bmp_header_only(60000, 1)),
        ("bomb-bmp-negative", bmp_header_only(-5, 10)),
        ("bomb-jpeg-65500", jpeg_with_size(65500, 65500)),
        ("bomb-jpeg-strip", jpeg_with_size(65000, 8)),
        ("bomb-jpeg-8000x8000", jpeg_with_size(8000, 8000)),
        ("bomb-webp-16383", webp_canvas(16383, 16383)),
        ("bomb-webp-strip", webp_canvas(16383, 1)),
    ]


def hostile_uploads() -> list[Upload]:
    """Uploads the API must refuse with a 4xx and a message (over 300)."""
    return truncations() + wrong_types() + polyglots() + bombs()


def odd_uploads() -> list[Upload]:
    """Unusual but valid photos: the API must search them, within the same time and memory ceiling."""
    picture = _picture(4, (320, 240))
    frames = [_picture(i, (64, 48)).convert("P") for i in range(300)]
    exif = Image.Exif()
    exif[0x0112] = 6
    gradient = np.linspace(0, 255, 7000, dtype=np.uint8)
    largest = Image.fromarray(np.dstack([np.tile(gradient, (7000, 1))] * 3))  # 49 MP, just under the limit
    transparent = picture.convert("RGBA")
    transparent.putalpha(Image.new("L", picture.size, 0))
    return [
        ("cmyk-jpeg", _encoded(picture.convert("CMYK"), "JPEG")),
        ("png-16bit", _encoded(Image.fromarray(np.arange(240 * 320, dtype=np.uint16).reshape(240, 320)), "PNG")),
        (
            "tiff-float",
            _encoded(Image.fromarray(np.random.default_rng(1).random((240, 320)).astype(np.float32)), "TIFF"),
        ),
        ("png-transparent", _encoded(transparent, "PNG")),
        ("png-palette-transparency", _encoded(picture.convert("P"), "PNG", transparency=0)),
        ("png-1bit", _encoded(picture.convert("1"), "PNG")),
        ("gif-300-frames", _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10)),
        ("apng", _encoded(picture, "PNG", save_all=True, append_images=[picture.rotate(90)] * 5)),
        ("jpeg-exif-rotated", _encoded(picture, "JPEG", exif=exif)),
        ("jpeg-then-zip", _encoded(picture, "JPEG") + b"PK\x03\x04" + b"\x00" * 100),
        ("png-then-html", _encoded(picture, "PNG") + b"<html><script>alert(1)</script></html>"),
        ("png-49mp", _encoded(largest, "PNG", compress_level=1)),
    ]


# -- collection entries ---------------------------------------------------------------------------

Entry = Callable[[Path], None]


def _write(data: bytes) -> Entry:
    return lambda path: path.write_bytes(data)


def _link(target: str) -> Entry:
    return lambda path: path.symlink_to(target)


def _sparse(size: int) -> Entry:
    def make(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.truncate(size)

    return make


def hostile_image_entries() -> dict[str, Entry]:
    """Entries of images/ that ingest must refuse and name: {file name: how to make it}."""
    picture = _picture(5, (160, 120))
    jpeg, png = _encoded(picture, "JPEG"), _encoded(picture, "PNG")
    entries: dict[str, Entry] = {
        "empty.jpg": _write(b""),
        "notes.png": _write(b"these are notes, not a picture"),
        "page.jpg": _write(b"<html><body>a web page saved as .jpg</body></html>"),
        "strip.png": _write(png_of_zeros(60000, 1)),
        "ribbon.png": _write(png_of_zeros(20000, 20)),
        "bomb.png": _write(png_header_only(12000, 12000)),
        "bomb-float.tif": _write(tiff_header_only(40000, 40000)),
        "bomb.gif": _write(gif_header_only(65535, 65535)),
        "bomb.jpg": _write(jpeg_with_size(65500, 65500)),
        "icon.png": _write(_encoded(picture, "ICO")),
        "postscript.jpg": _write(_encoded(picture, "EPS")),
        "document.tif": _write(_encoded(picture, "PDF")),
        "texture.png": _write(_encoded(picture, "DDS")),
        "photoshop.jpg": _write(b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 3, 64, 64, 8, 3)),
        "huge-file.tif": _sparse(1_100_000_000),
        "passwd.jpg": _link("/etc/passwd"),
        "outside.png": _link("../../outside.png"),
        "broken-link.jpg": _link("does-not-exist.jpg"),
        "loop.jpg": _link("loop.jpg"),
        "fifo.jpg": lambda path: os.mkfifo(path),
        "coins.png": _write(png),  # the stem of coins.jpg: one record id for two files
    }
    for fraction in (1, 2, 3, 5, 7, 9):
        entries[f"cut-{fraction}0.jpg"] = _write(jpeg[: len(jpeg) * fraction // 10])
        entries[f"cut-{fraction}0.png"] = _write(png[: len(png) * fraction // 10])
    for fmt, suffix in (("GIF", "gif"), ("WEBP", "webp"), ("TIFF", "tif"), ("BMP", "bmp")):
        data = _encoded(picture.convert("P") if fmt == "GIF" else picture, fmt)
        for fraction in (2, 5, 8):
            entries[f"cut-{fraction}0-{fmt.lower()}.{suffix}"] = _write(data[: (len(data) - 20) * fraction // 10])
    return entries


def good_image_entries(images: dict[str, np.ndarray]) -> dict[str, Entry]:
    """Entries with odd names or forms that ingest must index: {file name: how to make it}."""
    return {
        "coins.jpg": _write(_encoded(Image.fromarray(images["coins"]), "JPEG")),
        "Dürer – Melencolia I.jpg": _write(_encoded(Image.fromarray(images["moon"]), "JPEG")),
        'it\'s "quoted"; & spaced.JPG': _write(_encoded(Image.fromarray(images["chelsea"]), "JPEG")),
        ("x" * 200) + ".png": _write(_encoded(Image.fromarray(images["camera"]), "PNG")),
        "png-content.jpg": _write(_encoded(Image.fromarray(images["coffee"]), "PNG")),
        "inner-link.jpg": _link("coins.jpg"),  # a link that stays inside the collection
    }


def hostile_metadata_entries() -> dict[str, Entry]:
    """Metadata CSVs (in metadata/) that ingest must report, each by its name: {file name: maker}."""
    text = lambda content: _write(content.encode("utf-8"))  # noqa: E731
    return {
        "empty.csv": _write(b""),
        "binary.csv": _write(b"\x00\x01\x02record_id\x00\xff"),
        "no-id.csv": text("title,person\nA,B\n"),
        "wide.csv": text(",".join(f"column{i}" for i in range(10_000)) + "\n1,2\n"),
        "huge-field.csv": text(f"record_id,title\nmoon-x,{'x' * 200_000}\n"),
        "too-many-fields.csv": text("record_id,title\nmoon-y,One,two,three\n"),
        "javascript-link.csv": text('record_id,record_url\nghost-js,"javascript:alert(document.cookie)"\n'),
        "data-link.csv": text('record_id,image_url\nghost-data,"data:text/html,<script>alert(1)</script>"\n'),
        "duplicate-rows.csv": text("record_id,title\nghost-dup,First\nghost-dup,Second\n"),
        "empty-id.csv": text("record_id,title\n,No id\n"),
        "no-image.csv": text("record_id,title\nnowhere-to-be-found,Ghost\n"),
        "unclosed-quote.csv": text('filename,title\nnever.jpg,"never closed\n'),
        "fifo.csv": lambda path: os.mkfifo(path),
        "passwd.csv": _link("/etc/passwd"),
        "folder.csv": lambda path: path.mkdir(),
    }
