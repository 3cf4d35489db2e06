"""The duplicates API (GET /api/duplicates, the decision, the CSV export) and the review page in Chromium."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_support import running_server

from platemark.search.duplicates import CSV_COLUMNS, update_duplicates
from platemark.search.relation import MAX_INK_DIFFERENCE, MAX_STRETCH
from platemark.settings import Settings
from platemark.store import open_catalog
from platemark.web.app import create_app
from tests.web.chromium import DESKTOP, PHONE, axe_violations
from tests.web.conftest import CURATOR_TOKEN
from tests.web.test_browser import save_screenshot

CURATOR = {"Authorization": f"Bearer {CURATOR_TOKEN}"}


@pytest.fixture(scope="module")
def examined_catalog(duplicated_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the duplicated catalog, its pairs found (decisions made here stay in this copy)."""
    copy = tmp_path_factory.mktemp("examined") / "catalog"
    shutil.copytree(duplicated_catalog, copy)
    with open_catalog(copy) as catalog:
        update_duplicates(catalog)
    return copy


@pytest.fixture(scope="module")
def client(examined_catalog: Path) -> Iterator[TestClient]:
    settings = Settings(catalog=str(examined_catalog), curator_token=CURATOR_TOKEN, searches_per_minute=0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_duplicates_need_the_curator_password(client: TestClient) -> None:
    assert client.get("/api/duplicates").status_code == 401
    assert client.get("/api/duplicates", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_duplicates_are_listed_group_by_group_with_their_evidence(client: TestClient) -> None:
    page = client.get("/api/duplicates", headers=CURATOR).json()
    assert page["count"] == 7 and page["groups"] == 7
    assert [pair["relation"] for pair in page["data"]][:3] == ["identical", "identical", "rescan"]
    rescan = page["data"][2]
    assert {rescan["a"]["record_id"], rescan["b"]["record_id"]} == {"camera", "camera_rescan"}
    assert rescan["a"]["thumb_url"].startswith("/thumbs/") and len(rescan["region_a"]) == 4
    assert rescan["inliers"] >= 18 and 0.6 <= rescan["inlier_coverage"] <= 1.0 and rescan["decision"] is None
    assert rescan["ink_difference"] < MAX_INK_DIFFERENCE and 0 <= rescan["stretch"] < MAX_STRETCH


def test_duplicates_are_paginated_and_filtered(client: TestClient) -> None:
    page = client.get("/api/duplicates?limit=2&offset=2", headers=CURATOR).json()
    assert page["count"] == 7 and len(page["data"]) == 2 and page["offset"] == 2
    mirrors = client.get("/api/duplicates?relation=mirror", headers=CURATOR).json()
    assert [p["b"]["record_id"] for p in mirrors["data"]] == ["chelsea_mirror"]
    assert client.get("/api/duplicates?collection=elsewhere", headers=CURATOR).json()["count"] == 0
    wrong = client.get("/api/duplicates?relation=twin", headers=CURATOR)
    assert wrong.status_code == 400 and "relation must be one of" in wrong.json()["detail"]
    assert client.get("/api/duplicates?limit=0", headers=CURATOR).status_code == 422


def test_a_decision_is_kept_exported_and_not_proposed_again(client: TestClient) -> None:
    body = {
        "a": {"collection": "prints", "record_id": "retina"},
        "b": {"collection": "prints", "record_id": "retina_impression"},
        "decision": "other_impression",
    }
    assert client.put("/api/duplicates/decision", json=body, headers=CURATOR).status_code == 204
    undecided = client.get("/api/duplicates?undecided=true", headers=CURATOR).json()
    assert undecided["count"] == 6 and "retina_impression" not in {p["b"]["record_id"] for p in undecided["data"]}
    export = client.get("/api/duplicates/export.csv", headers=CURATOR)
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r["record_b"]: r["decision"] for r in rows}["retina_impression"] == "other_impression"
    assert client.put("/api/duplicates/decision", json={**body, "decision": None}, headers=CURATOR).status_code == 204
    assert client.get("/api/duplicates?undecided=true", headers=CURATOR).json()["count"] == 7


@pytest.mark.parametrize(
    "change, status",
    [
        ({"decision": "maybe"}, 400),
        ({"b": {"collection": "prints", "record_id": "nope"}}, 404),
        ({"b": {"collection": "prints", "record_id": "retina"}}, 400),  # a record with itself
        ({"a": {"collection": "prints"}}, 422),
    ],
)
def test_a_bad_decision_is_refused(client: TestClient, change: dict, status: int) -> None:
    body = {
        "a": {"collection": "prints", "record_id": "retina"},
        "b": {"collection": "prints", "record_id": "retina_impression"},
        "decision": "different",
        **change,
    }
    response = client.put("/api/duplicates/decision", json=body, headers=CURATOR)
    assert response.status_code == status and "detail" in response.json()


def test_the_duplicates_api_is_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/duplicates", "/api/duplicates/decision", "/api/duplicates/export.csv"} <= set(paths)


# ---- the review page --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def review_server(examined_catalog: Path) -> Iterator[str]:
    with running_server(
        ["--catalog", str(examined_catalog)], workers=1, env={"PLATEMARK_CURATOR_TOKEN": CURATOR_TOKEN}
    ) as running:
        yield running.url


@pytest.fixture
def review_page(browser, review_server: str):
    contexts = []

    def open_page(device: dict):
        context = browser.new_context(**device, bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        page.goto(review_server + "duplicates")
        page.fill("#token", CURATOR_TOKEN)
        page.click("#login button")
        page.wait_for_selector(".dup-pair")
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_review_page_shows_pairs_side_by_side_and_keeps_decisions(review_page, device: dict) -> None:
    page = review_page(device)
    pairs = page.locator(".dup-pair")
    assert pairs.count() >= 5
    plate = page.locator('.dup-pair[data-relation="same_plate"]')
    assert plate.locator(".badge").inner_text() == "Another impression of the plate"
    assert plate.locator("img").count() == 2 and plate.locator("polygon").count() == 2
    boxes = [plate.locator("figure").nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] + 1  # side by side, also on a phone
    assert boxes[1]["x"] + boxes[1]["width"] <= device["viewport"]["width"]
    button = plate.get_by_role("button", name="Other impression")
    button.click()
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Kept')")
    assert button.get_attribute("aria-pressed") == "true"
    page.reload()
    page.wait_for_selector(".dup-pair")
    assert page.locator('.dup-pair[data-relation="same_plate"]').count() == 0  # not proposed again
    page.check("#decided")
    page.wait_for_selector('.dup-pair[data-relation="same_plate"]')
    again = page.locator('.dup-pair[data-relation="same_plate"]').get_by_role("button", name="Other impression")
    assert again.get_attribute("aria-pressed") == "true"
    again.click()  # withdraw it, so the other device's run starts from the same state
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Decision withdrawn')")


def test_review_page_filters_by_relation_and_has_no_accessibility_violations(review_page) -> None:
    page = review_page(DESKTOP)
    page.select_option("#relation", "mirror")
    page.wait_for_function("document.querySelectorAll('.dup-pair').length === 1")
    assert page.locator(".dup-pair").get_attribute("data-relation") == "mirror"
    page.select_option("#relation", "")
    page.wait_for_function("document.querySelectorAll('.dup-pair').length >= 5")
    assert axe_violations(page) == []


def test_review_page_screenshot(review_page, tmp_path: Path) -> None:
    page = review_page(DESKTOP)
    page.wait_for_timeout(500)
    save_screenshot(page, "duplicates-desktop.png", tmp_path)
