"""IIIF Presentation API (2.x and 3.0): manifests and collections as platemark records.

Pure functions over parsed JSON: what a manifest shows (one image per canvas, with its Image API
service), what it says (label, metadata pairs, rights, credit line, homepage, provider mapped to
platemark's columns), and what a collection or collection page lists. Fetching is the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from platemark.errors import SourceError
from platemark.iiif.image_api import ImageService, positive_int, service_from_manifest
from platemark.ingest.metadata import canonical_name

#: Metadata labels museums use -> platemark column (after `canonical_name`).
LABEL_COLUMNS = {
    "artist": "person",
    "creator": "person",
    "author": "person",
    "maker": "person",
    "printmaker": "person",
    "engraver": "person",
    "publisher": "publisher",
    "created": "date",
    "date_created": "date",
    "dated": "date",
    "object_number": "inventory_number",
    "inventory_no": "inventory_number",
    "accession_number": "inventory_number",
    "shelfmark": "inventory_number",
    "call_number": "inventory_number",
    "medium": "material_technique",
    "technique": "material_technique",
    "material": "material_technique",
    "materials": "material_technique",
    "medium_and_support": "material_technique",
    "object_type": "classification",
    "type": "classification",
    "genre": "classification",
    "credit_line": "credit_line",
    "attribution": "credit_line",
    "rights": "image_licence",
    "license": "image_licence",
    "licence": "image_licence",
    "repository": "institution",
    "holding_institution": "institution",
    "record_id": "record_id",
}

#: Languages tried in order when a 3.0 value is a language map.
LANGUAGES = ("en", "none", "de", "fr", "it")


@dataclass(frozen=True)
class CanvasImage:
    """One image painted on a canvas: what becomes one platemark record."""

    record_id: str
    canvas: str
    canvas_width: int | None
    canvas_height: int | None
    url: str  # the image resource itself (used when there is no service)
    service: ImageService | None


@dataclass
class Manifest:
    """What platemark takes from a manifest."""

    id: str
    version: int
    metadata: dict[str, str]
    images: list[CanvasImage] = field(default_factory=list)


@dataclass
class Listing:
    """What a collection (or one page of it) points to."""

    label: str
    manifests: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)  # first page / next page of a paged collection


def kind(doc: Any) -> str:
    """ "Manifest", "Collection" or "" for a parsed document."""
    value = kind_of(doc) if isinstance(doc, dict) else ""
    return value if value in ("Manifest", "Collection") else ""


def version_of(doc: dict[str, Any]) -> int:
    context = doc.get("@context")
    contexts = context if isinstance(context, list) else [context]
    return 3 if any("presentation/3" in str(c) for c in contexts) or ("id" in doc and "@id" not in doc) else 2


def resource_id(doc: dict[str, Any]) -> str:
    value = doc.get("id") or doc.get("@id")
    return value if isinstance(value, str) else ""


def parse_collection(doc: dict[str, Any]) -> Listing:
    """The manifests, sub-collections and pages a collection (2.x or 3.0) or collection page lists."""
    listing = Listing(text(doc.get("label")))
    members = [*_as_list(doc.get("members")), *_as_list(doc.get("items"))]
    members += [{**m, "type": "Manifest"} for m in _as_list(doc.get("manifests")) if isinstance(m, dict)]
    members += [{**m, "type": "Collection"} for m in _as_list(doc.get("collections")) if isinstance(m, dict)]
    for member in members:
        if not isinstance(member, dict) or not (member_id := resource_id(member)):
            continue
        member_kind = kind(member)
        if member_kind == "Manifest":
            listing.manifests.append(member_id)
        elif member_kind == "Collection":
            listing.collections.append(member_id)
    for link in ("first", "next"):
        target = doc.get(link)
        target = resource_id(target) if isinstance(target, dict) else target
        if isinstance(target, str) and target:
            listing.pages.append(target)
    return listing


def parse_manifest(doc: dict[str, Any], fallback_id: str = "") -> Manifest:
    """A manifest's metadata in platemark's columns, and one CanvasImage per painted image.

    Record ids come from a metadata pair labelled "Record ID" if there is one, else from the
    manifest's id (its last path segment, without `manifest.json`), and for a manifest with
    several canvases the canvas's own last segment is appended: stable while the source is.

    Raises:
        SourceError: the manifest has no canvases with an image.
    """
    manifest_id = resource_id(doc) or fallback_id
    version = version_of(doc)
    metadata = _metadata(doc)
    base_id = metadata.pop("record_id", "") or short_id(manifest_id)
    found = [(canvas, image) for canvas in _canvases(doc, version) for image in _images(canvas, version)]
    if not found:
        raise SourceError(f"{manifest_id or 'manifest'}: no canvas with an image")
    tails = [_tail(resource_id(canvas)) for canvas, _ in found]
    unique = len(set(tails)) == len(tails) and all(tails)
    images = []
    for index, ((canvas, (url, service)), tail) in enumerate(zip(found, tails, strict=True), start=1):
        record_id = base_id if len(found) == 1 else f"{base_id}/{tail if unique else index}"
        images.append(
            CanvasImage(
                record_id,
                resource_id(canvas),
                positive_int(canvas.get("width")),
                positive_int(canvas.get("height")),
                url,
                service,
            )
        )
    return Manifest(manifest_id, version, metadata, images)


def short_id(uri: str) -> str:
    """A readable record id from a resource URI: `…/artworks/27992/manifest.json` -> `27992`."""
    path = urlsplit(uri).path.rstrip("/")
    segments = [s for s in path.split("/") if s]
    while segments and re.fullmatch(r"(manifest|info|iiif|presentation)(\.json)?", segments[-1], re.I):
        segments.pop()
    if not segments:
        return urlsplit(uri).netloc or uri
    return re.sub(r"\.json$", "", segments[-1], flags=re.I)


def text(value: Any, languages: tuple[str, ...] = LANGUAGES) -> str:
    """Plain text of a Presentation value: a string, a 2.x @value list, or a 3.0 language map.

    Several values are joined with "; "; HTML (allowed in both versions) is reduced to its text.
    """
    if isinstance(value, dict) and "@value" not in value and "value" not in value:
        for language in (*languages, *value):
            if language in value:
                return text(value[language])
        return ""
    if isinstance(value, dict):
        return text(value.get("@value", value.get("value")))
    if isinstance(value, list):
        english = [v for v in value if isinstance(v, dict) and str(v.get("@language", "")).startswith("en")]
        return "; ".join(t for t in (text(v) for v in (english or value)) if t)
    if isinstance(value, str):
        return _strip_html(value).strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _metadata(doc: dict[str, Any]) -> dict[str, str]:
    """Label, metadata pairs, rights, credit line, homepage and provider in platemark's columns."""
    metadata: dict[str, str] = {}
    for pair in _as_list(doc.get("metadata")):
        if not isinstance(pair, dict):
            continue
        label, value = text(pair.get("label")), text(pair.get("value"))
        key = canonical_name(label)
        key = LABEL_COLUMNS.get(key, key)
        if label and value and key not in metadata:
            metadata[key] = value
    if title := text(doc.get("label")):
        metadata["title"] = title
    if summary := text(doc.get("summary") or doc.get("description")):
        metadata.setdefault("description", summary)
    credit = doc.get("requiredStatement")
    credit_text = text(credit.get("value")) if isinstance(credit, dict) else text(doc.get("attribution"))
    if credit_text:
        metadata["credit_line"] = credit_text
    licence = doc.get("rights") or doc.get("license")
    if licence_text := text(licence[0] if isinstance(licence, list) and licence else licence):
        metadata["image_licence"] = licence_text
    if page := _first_link(doc.get("homepage")) or _first_link(doc.get("related")):
        metadata["record_url"] = page
    providers = [text(p.get("label")) for p in _as_list(doc.get("provider")) if isinstance(p, dict)]
    if provider := "; ".join(p for p in providers if p):
        metadata["institution"] = provider
    if (nav_date := doc.get("navDate")) and isinstance(nav_date, str):
        metadata.setdefault("date", nav_date[:10])
    return metadata


def _canvases(doc: dict[str, Any], version: int) -> list[dict[str, Any]]:
    if version >= 3:
        return [c for c in _as_list(doc.get("items")) if isinstance(c, dict) and kind_of(c) == "Canvas"]
    canvases = []
    for sequence in _as_list(doc.get("sequences"))[:1]:  # the first sequence is the default order
        if isinstance(sequence, dict):
            canvases += [c for c in _as_list(sequence.get("canvases")) if isinstance(c, dict)]
    return canvases


def _images(canvas: dict[str, Any], version: int) -> list[tuple[str, ImageService | None]]:
    """(image URL, service) of each image painted on a canvas."""
    bodies = []
    if version >= 3:
        for page in _as_list(canvas.get("items")):
            for annotation in _as_list(page.get("items") if isinstance(page, dict) else None):
                if isinstance(annotation, dict) and annotation.get("motivation") in ("painting", None):
                    bodies += _as_list(annotation.get("body"))
    else:
        bodies = [a.get("resource") for a in _as_list(canvas.get("images")) if isinstance(a, dict)]
    images = []
    for body in bodies:
        if isinstance(body, dict) and kind_of(body) == "Choice":  # alternatives: the first is the default
            body = (_as_list(body.get("items")) or [None])[0]
        if not isinstance(body, dict):
            continue
        url, service = resource_id(body), service_from_manifest(body.get("service"))
        if service and not (service.width and service.height):
            service = replace(service, width=positive_int(body.get("width")), height=positive_int(body.get("height")))
        if url.startswith(("http://", "https://")) or service:
            images.append((url, service))
    return images


def kind_of(resource: dict[str, Any]) -> str:
    return str(resource.get("type") or resource.get("@type") or "").split(":")[-1]


def _first_link(value: Any) -> str:
    for entry in _as_list(value):
        link = resource_id(entry) if isinstance(entry, dict) else entry
        if isinstance(link, str) and link.startswith(("http://", "https://")):
            return link
    return ""


def _tail(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1].split("#")[0] if uri else ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _strip_html(value: str) -> str:
    if "<" not in value:
        return value
    parser = _TextOnly()
    parser.feed(value)
    parser.close()
    return " ".join("".join(parser.parts).split())
