"""The interface every kind of collection source implements, and how a location finds its kind."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from platemark.errors import SourceError
from platemark.iiif.image_api import ImageService
from platemark.iiif.links import IIIFLink
from platemark.ingest.fetch import Fetcher
from platemark.ingest.metadata import parse_years


@dataclass(frozen=True)
class RemoteImage:
    """An image to download: a plain URL, or an Image API service asked for the size needed."""

    url: str
    service: ImageService | None = None


@dataclass
class PrintRecord:
    """One catalogue record: its image (a file, or one to download) and what the metadata says."""

    collection: str
    record_id: str
    image: Path | RemoteImage
    metadata: dict[str, str] = field(default_factory=dict)
    iiif: IIIFLink | None = None
    #: The URL a downloaded image came from (set by the harvest).
    downloaded_from: str = ""

    @property
    def years(self) -> tuple[int | None, int | None]:
        return parse_years(self.metadata.get("date", ""))

    @property
    def label(self) -> str:
        """How messages name the record: its image file, or its id and the URL of its image."""
        if isinstance(self.image, Path) and not self.downloaded_from:
            return str(self.image)
        return f"{self.record_id} ({self.downloaded_from or self.image.url})"

    @property
    def image_path(self) -> Path:
        """The local image file (a remote image must have been downloaded first)."""
        if not isinstance(self.image, Path):
            raise TypeError(f"record {self.record_id!r}: its image {self.image.url} is not downloaded")
        return self.image


@dataclass
class SourceListing:
    """The records a source holds, and what in it could not be used."""

    name: str
    records: list[PrintRecord]
    placeholders: list[Path] = field(default_factory=list)  # images whose look marks "no image"
    problems: list[str] = field(default_factory=list)  # metadata that could not be used; records kept
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (entry, why): not indexed
    #: False when part of the source could not be read (a manifest that failed): records missing
    #: from this listing may still exist, so nothing is pruned.
    complete: bool = True


class Source(ABC):
    """One kind of collection source: a folder, a CSV of image URLs, IIIF, or a plugin's own.

    Args:
        location: what the user passed to `platemark ingest` (a path or a URL).
        fetcher: the polite HTTP client every download goes through.
    """

    #: Short name, shown in messages (`folder`, `csv`, `iiif`).
    kind: ClassVar[str]
    #: One line for `platemark ingest --help`: which locations this kind reads.
    description: ClassVar[str]

    def __init__(self, location: str, fetcher: Fetcher) -> None:
        self.location = location
        self.fetcher = fetcher

    @classmethod
    @abstractmethod
    def recognises(cls, location: str) -> bool:
        """Whether `location` looks like this kind of source (cheap: no network)."""

    @abstractmethod
    def read(self, collection: str | None = None) -> SourceListing:
        """List the source's records, under `collection` (default: a name the source suggests).

        Raises:
            SourceError (or CollectionNotFound): the source as a whole cannot be read.
        """


def source_kinds() -> list[type[Source]]:
    """Every registered kind of source, in the order they are tried: plugins' first, then built-ins."""
    from platemark.plugins import pm

    return [kind for kinds in pm.hook.register_sources() for kind in kinds]


def open_source(location: str, fetcher: Fetcher) -> Source:
    """The source that reads `location`.

    Raises:
        SourceError: no registered kind recognises it.
    """
    kinds = source_kinds()
    for kind in kinds:
        if kind.recognises(location):
            return kind(location, fetcher)
    accepted = "; ".join(f"{kind.kind}: {kind.description}" for kind in kinds)
    raise SourceError(f"{location}: not a source platemark can read ({accepted})")
