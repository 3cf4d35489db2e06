"""A museum's IIIF server on 127.0.0.1, built from image files, for harvest tests and benchmarks.

It serves what real institutions publish, in both API versions:
- Presentation manifests (2.1 and 3.0) at /iiif/{2|3}/{record}/manifest.json, a paged 2.1
  collection (/iiif/collection.json -> page/1.json -> page/2.json ...) and a 3.0 collection
  with a nested sub-collection that also points back at its parent (/iiif/3/collection.json);
- Image API services: a dynamic level-2 server (/image/dynamic/{record}: any region and size,
  drawn with Pillow) and a static level-0 layout written to disk (/image/static/{record}:
  info.json with fixed sizes and 256 px tiles, or tiles only);
- plain image files (/plain/{record}.jpg) and an eMuseumPlus-style CSV (/export.csv: recordID,
  title, imageURL);
- faults: /fault/{kind}/{name}.jpg with kind one of missing (404), flaky (500, then OK), busy
  (429 with Retry-After: 1, then OK), slow (answers after `slow_seconds`), truncated (body cut
  short), html (wrong content type), loop (redirects to itself), huge (claims 500 MB), endless
  (streams without a length), bomb (a small PNG of 121 megapixels), broken (not an image);
/iiif/broken.json is not JSON.

Every response carries ETag and Last-Modified and answers conditional GETs with 304. The
server logs each request (path, User-Agent, start and end time) and tracks requests in flight,
so tests can check what a harvest asked for and how politely.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image

TILE = 256
PAGE_SIZE = 4
CONTEXT = {2: "http://iiif.io/api/presentation/2/context.json", 3: "http://iiif.io/api/presentation/3/context.json"}


@dataclass
class SiteRecord:
    """One record the site publishes: an image file, its metadata, and how it is served."""

    record_id: str
    image: Path
    metadata: dict[str, str]
    version: int = 3  # Presentation and Image API version
    #: "dynamic" (level 2), "static" (level 0: sizes and tiles), "sizes" (level 0: sizes only),
    #: "tiles" (level 0: tiles only)
    service: str = "dynamic"
    canvas_scale: float = 1.0  # canvas size / image size (canvases need not use image pixels)

    @property
    def size(self) -> tuple[int, int]:
        with Image.open(self.image) as image:
            return image.size


@dataclass
class RequestLog:
    path: str
    user_agent: str
    started: float
    ended: float = 0.0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class IIIFSite:
    """The server. Use as a context manager; `url` is its base once started."""

    def __init__(self, root: Path, records: list[SiteRecord] | None = None, page_size: int = PAGE_SIZE) -> None:
        self.root = root
        self.page_size = page_size
        self.records: dict[str, SiteRecord] = {}
        self.log: list[RequestLog] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.latency = 0.0  # seconds added to every answer
        self.slow_seconds = 5.0
        self.failing: str | None = None  # paths matching this pattern answer 503 (an outage)
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._bomb = b""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        for record in records or []:
            self.add(record)

    def __enter__(self) -> IIIFSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- content -------------------------------------------------------------------------------
    def add(self, record: SiteRecord) -> None:
        self.records[record.record_id] = record
        if record.service != "dynamic":
            self._write_static(record)

    def remove(self, record_id: str) -> None:
        del self.records[record_id]

    def manifest_url(self, record_id: str) -> str:
        return f"{self.url}/iiif/{self.records[record_id].version}/{record_id}/manifest.json"

    def service_url(self, record: SiteRecord) -> str:
        return f"{self.url}/image/{'dynamic' if record.service == 'dynamic' else 'static'}/{record.record_id}"

    def requests_to(self, pattern: str) -> list[RequestLog]:
        return [entry for entry in self.log if re.search(pattern, entry.path)]

    def manifest(self, record: SiteRecord) -> dict[str, Any]:
        width, height = record.size
        canvas_w, canvas_h = round(width * record.canvas_scale), round(height * record.canvas_scale)
        base = f"{self.url}/iiif/{record.version}/{record.record_id}"
        service_id = self.service_url(record)
        level = 2 if record.service == "dynamic" else 0
        image_url = f"{self.url}/plain/{record.record_id}.jpg"
        meta = record.metadata
        if record.version == 2:
            service = {
                "@context": "http://iiif.io/api/image/2/context.json",
                "@id": service_id,
                "profile": f"http://iiif.io/api/image/2/level{level}.json",
            }
            return {
                "@context": CONTEXT[2],
                "@id": f"{base}/manifest.json",
                "@type": "sc:Manifest",
                "label": meta.get("title", record.record_id),
                "metadata": [
                    {"label": "Artist", "value": meta.get("person", "")},
                    {"label": "Date", "value": meta.get("date", "")},
                    {"label": "Object Number", "value": f"<span>INV-{record.record_id}</span>"},
                ],
                "attribution": "Test Print Room",
                "license": "https://creativecommons.org/publicdomain/zero/1.0/",
                "related": f"https://museum.example/records/{record.record_id}",
                "sequences": [
                    {
                        "@type": "sc:Sequence",
                        "canvases": [
                            {
                                "@id": f"{base}/canvas/1",
                                "@type": "sc:Canvas",
                                "label": "recto",
                                "width": canvas_w,
                                "height": canvas_h,
                                "images": [
                                    {
                                        "@type": "oa:Annotation",
                                        "motivation": "sc:painting",
                                        "on": f"{base}/canvas/1",
                                        "resource": {
                                            "@id": image_url,
                                            "@type": "dctypes:Image",
                                            "format": "image/jpeg",
                                            "width": width,
                                            "height": height,
                                            "service": service,
                                        },
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        return {
            "@context": CONTEXT[3],
            "id": f"{base}/manifest.json",
            "type": "Manifest",
            "label": {"en": [meta.get("title", record.record_id)]},
            "metadata": [
                {"label": {"en": ["Artist"]}, "value": {"none": [meta.get("person", "")]}},
                {"label": {"de": ["Datierung"], "en": ["Date"]}, "value": {"none": [meta.get("date", "")]}},
                {"label": {"en": ["Dimensions"]}, "value": {"en": ["10 x 12 cm"]}},
            ],
            "requiredStatement": {"label": {"en": ["Attribution"]}, "value": {"en": ["Test Print Room, gift"]}},
            "rights": "http://creativecommons.org/publicdomain/zero/1.0/",
            "homepage": [
                {"id": f"https://museum.example/records/{record.record_id}", "type": "Text", "format": "text/html"}
            ],
            "provider": [{"id": "https://museum.example", "type": "Agent", "label": {"en": ["Test Print Room"]}}],
            "items": [
                {
                    "id": f"{base}/canvas/p1",
                    "type": "Canvas",
                    "width": canvas_w,
                    "height": canvas_h,
                    "items": [
                        {
                            "id": f"{base}/page/1",
                            "type": "AnnotationPage",
                            "items": [
                                {
                                    "id": f"{base}/annotation/1",
                                    "type": "Annotation",
                                    "motivation": "painting",
                                    "target": f"{base}/canvas/p1",
                                    "body": {
                                        "id": image_url,
                                        "type": "Image",
                                        "format": "image/jpeg",
                                        "width": width,
                                        "height": height,
                                        "service": [
                                            {"id": service_id, "type": "ImageService3", "profile": f"level{level}"}
                                        ],
                                    },
                                }
                            ],
                        }
                    ],
                }
            ],
        }

    def paged_collection(self, page: int | None) -> dict[str, Any]:
        """The 2.1 collection of every record, in pages of `page_size` manifests."""
        ids = sorted(self.records)
        pages = max(1, math.ceil(len(ids) / self.page_size))
        if page is None:
            return {
                "@context": CONTEXT[2],
                "@id": f"{self.url}/iiif/collection.json",
                "@type": "sc:Collection",
                "label": "Test Print Room",
                "total": len(ids),
                "first": f"{self.url}/iiif/collection/page/1.json",
            }
        chunk = ids[(page - 1) * self.page_size : page * self.page_size]
        doc: dict[str, Any] = {
            "@context": CONTEXT[2],
            "@id": f"{self.url}/iiif/collection/page/{page}.json",
            "@type": "sc:Collection",
            "manifests": [{"@id": self.manifest_url(i), "@type": "sc:Manifest", "label": i} for i in chunk],
        }
        if page < pages:
            doc["next"] = f"{self.url}/iiif/collection/page/{page + 1}.json"
        return doc

    def nested_collection(self, part: str) -> dict[str, Any]:
        """3.0: the top lists half the manifests and a sub-collection, which lists the rest and the top."""
        ids = sorted(self.records)
        half = len(ids) // 2
        top, sub = f"{self.url}/iiif/3/collection.json", f"{self.url}/iiif/3/sub.json"
        members = [
            {"id": self.manifest_url(i), "type": "Manifest"} for i in (ids[:half] if part == "top" else ids[half:])
        ]
        link = {"id": sub if part == "top" else top, "type": "Collection"}
        return {
            "@context": CONTEXT[3],
            "id": top if part == "top" else sub,
            "type": "Collection",
            "label": {"en": ["Test Print Room (3.0)"]},
            "items": [*members, link],
        }

    def export_csv(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        writer.writerow(["recordID", "title", "imageURL"])
        for record_id in sorted(self.records):
            writer.writerow([record_id, self.records[record_id].metadata.get("title", ""), self.image_url(record_id)])
        return buffer.getvalue().encode("utf-8")

    def image_url(self, record_id: str) -> str:
        """What the CSV export names: an Image API URL for dynamic records, a plain file otherwise."""
        record = self.records[record_id]
        if record.service == "dynamic":
            return f"{self.service_url(record)}/full/400,/0/default.jpg"
        return f"{self.url}/plain/{record_id}.jpg"

    def _write_static(self, record: SiteRecord) -> None:
        """A level-0 layout on disk: info.json, fixed sizes (unless tiles only) and tiles."""
        folder = self.root / "static" / record.record_id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with Image.open(record.image) as opened:
            image = opened.convert("RGB")
        width, height = image.size
        factors = [1, 2, 4]
        sizes = [(math.ceil(width / f), math.ceil(height / f)) for f in reversed(factors)]
        info: dict[str, Any] = {"width": width, "height": height}
        if record.service != "sizes":
            info["tiles"] = [{"width": TILE, "scaleFactors": factors}]
        if record.version == 3:
            info.update({"@context": "http://iiif.io/api/image/3/context.json", "type": "ImageService3"})
            info.update({"id": self.service_url(record), "protocol": "http://iiif.io/api/image", "profile": "level0"})
        else:
            info.update({"@context": "http://iiif.io/api/image/2/context.json", "@id": self.service_url(record)})
            info.update({"protocol": "http://iiif.io/api/image", "profile": ["http://iiif.io/api/image/2/level0.json"]})
        if record.service in ("static", "sizes"):
            info["sizes"] = [{"width": w, "height": h} for w, h in sizes]
            for w, h in sizes:
                size = f"{w}," if record.version == 2 else f"{w},{h}"
                target = folder / "full" / size / "0" / "default.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(
                    _file_as_jpeg(record.image) if (w, h) == (width, height) else _jpeg(image.resize((w, h)))
                )
        for factor in factors if "tiles" in info else []:
            step = TILE * factor
            for y in range(0, height, step):
                for x in range(0, width, step):
                    rw, rh = min(step, width - x), min(step, height - y)
                    tw, th = math.ceil(rw / factor), math.ceil(rh / factor)
                    size = f"{tw}," if record.version == 2 else f"{tw},{th}"
                    tile = image.crop((x, y, x + rw, y + rh)).resize((tw, th))
                    self._save(tile, folder / f"{x},{y},{rw},{rh}" / size / "0" / "default.jpg")
        (folder / "info.json").write_text(json.dumps(info))

    @staticmethod
    def _save(image: Image.Image, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=90)

    # -- serving -------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                entry = RequestLog(self.path, self.headers.get("User-Agent", ""), time.monotonic())
                entry.headers = dict(self.headers)
                with site._lock:
                    site.log.append(entry)
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    if site.latency:
                        time.sleep(site.latency)
                    entry.status = site._answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    entry.ended = time.monotonic()
                    with site._lock:
                        site.in_flight -= 1

        return Handler

    def _answer(self, request: BaseHTTPRequestHandler) -> int:
        path = request.path.split("?")[0]
        if self.failing and re.search(self.failing, path):
            return self._send(request, 503, b"down for maintenance", "text/plain")
        if match := re.fullmatch(r"/fault/(\w+)/([\w.-]+)\.jpg", path):
            return self._fault(request, match[1], match[2])
        if path == "/iiif/collection.json":
            return self._json(request, self.paged_collection(None))
        if match := re.fullmatch(r"/iiif/collection/page/(\d+)\.json", path):
            return self._json(request, self.paged_collection(int(match[1])))
        if path in ("/iiif/3/collection.json", "/iiif/3/sub.json"):
            return self._json(request, self.nested_collection("top" if "collection" in path else "sub"))
        if path == "/iiif/prying.json":  # a collection that names a file on the harvesting machine
            members = [{"id": str(self.root / "secret.json"), "type": "Manifest"}]
            members.append({"id": "file:///etc/passwd", "type": "Manifest"})
            members.append({"id": self.manifest_url(sorted(self.records)[0]), "type": "Manifest"})
            return self._json(
                request, {"@context": CONTEXT[3], "id": f"{self.url}{path}", "type": "Collection", "items": members}
            )
        if path == "/iiif/broken.json":
            return self._send(
                request, 200, b'{"@context": "http://iiif.io/api/presentation/3/context.json", "id"', "application/json"
            )
        if match := re.fullmatch(r"/iiif/([23])/([\w.-]+)/manifest\.json", path):
            record = self.records.get(match[2])
            if record is None or record.version != int(match[1]):
                return self._send(request, 404, b"not found", "text/plain")
            return self._json(request, self.manifest(record))
        if path == "/export.csv":
            return self._send(request, 200, self.export_csv(), "text/csv")
        if match := re.fullmatch(r"/plain/([\w.-]+)\.jpg", path):
            record = self.records.get(match[1])
            if record is None:
                return self._send(request, 404, b"not found", "text/plain")
            return self._send(request, 200, _file_as_jpeg(record.image), "image/jpeg")
        if match := re.fullmatch(r"/image/static/([\w.-]+)/(.+)", path):
            file = self.root / "static" / match[1] / match[2]
            if not file.is_file() or match[1] not in self.records:
                return self._send(request, 404, b"not found", "text/plain")
            kind = "application/json" if file.suffix == ".json" else "image/jpeg"
            return self._send(request, 200, file.read_bytes(), kind)
        if match := re.fullmatch(r"/image/dynamic/([\w.-]+)/(.+)", path):
            record = self.records.get(match[1])
            if record is None:
                return self._send(request, 404, b"not found", "text/plain")
            return self._dynamic(request, record, match[2])
        return self._send(request, 404, b"not found", "text/plain")

    def _dynamic(self, request: BaseHTTPRequestHandler, record: SiteRecord, params: str) -> int:
        image = Image.open(record.image).convert("RGB")
        width, height = image.size
        if params == "info.json":
            info = {
                "@context": f"http://iiif.io/api/image/{record.version}/context.json",
                "width": width,
                "height": height,
                "profile": "level2" if record.version == 3 else ["http://iiif.io/api/image/2/level2.json"],
                "protocol": "http://iiif.io/api/image",
                ("id" if record.version == 3 else "@id"): self.service_url(record),
            }
            return self._json(request, info)
        match = re.fullmatch(r"(full|\d+,\d+,\d+,\d+)/(full|max|!?\d*,\d*)/0/default\.jpg", params)
        if not match:
            return self._send(request, 400, b"unsupported request", "text/plain")
        if match[1] != "full":
            x, y, w, h = map(int, match[1].split(","))
            image = image.crop((x, y, min(width, x + w), min(height, y + h)))
        size = match[2]
        if size not in ("full", "max"):
            confined = size.startswith("!")
            w_text, h_text = size.lstrip("!").split(",")
            w, h = int(w_text or 0), int(h_text or 0)
            if confined:
                scale = min(w / image.width, h / image.height)
                w, h = round(image.width * scale), round(image.height * scale)
            elif not w:
                w = round(image.width * h / image.height)
            elif not h:
                h = round(image.height * w / image.width)
            image = image.resize((max(1, w), max(1, h)))
        return self._send(request, 200, _jpeg(image), "image/jpeg")

    def _fault(self, request: BaseHTTPRequestHandler, kind: str, name: str) -> int:
        good = _jpeg(Image.open(next(iter(self.records.values())).image))
        with self._lock:
            attempt = self._attempts[request.path] = self._attempts.get(request.path, 0) + 1
        if kind == "missing":
            return self._send(request, 404, b"not found", "text/plain")
        if kind == "flaky" and attempt == 1:
            return self._send(request, 500, b"oops", "text/plain")
        if kind == "busy" and attempt == 1:
            return self._send(request, 429, b"slow down", "text/plain", {"Retry-After": "1"})
        if kind == "slow":
            time.sleep(self.slow_seconds)
        if kind == "truncated":
            request.send_response(200)
            request.send_header("Content-Type", "image/jpeg")
            request.send_header("Content-Length", str(len(good)))
            request.end_headers()
            request.wfile.write(good[: len(good) // 2])
            request.close_connection = True
            return 200
        if kind == "html":
            return self._send(request, 200, b"<html>login</html>", "text/html")
        if kind == "loop":
            return self._send(request, 302, b"", "text/plain", {"Location": request.path})
        if kind == "huge":
            return self._send(request, 200, b"", "image/jpeg", {"Content-Length": str(500_000_000)}, body_length=False)
        if kind == "endless":
            request.send_response(200)
            request.send_header("Content-Type", "image/jpeg")
            request.send_header("Transfer-Encoding", "chunked")
            request.end_headers()
            chunk = b"\xff" * 65536
            for _ in range(4000):  # 262 MB at most: bounded even if nobody hangs up
                request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            request.wfile.write(b"0\r\n\r\n")
            return 200
        if kind == "bomb":  # a small file that claims 121 megapixels
            if not self._bomb:
                buffer = io.BytesIO()
                Image.new("1", (11_000, 11_000)).save(buffer, "PNG")
                self._bomb = buffer.getvalue()
            return self._send(request, 200, self._bomb, "image/png")
        if kind == "broken":
            return self._send(request, 200, b"\xff\xd8\xff\xe0 this is no jpeg" * 10, "image/jpeg")
        return self._send(request, 200, good, "image/jpeg")

    def _json(self, request: BaseHTTPRequestHandler, doc: Any) -> int:
        return self._send(request, 200, json.dumps(doc).encode(), "application/json")

    def _send(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        body_length: bool = True,
    ) -> int:
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if status == 200 and request.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        if status in (200, 304):
            request.send_header("ETag", etag)
            request.send_header("Last-Modified", formatdate(0, usegmt=True))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        if body_length:
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if status != 304:
            request.wfile.write(body)
        if not body_length:
            request.close_connection = True
        return status


def _file_as_jpeg(path: Path) -> bytes:
    """A JPEG file's own bytes (what a museum's server sends), other formats encoded as JPEG."""
    if path.suffix.lower() in (".jpg", ".jpeg"):
        return path.read_bytes()
    with Image.open(path) as image:
        return _jpeg(image)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
