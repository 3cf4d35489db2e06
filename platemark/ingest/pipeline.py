"""Ingest a collection into a catalog: incremental, resumable, and tolerant of bad files and servers."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
from tqdm import tqdm

from platemark.errors import UnreadableImage
from platemark.extract.cnn import CNNExtractor
from platemark.extract.sift import LocalFeatures, SiftExtractor
from platemark.images import encode_jpeg, load_image, write_atomically
from platemark.index.build import progress_line, update_index
from platemark.ingest.fetch import Fetcher, Politeness
from platemark.ingest.harvest import DownloadCache, download
from platemark.ingest.sources.base import PrintRecord, SourceListing, open_source
from platemark.store import Catalog, open_catalog

#: Longest side at which collection images are decoded, analysed and kept for display.
INGEST_MAX_SIDE = 1600
THUMBNAIL_SIDE = 512

#: Two perceptual hashes closer than this many bits (of 64) show the same picture.
PLACEHOLDER_DISTANCE = 8

#: Below this many images to process, work in this process instead of starting workers.
POOL_THRESHOLD = 24

#: During a long ingest, records stored are indexed at least this often (seconds), so they can be found.
INDEX_EVERY = 60

#: Ingest workers run at this niceness: searches on the same machine are interactive and come first.
WORKER_NICENESS = 10


def extractor_names() -> dict[str, str]:
    """The feature extractors a catalog's records must have been made with."""
    return {
        "global": f"{CNNExtractor.name}/{CNNExtractor.version}",
        "local": f"{SiftExtractor.name}/{SiftExtractor.version}",
    }


@dataclass
class IngestReport:
    """What an ingest run did, and every file or row it could not use."""

    collection: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    placeholders_removed: int = 0
    pruned: int = 0
    requests: int = 0  # HTTP requests made (downloads, retries and "has it changed?" checks)
    media: Path = Path()  # the catalog's media directory, where the failure report goes
    download_seconds: float = 0.0  # reading the source and downloading its images
    failed: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class Extracted:
    """Features of one image, computed in a worker."""

    global_vector: np.ndarray
    local: LocalFeatures
    phash: np.ndarray
    display_jpeg: bytes  # the analysed image: region coordinates refer to its pixels
    thumbnail_jpeg: bytes


class FeatureWorker:
    """Decodes an image and computes everything the catalog stores about it."""

    def __init__(self, threads: int = 1) -> None:
        self.cnn = CNNExtractor(threads=threads)
        self.sift = SiftExtractor()

    def __call__(self, path: Path) -> Extracted:
        rgb = load_image(path, max_side=INGEST_MAX_SIDE)
        return Extracted(
            self.cnn.extract(rgb),
            self.sift.extract(rgb),
            perceptual_hash(rgb),
            encode_jpeg(rgb, quality=90),
            encode_jpeg(rgb, max_side=THUMBNAIL_SIDE),
        )


_worker: FeatureWorker  # set in each worker process by _init_worker


def _init_worker(parent: int) -> None:
    global _worker
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()
    _worker = FeatureWorker(threads=1)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the ingest that started it is gone (even SIGKILLed): never an orphan."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _run_worker(path: Path) -> Extracted | UnreadableImage:
    try:
        return _worker(path)
    except UnreadableImage as exc:
        return exc


def perceptual_hash(rgb: np.ndarray) -> np.ndarray:
    """64-bit DCT perceptual hash (OpenCV img_hash.PHash) as 8 bytes."""
    return cv2.img_hash.PHash_create().compute(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[0]


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(np.bitwise_xor(a, b)).sum())


def ingest(
    source: str | Path,
    catalog_path: str | Path,
    *,
    media: str | Path | None = None,
    collection: str | None = None,
    prune: bool = False,
    workers: int | None = None,
    politeness: Politeness | None = None,
    progress: bool = True,
    on_record: Callable[[str], None] | None = None,
) -> IngestReport:
    """Index a collection into a catalog; only new or changed images are processed.

    The source is a collection folder, a CSV of image URLs or IIIF (manifest, collection or a
    list of manifests), or a kind an installed plugin adds (see `platemark.hookspecs`). Remote
    images are downloaded politely into the catalog's download cache first. Each record is
    stored with its features in one transaction, so an interrupted run leaves a consistent
    catalog and the next run carries on. Bad images and failed downloads are listed in the
    report and skipped; the rest of the collection is indexed.

    Args:
        source: folder path, CSV path or URL, IIIF URL or file.
        catalog_path: catalog directory (created if missing) or postgresql:// URL.
        media: images and index files of a PostgreSQL catalog (see `open_catalog`).
        collection: collection name (default: the name the source suggests, e.g. the folder's).
        prune: delete records that are no longer in the source (not done when part of the
            source could not be read).
        workers: worker processes for feature extraction (default: CPU count).
        politeness: limits for downloads (default: `Politeness()`).

    Example:
        >>> report = ingest("collections/prints", "./catalog")
    """
    started = time.time()
    with Fetcher(politeness) as fetcher:
        listing = open_source(str(source), fetcher).read(collection)  # a source that is not one makes no catalog
        with open_catalog(catalog_path, media=media, create=True, extractors=extractor_names()) as catalog:
            return _ingest_listing(listing, source, catalog, fetcher, started, prune, workers, progress, on_record)


def _ingest_listing(
    listing: SourceListing,
    source: str | Path,
    catalog: Catalog,
    fetcher: Fetcher,
    started: float,
    prune: bool,
    workers: int | None,
    progress: bool,
    on_record: Callable[[str], None] | None,
) -> IngestReport:
    """Download, extract and store a listing's records (see `ingest`)."""
    report = IngestReport(
        listing.name, problems=list(listing.problems), failed=list(listing.rejected), media=catalog.media
    )
    catalog.set_collection_source(listing.name, _location(source))
    cache = DownloadCache.for_collection(catalog.media, listing.name)
    harvest = download(listing.records, fetcher, cache, side=INGEST_MAX_SIDE, progress=progress)
    report.failed += harvest.failed
    report.requests = fetcher.requests
    report.download_seconds = time.time() - started
    catalog.set_image_origins(listing.name, _image_origins(listing.records))
    known = catalog.content_hashes(listing.name)
    placeholder_hashes = _placeholder_hashes(listing.placeholders, report)

    def is_placeholder(phash: np.ndarray) -> bool:
        return any(hamming(phash, h) <= PLACEHOLDER_DISTANCE for h in placeholder_hashes)

    todo: list[tuple[PrintRecord, str]] = []
    placeholders: list[str] = []
    for record in harvest.records:
        try:
            digest = hashlib.sha256(record.image_path.read_bytes()).hexdigest()
        except OSError as exc:
            report.failed.append((record.label, f"cannot read file ({exc.strerror})"))
            continue
        if known.get(record.record_id) != digest:
            todo.append((record, digest))
        elif placeholder_hashes and (phash := _thumbnail_hash(catalog, digest)) is not None and is_placeholder(phash):
            placeholders.append(record.record_id)  # indexed before images_to_remove/ listed it
        else:
            catalog.update_metadata(listing.name, record.record_id, record.metadata, record.years, record.iiif)
            report.unchanged += 1

    results = _extract_all([r.image_path for r, _ in todo], workers, progress, listing.name)
    last_indexed = time.monotonic()
    for (record, digest), result in zip(todo, results, strict=True):
        if time.monotonic() - last_indexed > INDEX_EVERY:
            update_index(catalog)
            last_indexed = time.monotonic()
        if isinstance(result, UnreadableImage):
            report.failed.append((record.label, str(result).split(": ", 1)[-1]))
            continue
        if is_placeholder(result.phash):
            placeholders.append(record.record_id)
            continue
        is_update = record.record_id in known
        write_atomically(catalog.images_dir / f"{digest}.jpg", result.display_jpeg)
        write_atomically(catalog.thumbs_dir / f"{digest}.jpg", result.thumbnail_jpeg)
        catalog.upsert(
            collection=listing.name,
            record_id=record.record_id,
            image_path=_origin(record),
            content_hash=digest,
            metadata=record.metadata,
            years=record.years,
            iiif=record.iiif,
            global_vector=result.global_vector,
            local=result.local,
        )
        report.updated += is_update
        report.added += not is_update
        if on_record:
            on_record(record.record_id)

    report.placeholders_removed = len(placeholders)
    catalog.delete(listing.name, placeholders)
    if prune and not listing.complete:
        report.problems.append("part of the source could not be read: nothing was pruned")
    elif prune:
        gone = sorted(set(known) - {r.record_id for r in listing.records})
        report.pruned = catalog.delete(listing.name, gone)
        cache.remove(gone)
    catalog.remove_orphan_images(written_before=started)
    if catalog.count():  # build the search indexes now, not on the first search
        catalog.warm()
        with progress_line(progress) as shown:  # a retrain or a large merge takes minutes
            update_index(catalog, progress=shown)
    return report


def _location(source: str | Path) -> str:
    """The source as recorded in the catalog: a URL as given, a path made absolute."""
    text = str(source)
    return text if urlsplit(text).scheme in ("http", "https") else str(Path(text).resolve())


def _image_origins(records: list[PrintRecord]) -> set[str]:
    """scheme://host of each Image API service the records use."""
    services = [r.iiif.service.id for r in records if r.iiif and r.iiif.service]
    return {f"{urlsplit(s).scheme}://{urlsplit(s).netloc}" for s in services}


def _origin(record: PrintRecord) -> str:
    """Where a record's image comes from, for the catalog and messages: its URL or its file."""
    return record.downloaded_from or str(record.image_path.resolve())


def _thumbnail_hash(catalog: Catalog, digest: str) -> np.ndarray | None:
    """Perceptual hash of an indexed image, from its thumbnail (the hash works at 32x32 anyway)."""
    try:
        return perceptual_hash(load_image(catalog.thumbs_dir / f"{digest}.jpg"))
    except UnreadableImage:
        return None


def _placeholder_hashes(paths: list[Path], report: IngestReport) -> list[np.ndarray]:
    hashes = []
    for path in paths:
        try:
            hashes.append(perceptual_hash(load_image(path, max_side=512)))
        except UnreadableImage as exc:
            report.problems.append(f"placeholder {exc}")
    return hashes


def _extract_all(
    paths: list[Path], workers: int | None, progress: bool, label: str
) -> Iterator[Extracted | UnreadableImage]:
    """Features for each path, in order, from a pool of worker processes when worth it."""
    bar = tqdm(total=len(paths), desc=f"ingest {label}", unit="img", disable=None if progress and paths else True)
    workers = workers or os.cpu_count() or 1
    if len(paths) < POOL_THRESHOLD or workers == 1:
        worker = FeatureWorker()
        for path in paths:
            try:
                yield worker(path)
            except UnreadableImage as exc:
                yield exc
            bar.update()
    else:
        with ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(os.getpid(),)
        ) as pool:
            for result in pool.map(_run_worker, paths, chunksize=4):
                yield result
                bar.update()
    bar.close()
