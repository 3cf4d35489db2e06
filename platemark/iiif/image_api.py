"""IIIF Image API (2.x and 3.0): which URLs fetch an image at a size, and which cut out a region.

A service is described by a manifest (id, type or profile, sometimes its size) and fully by its
`info.json` (size, compliance level, the fixed `sizes` and `tiles` a level-0 server has). Level 1
and 2 servers scale on request (`w,` or `,h`, both level 1); a level-0 server only serves the
sizes and tiles it lists, so an image at the size platemark needs is one listed size or a set of
tiles to stitch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

#: Most tiles stitched into one image; more means a scale factor list that makes no sense.
MAX_TILES = 400

#: An Image API request: {service}/{region}/{size}/{rotation}/{quality}.{format}
IMAGE_REQUEST = re.compile(
    r"^(?P<service>https?://.+?)/(?P<region>full|square|pct:[\d.,]+|\d+,\d+,\d+,\d+)"
    r"/(?P<size>full|max|\^?max|\^?!?\d*,\d*|\^?pct:[\d.]+)/!?\d+(\.\d+)?/(default|color|gray|bitone|native)"
    r"\.(jpg|jpeg|png|tif|tiff|gif|webp)$"
)


@dataclass(frozen=True)
class Tile:
    """A tile request: region in full-image pixels, delivered at (width, height), 1/factor scale."""

    factor: int
    x: int
    y: int
    region_width: int
    region_height: int
    width: int
    height: int


@dataclass(frozen=True)
class ImageService:
    """One image's Image API service. `width`/`height` are the full image's pixels, when known."""

    id: str
    version: int = 2  # 2 or 3
    level: int | None = None  # compliance level 0, 1 or 2; None until known
    width: int | None = None
    height: int | None = None
    sizes: tuple[tuple[int, int], ...] = ()  # fixed sizes (info.json), for level 0
    tile_width: int | None = None
    tile_height: int | None = None
    scale_factors: tuple[int, ...] = ()

    @property
    def known(self) -> bool:
        """Enough is known to plan a request without fetching info.json."""
        return self.level is not None and self.level >= 1 and bool(self.width and self.height)

    @property
    def info_url(self) -> str:
        return f"{self.id}/info.json"

    @property
    def _max_size(self) -> str:
        return "max" if self.version >= 3 else "full"

    def with_info(self, info: dict[str, Any]) -> ImageService:
        """This service, completed from its info.json."""
        tiles = (info.get("tiles") or [{}])[0] if isinstance(info.get("tiles"), list) else {}
        sizes = tuple(
            (int(s["width"]), int(s["height"]))
            for s in info.get("sizes") or []
            if isinstance(s, dict) and positive_int(s.get("width")) and positive_int(s.get("height"))
        )
        level = _level(info.get("profile"))
        return replace(
            self,
            version=_version(info) or self.version,
            level=self.level if level is None else level,
            width=positive_int(info.get("width")) or self.width,
            height=positive_int(info.get("height")) or self.height,
            sizes=sizes,
            tile_width=positive_int(tiles.get("width")),
            tile_height=positive_int(tiles.get("height")) or positive_int(tiles.get("width")),
            scale_factors=tuple(sorted(int(f) for f in tiles.get("scaleFactors") or [] if positive_int(f))),
        )

    def image_url(self, side: int) -> str | None:
        """URL of the whole image with its longer side `side` (or full size if smaller).

        None when only tiles can give it (a level-0 service without a large enough size).
        """
        full = self._max_size
        if self.level is not None and self.level >= 1 and self.width and self.height:
            if max(self.width, self.height) <= side:
                return f"{self.id}/full/{full}/0/default.jpg"
            size = f"{side}," if self.width >= self.height else f",{side}"
            return f"{self.id}/full/{size}/0/default.jpg"
        needed = min(side, max(self.width, self.height)) if self.width and self.height else side
        big_enough = [s for s in self.sizes if max(s) >= needed]
        if big_enough:
            return f"{self.id}/full/{self._size(*min(big_enough, key=max))}/0/default.jpg"
        if self.tiles(side):
            return None
        if self.sizes:
            return f"{self.id}/full/{self._size(*max(self.sizes, key=max))}/0/default.jpg"
        return f"{self.id}/full/{full}/0/default.jpg"

    def tiles(self, side: int) -> list[Tile]:
        """The tiles that make up the whole image at the smallest scale keeping `side` pixels."""
        if not (self.tile_width and self.tile_height and self.width and self.height):
            return []
        factors = self.scale_factors or (1,)
        fitting = [f for f in factors if max(self.width, self.height) / f >= side]
        factor = max(fitting) if fitting else min(factors)
        step_x, step_y = self.tile_width * factor, self.tile_height * factor
        if math.ceil(self.width / step_x) * math.ceil(self.height / step_y) > MAX_TILES:
            return []
        return [
            Tile(factor, x, y, w, h, math.ceil(w / factor), math.ceil(h / factor))
            for y in range(0, self.height, step_y)
            for x in range(0, self.width, step_x)
            for w, h in [(min(step_x, self.width - x), min(step_y, self.height - y))]
        ]

    def tile_url(self, tile: Tile) -> str:
        region = f"{tile.x},{tile.y},{tile.region_width},{tile.region_height}"
        return f"{self.id}/{region}/{self._size(tile.width, tile.height)}/0/default.jpg"

    def region_url(self, box: tuple[int, int, int, int]) -> str | None:
        """URL of a region (x, y, w, h in full-image pixels) at full resolution; None at level 0."""
        if not self.level:
            return None
        x, y, w, h = box
        return f"{self.id}/{x},{y},{w},{h}/{self._max_size}/0/default.jpg"

    def _size(self, width: int, height: int) -> str:
        """A size parameter: `w,` in 2.x (the canonical form), `w,h` in 3.0."""
        return f"{width}," if self.version < 3 else f"{width},{height}"

    def to_dict(self) -> dict[str, Any]:
        """What a record keeps of its service: enough for region URLs and a deep-zoom viewer."""
        return {
            "id": self.id,
            "version": self.version,
            "level": self.level,
            "width": self.width,
            "height": self.height,
            "tile_width": self.tile_width,
            "tile_height": self.tile_height,
            "scale_factors": list(self.scale_factors),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageService:
        return cls(
            data["id"],
            data.get("version", 2),
            data.get("level"),
            data.get("width"),
            data.get("height"),
            tile_width=data.get("tile_width"),
            tile_height=data.get("tile_height"),
            scale_factors=tuple(data.get("scale_factors") or ()),
        )


def service_from_manifest(block: Any) -> ImageService | None:
    """The Image API service in a manifest's `service` value (2.x object or 3.0 list), if any."""
    for entry in block if isinstance(block, list) else [block]:
        if not isinstance(entry, dict):
            continue
        sid = entry.get("id") or entry.get("@id")
        kind = str(entry.get("type") or entry.get("@type") or "")
        context = str(entry.get("@context") or "")
        profile = entry.get("profile")
        if not isinstance(sid, str) or not sid.startswith(("http://", "https://")):
            continue
        if "ImageService" in kind or "iiif.io/api/image" in context or "iiif.io/api/image" in str(profile):
            version = 3 if kind == "ImageService3" or "image/3" in context else 2
            return ImageService(
                sid.rstrip("/").removesuffix("/info.json"),
                version,
                _level(profile),
                positive_int(entry.get("width")),
                positive_int(entry.get("height")),
            )
    return None


def service_from_image_url(url: str) -> ImageService | None:
    """The service behind an Image API request URL (`…/full/843,/0/default.jpg`), if it is one."""
    if url.endswith("/info.json"):
        return ImageService(url.removesuffix("/info.json"))
    match = IMAGE_REQUEST.match(url)
    return ImageService(match["service"]) if match else None


def _version(info: dict[str, Any]) -> int | None:
    context = str(info.get("@context") or "")
    if "image/3" in context or info.get("type") == "ImageService3":
        return 3
    if "image/2" in context:
        return 2
    return None


def _level(profile: Any) -> int | None:
    """Compliance level from a profile: "level1", a 2.x profile URI, or a list starting with one."""
    first = profile[0] if isinstance(profile, list) and profile else profile
    match = re.search(r"level([012])", str(first or ""))
    return int(match[1]) if match else None


def positive_int(value: Any) -> int | None:
    """A JSON value as a positive whole number of pixels, or None (missing, zero, text, true)."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None
