"""A metadata CSV whose rows name their image by URL (ETH's eMuseumPlus export, AIC's open data).

The same columns and aliases as a folder's metadata.csv (`image_url`, `imageURL`, `recordID` …).
An `image_url` that is an IIIF Image API request (`…/full/843,/0/default.jpg`) is fetched through
its service at the size platemark needs, and search results can then link to the matched region.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from platemark.errors import MetadataError, SourceError
from platemark.hookspecs import hookimpl
from platemark.iiif.image_api import service_from_image_url
from platemark.iiif.links import IIIFLink
from platemark.ingest.metadata import parse_metadata_csv
from platemark.ingest.sources.base import PrintRecord, RemoteImage, Source, SourceListing


class UrlCsvSource(Source):
    """A CSV file (path or URL) with a record id and an image URL per row."""

    kind = "csv"
    description = "a .csv file or URL with record_id and image_url (or imageURL) columns"

    @classmethod
    def recognises(cls, location: str) -> bool:
        return urlsplit(location).path.lower().endswith(".csv")

    def read(self, collection: str | None = None) -> SourceListing:
        name = collection or Path(urlsplit(self.location).path).stem
        try:
            table = parse_metadata_csv(self.fetcher.read_bytes(self.location, local=True), self.location)
        except MetadataError as exc:
            raise SourceError(str(exc)) from None
        if not any("image_url" in row for row in table.rows) and table.rows:
            raise SourceError(
                f"{self.location}: no image URL column (image_url, imageURL); "
                "a metadata CSV beside the images is read by ingesting their folder"
            )
        listing = SourceListing(name, [], problems=table.problems)
        seen: dict[str, int] = {}
        for row, line in zip(table.rows, table.lines, strict=True):
            record_id, url = row.pop("record_id", ""), row.get("image_url", "")
            where = f"{self.location}: line {line}"
            if not record_id or not url:
                listing.rejected.append((where, "no record id" if not record_id else "no http(s) image_url"))
            elif record_id in seen:
                listing.rejected.append((where, f"record id {record_id!r} is already used on line {seen[record_id]}"))
            else:
                seen[record_id] = line
                service = service_from_image_url(url)
                fields = {k: v for k, v in row.items() if v}
                iiif = IIIFLink(service=service) if service else None
                listing.records.append(PrintRecord(name, record_id, RemoteImage(url, service), fields, iiif))
        if not listing.records:
            raise SourceError(f"{self.location}: no rows with a record id and an image URL")
        return listing


@hookimpl
def register_sources() -> list[type[Source]]:
    return [UrlCsvSource]
