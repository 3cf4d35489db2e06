"""The browse, many-photos and curator pages in real Chromium, on a phone and a desktop."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.web.chromium import DESKTOP, PHONE, axe_violations
from tests.web.conftest import CURATOR_TOKEN
from tests.web.test_browser import save_screenshot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def device(request, new_page):
    return new_page(request.param, path=None)


def record_ids(page) -> list[str]:
    return page.eval_on_selector_all("#record-list .card", "cards => cards.map(c => c.dataset.recordId)")


# ---- browse ------------------------------------------------------------------------------------
def test_browse_pages_through_the_records(device, server: str) -> None:
    device.goto(server + "browse?limit=5")
    expect(device.locator("#status")).to_contain_text("15 records.")
    assert device.inner_text("#page-info") == "1–5 of 15" and device.locator("#previous").is_disabled()
    first_page = record_ids(device)
    device.click("#next")
    expect(device.locator("#page-info")).to_have_text("6–10 of 15")
    assert not set(record_ids(device)) & set(first_page) and "offset=5" in device.url
    device.go_back()
    expect(device.locator("#page-info")).to_have_text("1–5 of 15")


def test_browse_keeps_words_typed_while_the_page_starts(device, server: str) -> None:
    """A visitor types before the page has its translations: its first listing must not wipe the box."""
    held = []
    device.route("**/locales/en.json", lambda route: held.append(route))
    device.goto(server + "browse", wait_until="commit")
    device.fill("#q", "surf MOON")
    for _ in range(50):  # up to 5 s: a busy machine starts the page late (200 ms flat failed in CI)
        if held:
            break
        device.wait_for_timeout(100)
    assert held, "the page asked for its translations"
    held[0].continue_()
    expect(device.locator("#status")).to_contain_text("15 records.")
    assert device.input_value("#q") == "surf MOON"
    device.click("#text-form button")
    expect(device.locator("#status")).to_contain_text("1 record. Matching “surf MOON”.")


def test_browse_keeps_the_latest_listing_when_an_earlier_answer_arrives_late(device, server: str) -> None:
    held = []

    def hold_the_first_listing(route) -> None:
        if held or "q=" in route.request.url:
            route.continue_()
        else:
            held.append(route)  # the page's first listing (every record) is answered after the search

    device.route("**/api/records?*", hold_the_first_listing)
    device.goto(server + "browse")
    device.fill("#q", "surf MOON")
    device.click("#text-form button")
    expect(device.locator("#status")).to_contain_text("1 record. Matching “surf MOON”.")
    held[0].continue_()
    device.wait_for_load_state("networkidle")
    expect(device.locator("#status")).to_contain_text("1 record. Matching “surf MOON”.")
    assert record_ids(device) == ["moon"]


def test_browse_text_search_finds_words_and_keeps_them_in_the_link(device, server: str) -> None:
    device.goto(server + "browse")
    device.fill("#q", "surf MOON")
    device.click("#text-form button")
    expect(device.locator("#status")).to_contain_text("1 record. Matching “surf MOON”.")
    assert record_ids(device) == ["moon"] and "q=surf+MOON" in device.url
    device.reload()
    expect(device.locator("#status")).to_contain_text("1 record.")
    assert device.input_value("#q") == "surf MOON"


def test_browse_text_search_with_filters_and_details(page_on_desktop, server: str) -> None:
    page = page_on_desktop
    page.goto(server + "browse?q=moon")
    expect(page.locator("#status")).to_contain_text("2 records.")
    page.click("#filters summary")
    page.select_option("#f-collection", "second")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("1 record. Matching “moon”. Filtered by collection second.")
    page.locator("#record-list .card").first.get_by_role("button", name="Details").click()
    assert page.inner_text("#detail-title") == "moon" and page.locator("#detail-photo").is_hidden()
    assert "second" in page.inner_text("#detail-metadata")


@pytest.fixture
def page_on_desktop(new_page):
    return new_page(DESKTOP, path=None)


def test_browse_page_has_no_accessibility_violations(device, server: str, tmp_path: Path) -> None:
    device.goto(server + "browse?q=portrait+astro")
    expect(device.locator("#status")).to_contain_text("1 record.")
    assert axe_violations(device) == []
    device.locator("#record-list .card").first.get_by_role("button", name="Details").click()
    device.wait_for_selector("#detail-record img")
    assert axe_violations(device) == []
    device.keyboard.press("Escape")
    device.goto(server + "browse")
    expect(device.locator("#status")).to_contain_text("15 records.")
    if device.viewport_size["width"] > 1000:
        device.wait_for_function("[...document.images].every(image => image.complete)")
        device.wait_for_timeout(300)
        save_screenshot(device, "browse-desktop.png", tmp_path)


# ---- many photos -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def box_of_photos(tmp_path_factory: pytest.TempPathFactory, sample_images: dict) -> list[Path]:
    from platemark.simulate.photos import PhotoSettings, phone_photo

    folder = tmp_path_factory.mktemp("box")
    paths = []
    for seed, name in enumerate(("camera", "coffee", "moon", "chelsea")):
        path = folder / f"IMG_{seed:04d}_{name}.jpg"
        Image.fromarray(phone_photo(sample_images[name], np.random.default_rng(seed), PhotoSettings())).save(path)
        paths.append(path)
    broken = folder / "IMG_9999.jpg"
    broken.write_bytes(b"not a photo")
    return [*paths, broken]


def rows_by_state(page) -> dict[str, int]:
    states = page.eval_on_selector_all("#batch-table tbody tr", "rows => rows.map(r => r.dataset.state)")
    return {state: states.count(state) for state in set(states)}


def test_many_photos_fill_a_table_that_survives_a_reload_and_downloads(
    page_on_desktop, server: str, box_of_photos: list[Path], tmp_path: Path
) -> None:
    page = page_on_desktop
    page.goto(server + "batch")
    page.set_input_files("#files", [str(p) for p in box_of_photos])
    expect(page.locator("#status")).to_contain_text("5 photos searched", timeout=60_000)
    assert rows_by_state(page) == {"done": 4, "failed": 1}
    rows = page.locator("#batch-table tbody tr")
    assert "not an image" in rows.nth(4).inner_text()
    assert rows.nth(0).locator(".badge").inner_text() == "Verified match"
    assert rows.nth(0).locator("polygon").count() == 1  # the matched part, outlined on the record
    page.reload()
    expect(page.locator("#status")).to_contain_text("5 photos searched")
    assert rows_by_state(page) == {"done": 4, "failed": 1}
    with page.expect_download() as download:
        page.click("#download")
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [row["query"] for row in table] == [p.name for p in box_of_photos]
    assert [row["record_id"] for row in table[:4]] == ["camera", "coffee", "moon", "chelsea"]
    assert table[0]["verdict"] == "answer" and table[4]["error"]
    assert table[0]["search_link"].startswith(server) and "#search=" in table[0]["search_link"]
    save_screenshot(page, "batch-desktop.png", tmp_path)
    page.click("#clear")
    expect(page.locator("#status")).to_have_text("No photos yet.")
    assert page.locator("#batch-table tbody tr").count() == 0


def test_photos_left_waiting_are_searched_after_a_reload(page_on_desktop, server: str, box_of_photos) -> None:
    page = page_on_desktop
    page.goto(server + "batch")
    page.route("**/api/search", lambda route: route.abort())  # the connection drops: rows stay waiting
    page.set_input_files("#files", [str(box_of_photos[0])])
    expect(page.locator("#batch-table tbody tr")).to_have_attribute("data-state", "waiting")
    page.unroute("**/api/search")
    page.reload()
    expect(page.locator("#batch-table tbody tr")).to_have_attribute("data-state", "done", timeout=30_000)
    page.click("#clear")


def test_many_photos_page_has_no_accessibility_violations(device, server: str, box_of_photos) -> None:
    device.goto(server + "batch")
    expect(device.locator("#status")).to_contain_text("No photos yet.")
    assert axe_violations(device) == []
    device.set_input_files("#files", [str(box_of_photos[0]), str(box_of_photos[-1])])
    expect(device.locator("#status")).to_contain_text("2 photos searched", timeout=60_000)
    assert axe_violations(device) == []
    device.click("#clear")


# ---- the curator view --------------------------------------------------------------------------
def test_curator_view_lists_recent_searches_with_answers(device, server: str, box_of_photos: list[Path]) -> None:
    found = device.request.post(
        server + "api/search",
        multipart={"image": {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": box_of_photos[1].read_bytes()}},
    ).json()
    device.request.post(
        server + f"api/searches/{found['search_id']}/feedback",
        data={"answer": "this", "collection": "samples", "record_id": "coffee"},
    )
    device.goto(server + "curator")
    expect(device.locator("#status")).to_contain_text("curator password")
    device.fill("#token", "wrong")
    device.click("#login button")
    expect(device.locator("#status.error")).to_contain_text("wrong or missing curator password")
    device.fill("#token", CURATOR_TOKEN)
    device.click("#login button")
    row = device.locator(f"#searches tbody tr:has(a[href$='{found['search_id']}'])")
    expect(row).to_contain_text("This is it — coffee")
    assert row.locator("img").get_attribute("src").endswith("/image")
    assert axe_violations(device) == []


def test_pages_work_within_their_content_security_policy(new_page, server: str, box_of_photos) -> None:
    page = new_page(DESKTOP, path=None, enforce_csp=True)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)
    page.goto(server + "batch")
    page.set_input_files("#files", [str(box_of_photos[0])])
    expect(page.locator("#status")).to_contain_text("1 photo searched", timeout=60_000)
    assert page.locator(".batch-thumb").first.get_attribute("src").startswith("data:image/jpeg")
    with page.expect_download() as download:
        page.click("#download")
    assert Path(download.value.path()).read_text().count("\n") == 2
    page.click("#clear")
    page.goto(server + "browse?q=moon")
    page.locator("#record-list .card").first.get_by_role("button", name="Details").click()
    page.locator("#detail-record img").wait_for()
    page.goto(server + "curator")
    page.fill("#token", CURATOR_TOKEN)
    page.click("#login button")
    page.locator("#searches tbody tr").first.wait_for()
    assert refused == []
