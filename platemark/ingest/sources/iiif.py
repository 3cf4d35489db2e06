"""IIIF Presentation sources: a manifest, a collection (followed recursively, pages too), or a
text file listing manifest URLs. Each image on each canvas becomes a record.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tqdm import tqdm

from platemark.errors import FetchFailed, SourceError
from platemark.hookspecs import hookimpl
from platemark.iiif import presentation
from platemark.iiif.links import IIIFLink
from platemark.ingest.fetch import Fetcher
from platemark.ingest.sources.base import PrintRecord, RemoteImage, Source, SourceListing

#: Most collections and collection pages followed from one source: a loop or a runaway server
#: stops here instead of walking forever.
MAX_COLLECTION_PAGES = 10_000


class IIIFSource(Source):
    """IIIF Presentation 2.x or 3.0, from a URL or a local .json file, or a .txt list of manifest URLs."""

    kind = "iiif"
    description = "a IIIF manifest or collection (URL or .json file), or a .txt file of manifest URLs"

    def __init__(self, location: str, fetcher: Fetcher) -> None:
        super().__init__(location, fetcher)
        self._fetched: dict[str, Any] = {}  # documents already read, by URL
        #: Locations the user named (the source, the lines of a .txt list): only these may be files.
        self._named = {location}

    @classmethod
    def recognises(cls, location: str) -> bool:
        if urlsplit(location).scheme in ("http", "https"):
            return not urlsplit(location).path.lower().endswith(".csv")
        return Path(location).suffix.lower() in (".json", ".txt") and Path(location).is_file()

    def read(self, collection: str | None = None) -> SourceListing:
        listing = SourceListing(collection or "", [])
        if Path(self.location).suffix.lower() == ".txt" and Path(self.location).is_file():
            manifests, label = self._listed_manifests(), ""
            self._named.update(manifests)
        else:
            manifests, label = self._walk(listing)
        listing.name = collection or label or _default_name(self.location)
        records: dict[str, PrintRecord] = {}
        with ThreadPoolExecutor(max(1, self.fetcher.politeness.per_host)) as pool:
            fetched = pool.map(self._manifest, manifests)
            for manifest_url, result in tqdm(
                zip(manifests, fetched, strict=True),
                total=len(manifests),
                desc="manifests",
                unit="manifest",
                disable=None,
            ):
                if isinstance(result, str):
                    listing.rejected.append((manifest_url, result))
                    listing.complete = False
                    continue
                for record in self._records(result, listing.name):
                    if record.record_id in records:
                        record.record_id = f"{urlsplit(result.id).netloc}{urlsplit(result.id).path}#{record.record_id}"
                    if record.record_id in records:
                        listing.rejected.append((manifest_url, f"record id {record.record_id!r} is used twice"))
                        continue
                    records[record.record_id] = record
        listing.records = list(records.values())
        if not listing.records and not listing.rejected:
            raise SourceError(f"{self.location}: lists no manifests")
        return listing

    def _listed_manifests(self) -> list[str]:
        lines = Path(self.location).read_text(encoding="utf-8", errors="replace").splitlines()
        return list(dict.fromkeys(s.strip() for s in lines if s.strip() and not s.strip().startswith("#")))

    def _walk(self, listing: SourceListing) -> tuple[list[str], str]:
        """Manifest URLs under the source (itself, if it is a manifest), and the top label."""
        try:
            top = self.fetcher.json(self.location, local=True)
        except FetchFailed as exc:
            raise SourceError(str(exc)) from None
        if presentation.kind(top) == "Manifest":
            self._fetched[self.location] = top  # not fetched twice
            return [self.location], ""
        if presentation.kind(top) != "Collection":
            raise SourceError(f"{self.location}: neither a IIIF manifest nor a collection")
        manifests: dict[str, None] = {}
        seen = {self.location}
        pending: deque[tuple[str, Any]] = deque([(self.location, top)])
        label = presentation.text(top.get("label"))
        while pending:
            url, doc = pending.popleft()
            if doc is None:
                try:
                    doc = self.fetcher.json(url)
                except FetchFailed as exc:
                    listing.rejected.append((url, str(exc)))
                    listing.complete = False
                    continue
            members = presentation.parse_collection(doc)
            manifests.update(dict.fromkeys(members.manifests))
            for link in [*members.collections, *members.pages]:
                if link not in seen and len(seen) < MAX_COLLECTION_PAGES:
                    seen.add(link)
                    pending.append((link, None))
                elif link not in seen:
                    listing.problems.append(f"{self.location}: over {MAX_COLLECTION_PAGES} collection pages; stopped")
                    listing.complete = False
                    pending.clear()
                    break
        return list(manifests), label

    def _manifest(self, url: str) -> presentation.Manifest | str:
        """The parsed manifest, or why it could not be used."""
        try:
            doc = self._fetched.pop(url, None) or self.fetcher.json(url, local=url in self._named)
            if presentation.kind(doc) != "Manifest":
                return "not a IIIF manifest"
            return presentation.parse_manifest(doc, fallback_id=url)
        except (FetchFailed, SourceError) as exc:
            return str(exc).removeprefix(f"{url}: ")

    def _records(self, manifest: presentation.Manifest, collection: str) -> list[PrintRecord]:
        return [
            PrintRecord(
                collection,
                image.record_id,
                RemoteImage(image.url, image.service),
                dict(manifest.metadata),
                IIIFLink(manifest.id, image.canvas, image.canvas_width, image.canvas_height, image.service),
            )
            for image in manifest.images
        ]


def _default_name(location: str) -> str:
    parts = urlsplit(location)
    return parts.netloc if parts.scheme in ("http", "https") else Path(location).stem


@hookimpl
def register_sources() -> list[type[Source]]:
    return [IIIFSource]
