"""IIIF out: a catalog harvested from a IIIF server answers with links back into it, and the
detail view zooms into the record through its Image API, at phone size in real Chromium."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from iiif_site import IIIFSite, SiteRecord
from PIL import Image
from web_support import running_server

from platemark.cli import cli
from platemark.iiif.links import decode_content_state
from platemark.ingest.fetch import Politeness
from platemark.ingest.pipeline import ingest
from platemark.simulate.photos import PhotoSettings, phone_photo
from tests.web.chromium import PHONE


@pytest.fixture(scope="module")
def site(sample_collection, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IIIFSite]:
    folder, _ = sample_collection
    layouts = {"camera": (3, "dynamic", 2.0), "chelsea": (2, "dynamic", 1.0), "coffee": (3, "static", 1.0)}
    records = [
        SiteRecord(name, folder / "images" / f"{name}.png", {"title": name.title(), "person": "Anon."}, *layout)
        for name, layout in layouts.items()
    ]
    with IIIFSite(tmp_path_factory.mktemp("iiif-site"), records) as running:
        yield running


@pytest.fixture(scope="module")
def catalog(site: IIIFSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("iiif-catalog") / "catalog"
    report = ingest(f"{site.url}/iiif/3/collection.json", path, politeness=Politeness.off(), progress=False)
    assert report.ok, report.failed
    return path


@pytest.fixture(scope="module")
def server(catalog: Path) -> Iterator[str]:
    viewer = {"PLATEMARK_IIIF_VIEWER": "https://viewer.example/?iiif-content={content_state}"}
    with running_server(["--catalog", str(catalog)], workers=1, env=viewer) as running:
        yield running.url


def photo_of(name: str, seed: int, sample_images: dict, folder: Path) -> Path:
    """A phone photo of a sample print, as a JPEG file."""
    path = folder / f"{name}.jpg"
    Image.fromarray(phone_photo(sample_images[name], np.random.default_rng(seed), PhotoSettings(quarter_turn=0))).save(
        path, quality=90
    )
    return path


@pytest.fixture(scope="module")
def camera_photo(sample_images: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photo_of("camera", 5, sample_images, tmp_path_factory.mktemp("iiif-photos"))


@pytest.fixture(scope="module")
def coffee_photo(sample_images: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photo_of("coffee", 6, sample_images, tmp_path_factory.mktemp("iiif-photos"))


def test_search_answers_with_links_into_the_records_iiif(site: IIIFSite, server: str, camera_photo: Path) -> None:
    response = httpx.post(f"{server}api/search", files={"image": camera_photo.read_bytes()}, timeout=60)
    assert response.status_code == 200, response.text
    hit = response.json()["data"][0]
    record = hit["record"]
    assert record["record_id"] == "camera" and hit["verified"]
    assert record["iiif"]["manifest"] == site.manifest_url("camera")
    assert record["iiif"]["image_service"] == site.service_url(site.records["camera"])
    assert (record["iiif"]["image_api_version"], record["iiif"]["image_api_level"]) == (3, 2)
    region_url = hit["iiif"]["region_url"]
    assert region_url.startswith(site.service_url(site.records["camera"]) + "/") and "/max/0/default.jpg" in region_url
    region = Image.open(io.BytesIO(httpx.get(region_url).content))
    x, _y, w, h = map(int, region_url.split("/")[-4].split(","))
    assert region.size == (w, h) and w * h > 0.5 * np.prod(site.records["camera"].size)  # most of the print
    assert hit["iiif"]["viewer_url"] == f"https://viewer.example/?iiif-content={hit['iiif']['content_state']}"
    state = decode_content_state(hit["iiif"]["content_state"])
    assert state["target"]["id"] == hit["iiif"]["target"]
    canvas_x, _, canvas_w, _ = map(int, hit["iiif"]["target"].split("#xywh=")[1].split(","))
    assert (canvas_x, canvas_w) == (2 * x, pytest.approx(2 * w, abs=2))  # the canvas is twice the image


def test_cli_search_json_has_the_iiif_links(site: IIIFSite, catalog: Path, camera_photo: Path) -> None:
    result = CliRunner().invoke(cli, ["search", str(camera_photo), "--catalog", str(catalog), "--json", "--top", "1"])
    assert result.exit_code == 0, result.output
    [hit] = json.loads(result.output)["results"]
    assert hit["iiif"]["manifest"] == site.manifest_url("camera")
    assert hit["iiif"]["region_url"].startswith(site.service_url(site.records["camera"]))
    assert hit["iiif"]["target"].startswith(f"{site.url}/iiif/3/camera/canvas/p1#xywh=")
    assert decode_content_state(hit["iiif"]["content_state"])["target"]["id"] == hit["iiif"]["target"]


def test_iiif_fields_are_documented_in_openapi(server: str) -> None:
    schemas = httpx.get(f"{server}openapi.json").json()["components"]["schemas"]
    assert "region_url" in schemas["IIIFMatchPublic"]["properties"]
    assert "Content State" in schemas["IIIFMatchPublic"]["properties"]["content_state"]["description"]
    assert "manifest" in schemas["IIIFRecordPublic"]["properties"]


def test_page_may_load_images_from_the_harvested_iiif_server_only(site: IIIFSite, server: str) -> None:
    policy = httpx.get(server).headers["content-security-policy"]
    assert f"img-src 'self' blob: data: {site.url};" in policy


def test_detail_view_zooms_into_the_record_through_its_image_api(
    site: IIIFSite, server: str, camera_photo: Path, coffee_photo: Path, browser
) -> None:
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()  # the page's own Content-Security-Policy applies
        page.goto(server)
        page.set_input_files("#file", str(camera_photo))
        page.click("#search")
        page.wait_for_selector("#result-list .card")
        page.locator("#result-list .card button", has_text="Details").first.click()
        assert "Test Print Room" in page.locator("#detail-credit").inner_text()
        links = page.locator("#detail-links a")
        assert links.nth(0).get_attribute("href") == "https://museum.example/records/camera"
        assert links.nth(1).get_attribute("href").startswith("https://viewer.example/?iiif-content=")
        assert links.nth(2).get_attribute("href").startswith(site.service_url(site.records["camera"]))
        zoom_in_and_see_tiles(page, site, r"/image/dynamic/camera/\d+,\d+,\d+,\d+/")  # level 2: cut on request
        page.screenshot(path=str(Path(os.environ.get("PLATEMARK_SCREENSHOT_DIR", "/tmp")) / "iiif-zoom-mobile.png"))
        page.click("#detail-close")
        page.set_input_files("#file", str(coffee_photo))
        page.click("#search")
        page.wait_for_selector("#result-list .card[data-record-id=coffee]")
        page.locator("#result-list .card[data-record-id=coffee] button", has_text="Details").click()
        zoom_in_and_see_tiles(page, site, r"/image/static/coffee/\d+,\d+,\d+,\d+/")  # level 0: its listed tiles
    finally:
        context.close()


def zoom_in_and_see_tiles(page, site: IIIFSite, tile_path: str) -> None:
    site.log.clear()
    for _ in range(3):
        page.click("#zoom-in")
    assert float(page.locator("#detail-record").get_attribute("data-scale")) > 3
    shown = page.locator("#detail-record .zoom-tiles img")
    shown.first.wait_for(state="attached", timeout=10_000)
    deadline = time.monotonic() + 10
    while len([e for e in site.requests_to(tile_path) if e.status == 200]) < shown.count():
        assert time.monotonic() < deadline, "the tiles on the page were not all fetched"
        time.sleep(0.1)
    tiles = site.requests_to(tile_path)
    assert all(entry.status == 200 for entry in tiles)  # fetched by the browser: the page's policy let them
