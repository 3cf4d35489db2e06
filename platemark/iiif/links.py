"""IIIF out: where a record's image lives in IIIF, and links that open a match there.

A harvested record keeps its manifest, canvas and Image API service. For a match, the region
found on the record image (in the pixels platemark analysed) becomes an Image API URL of that
region at full resolution, a `canvas#xywh=` target, and a IIIF Content State that any
Content-State-aware viewer (Mirador, Universal Viewer, Theseus) opens at the match.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from platemark.iiif.image_api import ImageService

Quad = list[list[float]]


@dataclass(frozen=True)
class IIIFLink:
    """A record's place in IIIF: any of manifest, canvas and image service may be missing."""

    manifest: str | None = None
    canvas: str | None = None
    canvas_width: int | None = None
    canvas_height: int | None = None
    service: ImageService | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "manifest": self.manifest,
                "canvas": self.canvas,
                "canvas_width": self.canvas_width,
                "canvas_height": self.canvas_height,
                "service": self.service.to_dict() if self.service else None,
            }
        )

    @classmethod
    def from_json(cls, value: str | None) -> IIIFLink | None:
        if not value:
            return None
        data = json.loads(value)
        service = ImageService.from_dict(data["service"]) if data.get("service") else None
        return cls(
            data.get("manifest"), data.get("canvas"), data.get("canvas_width"), data.get("canvas_height"), service
        )

    def public(self) -> dict[str, Any]:
        """What the API and CLI show of the link."""
        return {
            "manifest": self.manifest,
            "canvas": self.canvas,
            "image_service": self.service.id if self.service else None,
            "image_api_version": self.service.version if self.service else None,
            "image_api_level": self.service.level if self.service else None,
            "image_width": self.service.width if self.service else None,
            "image_height": self.service.height if self.service else None,
            "tile_width": self.service.tile_width if self.service else None,
            "tile_height": self.service.tile_height if self.service else None,
            "scale_factors": list(self.service.scale_factors) if self.service else [],
        }

    def match(self, region: Quad | None, analysed: tuple[int, int]) -> dict[str, str | None]:
        """Links to the matched region (a quad in the analysed image's pixels, `analysed` = its size).

        Returns region_url (Image API, full resolution; None at level 0 or without a service),
        target (`canvas#xywh=` in canvas coordinates) and content_state (encoded, for a viewer's
        `iiif-content` parameter); both None without a canvas.
        """
        box = _bounding_box(region, analysed) if region else None
        region_url = target = state = None
        if self.service and box:
            full = (self.service.width, self.service.height)
            if full[0] and full[1]:
                region_url = self.service.region_url(_scaled(box, analysed, (full[0], full[1])))
        if self.canvas:
            canvas_size = (self.canvas_width, self.canvas_height)
            target = self.canvas
            if box and canvas_size[0] and canvas_size[1]:
                x, y, w, h = _scaled(box, analysed, (canvas_size[0], canvas_size[1]))
                target = f"{self.canvas}#xywh={x},{y},{w},{h}"
            state = content_state(target, self.manifest)
        return {"region_url": region_url, "target": target, "content_state": state}


def content_state(target: str, manifest: str | None) -> str:
    """A IIIF Content State (1.0) annotation pointing at `target`, encoded for a URL parameter.

    The encoding is the spec's: URI-encode the JSON, then base64url without padding.
    """
    canvas: dict[str, Any] = {"id": target, "type": "Canvas"}
    if manifest:
        canvas["partOf"] = [{"id": manifest, "type": "Manifest"}]
    annotation = {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "type": "Annotation",
        "motivation": ["contentState"],
        "target": canvas,
    }
    uri_encoded = quote(json.dumps(annotation, separators=(",", ":")), safe="-_.!~*'()")
    return base64.urlsafe_b64encode(uri_encoded.encode()).decode().rstrip("=")


def decode_content_state(encoded: str) -> dict[str, Any]:
    """The annotation inside an encoded Content State (the inverse of `content_state`)."""
    padded = encoded + "=" * (-len(encoded) % 4)
    return json.loads(unquote(base64.urlsafe_b64decode(padded).decode()))


def _bounding_box(quad: Quad, size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of a quad, clipped to the image; None if nothing is left."""
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    x0, y0 = max(0.0, min(xs)), max(0.0, min(ys))
    x1, y1 = min(float(size[0]), max(xs)), min(float(size[1]), max(ys))
    return (x0, y0, x1, y1) if x1 - x0 >= 1 and y1 - y0 >= 1 else None


def _scaled(
    box: tuple[float, float, float, float], analysed: tuple[int, int], full: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The box in another pixel grid of the same picture, as whole pixels (x, y, w, h)."""
    sx, sy = full[0] / analysed[0], full[1] / analysed[1]
    x, y = int(box[0] * sx), int(box[1] * sy)
    return x, y, max(1, min(full[0], round(box[2] * sx)) - x), max(1, min(full[1], round(box[3] * sy)) - y)
