"""Download a source's remote images into the catalog's download cache: politely and resumably.

Each image is written (atomically) with a small JSON note of where it came from and the server's
validators (ETag, Last-Modified). A harvest that is killed keeps what it downloaded; the next
run asks the server only "has it changed?" (a conditional GET, answered 304) for those, and
fetches only new or changed images. A failed download leaves the cached copy and the indexed
record as they were.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image
from tqdm import tqdm

from platemark.errors import FetchFailed, UnreadableImage
from platemark.iiif.image_api import ImageService
from platemark.images import decode, encode_jpeg, write_atomically
from platemark.ingest.fetch import Fetcher
from platemark.ingest.sources.base import PrintRecord, RemoteImage

IMAGE_TYPES = ("image/",)


@dataclass(frozen=True)
class HarvestResult:
    """The records with their images on disk, and the ones that could not be downloaded, with why."""

    records: list[PrintRecord]
    failed: list[tuple[str, str]]  # (record id and URL, why)


class DownloadCache:
    """Downloaded images of one collection, named by record id, each with a note of its origin."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_collection(cls, media: Path, collection: str) -> DownloadCache:
        return cls(media / "downloads" / hashlib.sha1(collection.encode()).hexdigest()[:16])

    def _stem(self, record_id: str) -> Path:
        return self.root / hashlib.sha1(record_id.encode()).hexdigest()[:32]

    def note(self, record_id: str) -> dict[str, Any] | None:
        """Where the cached image came from, or None if there is no usable cached image."""
        try:
            note = json.loads(self._stem(record_id).with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
        return note if (self.root / note.get("file", "")).is_file() else None

    def store(self, record_id: str, data: bytes, content_type: str, note: dict[str, Any]) -> Path:
        """Write the image, then its note (so a note always describes a complete image)."""
        self.root.mkdir(parents=True, exist_ok=True)
        suffix = mimetypes.guess_extension(content_type) or ".img"
        path = self._stem(record_id).with_suffix(suffix if suffix != ".jpe" else ".jpg")
        write_atomically(path, data)
        write_atomically(self._stem(record_id).with_suffix(".json"), json.dumps({**note, "file": path.name}).encode())
        return path

    def path(self, note: dict[str, Any]) -> Path:
        return self.root / note["file"]

    def remove(self, record_ids: list[str]) -> None:
        for record_id in record_ids:
            if note := self.note(record_id):
                self.path(note).unlink(missing_ok=True)
            self._stem(record_id).with_suffix(".json").unlink(missing_ok=True)


def download(
    records: list[PrintRecord], fetcher: Fetcher, cache: DownloadCache, *, side: int, progress: bool = True
) -> HarvestResult:
    """Bring every remote image of `records` into the cache, at about `side` pixels on the longer side.

    Records with a local image pass through. A record with an Image API service gets the service
    (completed from info.json when the manifest did not say enough) in its IIIF link.
    """
    local = [r for r in records if isinstance(r.image, Path)]
    remote = [r for r in records if not isinstance(r.image, Path)]
    result = HarvestResult(local, [])
    # More threads than connections allowed: the per-host gates do the limiting, and a harvest
    # from several hosts keeps each of them busy.
    threads = max(1, min(32, fetcher.politeness.per_host * 4))
    with (
        ThreadPoolExecutor(threads) as pool,
        tqdm(total=len(remote), desc="download", unit="img", disable=None if progress and remote else True) as bar,
    ):
        for record, outcome in zip(remote, pool.map(lambda r: _fetch(r, fetcher, cache, side), remote), strict=True):
            if isinstance(outcome, str):
                result.failed.append((record.label, outcome))
            else:
                result.records.append(outcome)
            bar.update()
    return result


def _fetch(record: PrintRecord, fetcher: Fetcher, cache: DownloadCache, side: int) -> PrintRecord | str:
    """The record with its image downloaded (or revalidated), or why that failed."""
    remote = cast(RemoteImage, record.image)
    origin = origin_of(record)
    note = cache.note(record.record_id)
    try:
        if note and note.get("origin") == origin:
            path, service = _revalidate(record, note, fetcher, cache)
        else:
            path, service = _first_download(record, remote, origin, fetcher, cache, side)
    except (FetchFailed, UnreadableImage) as exc:
        return str(exc).removeprefix(f"{remote.url}: ")  # the record's label names its URL already
    iiif = replace(record.iiif, service=service) if record.iiif and service else record.iiif
    return replace(record, image=path, iiif=iiif, downloaded_from=remote.url or origin)


def origin_of(record: PrintRecord) -> str:
    """What identifies a remote image: its service, else its URL (a change means a new download)."""
    remote = cast(RemoteImage, record.image)
    return remote.service.id if remote.service else remote.url


def _revalidate(
    record: PrintRecord, note: dict[str, Any], fetcher: Fetcher, cache: DownloadCache
) -> tuple[Path, ImageService | None]:
    """The cached image, fetched again only if the server says it changed.

    Without validators (no ETag or Last-Modified) or for stitched tiles there is nothing cheap to
    ask, and the cached copy is used.
    """
    service = ImageService.from_dict(note["service"]) if note.get("service") else None
    if note.get("tiles") or not (note.get("etag") or note.get("last_modified")):
        return cache.path(note), service
    fetched = fetcher.get(
        note["request"], accept=IMAGE_TYPES, etag=note.get("etag"), last_modified=note.get("last_modified")
    )
    if fetched.not_modified:
        return cache.path(note), service
    note = {**note, "etag": fetched.etag, "last_modified": fetched.last_modified}
    return cache.store(record.record_id, fetched.content, fetched.content_type, note), service


def _first_download(
    record: PrintRecord, remote: RemoteImage, origin: str, fetcher: Fetcher, cache: DownloadCache, side: int
) -> tuple[Path, ImageService | None]:
    service = remote.service
    note: dict[str, Any] = {"origin": origin, "record_id": record.record_id}
    try:
        if service is not None:
            if not service.known:
                service = service.with_info(fetcher.json(service.info_url))
            note["service"] = service.to_dict()
            request = service.image_url(side)
            if request is None:
                data = _stitch(service, fetcher, side)
                return cache.store(record.record_id, data, "image/jpeg", {**note, "tiles": True}), service
        else:
            request = remote.url
    except FetchFailed:
        if not remote.url or service is None:
            raise
        service, request = None, remote.url  # a broken service, but the plain image URL may work
    fetched = fetcher.get(request, accept=IMAGE_TYPES)
    note.update(request=request, etag=fetched.etag, last_modified=fetched.last_modified)
    return cache.store(record.record_id, fetched.content, fetched.content_type, note), service


def _stitch(service: ImageService, fetcher: Fetcher, side: int) -> bytes:
    """The image put together from a level-0 service's tiles, at the smallest scale keeping `side`."""
    tiles = service.tiles(side)
    if not tiles or not service.width or not service.height:
        raise FetchFailed(f"{service.id}: the service lists no usable size or tiles")
    factor = tiles[0].factor
    canvas = Image.new("RGB", (-(-service.width // factor), -(-service.height // factor)), "white")
    for tile in tiles:
        piece = decode(fetcher.get(service.tile_url(tile), accept=IMAGE_TYPES).content).rgb
        if piece.size != (tile.width, tile.height):
            piece = piece.resize((tile.width, tile.height))
        canvas.paste(piece, (tile.x // factor, tile.y // factor))
    return encode_jpeg(np.asarray(canvas), quality=92)
