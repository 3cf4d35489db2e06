from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import jpeg


def search(client: TestClient, photo: bytes, **form: object):
    return client.post("/api/search", files={"image": ("photo.jpg", photo, "image/jpeg")}, data=form)


def test_healthz_reports_records(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "records": 15}


def test_search_returns_verified_record_with_metadata_and_images(client: TestClient, camera_photo: bytes) -> None:
    response = search(client, camera_photo, top_k=3)
    assert response.status_code == 200
    body = response.json()
    top = body["data"][0]
    assert body["count"] == 3 and body["search_id"]
    assert top["record"]["record_id"] == "camera" and top["verified"] and top["inliers"] >= 18
    assert top["record"]["metadata"]["title"] == "The cameraman"
    assert len(top["region"]) == 4 and len(top["query_region"]) == 4
    for key in ("image_url", "thumb_url"):
        image = client.get(top["record"][key])
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert image.headers["etag"] and "immutable" in image.headers["cache-control"]


def test_search_applies_rotation_and_crop(client: TestClient, two_prints: np.ndarray) -> None:
    turned = np.ascontiguousarray(np.rot90(two_prints))  # photographed sideways
    # After turning it back (90° clockwise), the left half holds chelsea.
    body = search(client, jpeg(turned), rotate=90, crop="20,80,520,340").json()
    verified = [hit["record"]["record_id"] for hit in body["data"] if hit["verified"]]
    assert verified == ["chelsea"]
    assert body["request"]["crop"] == [20, 80, 520, 340] and body["query_width"] == 520


def test_saved_search_reopens_with_its_photo(client: TestClient, camera_photo: bytes) -> None:
    body = search(client, camera_photo).json()
    saved = client.get(f"/api/searches/{body['search_id']}")
    assert saved.status_code == 200 and saved.json() == body
    photo = client.get(body["query_url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"


def test_search_filters_narrow_results(client: TestClient, camera_photo: bytes) -> None:
    body = search(client, camera_photo, classification="engraving").json()
    assert {hit["record"]["metadata"]["classification"] for hit in body["data"]} == {"engraving"}
    only_second = search(client, camera_photo, collection="second").json()
    assert {hit["record"]["collection"] for hit in only_second["data"]} == {"second"}


def test_records_browse_filter_and_paginate(client: TestClient) -> None:
    first = client.get("/api/records", params={"collection": "samples", "limit": 5}).json()
    second = client.get("/api/records", params={"collection": "samples", "limit": 5, "offset": 5}).json()
    assert first["count"] == 13 and len(first["data"]) == 5
    assert not {r["record_id"] for r in first["data"]} & {r["record_id"] for r in second["data"]}
    engravings = client.get("/api/records", params={"classification": "engraving"}).json()
    assert engravings["count"] == 3
    people = client.get("/api/records", params={"person": "SCIKIT", "collection": "samples"}).json()
    assert people["count"] == 13


def test_records_text_search_with_filters(client: TestClient) -> None:
    moon = client.get("/api/records", params={"q": "surface MOO"}).json()
    assert [r["record_id"] for r in moon["data"]] == ["moon"] and moon["count"] == 1
    assert client.get("/api/records", params={"q": "moon"}).json()["count"] == 2  # "second" has it by id only
    only_second = client.get("/api/records", params={"q": "moon", "collection": "second"}).json()["data"]
    assert [r["collection"] for r in only_second] == ["second"]
    too_long = client.get("/api/records", params={"q": "x" * 201})
    assert too_long.status_code == 422 and "q" in too_long.json()["detail"]


def test_record_detail(client: TestClient) -> None:
    record = client.get("/api/records/samples/moon").json()
    assert record["metadata"]["title"] == "Surface of the moon" and record["image_url"].startswith("/images/")


def test_collections_and_filters(client: TestClient) -> None:
    assert client.get("/api/collections").json() == {
        "data": [{"name": "samples", "records": 13}, {"name": "second", "records": 2}],
        "count": 2,
    }
    filters = client.get("/api/filters").json()
    assert filters["collections"] == ["samples", "second"]
    assert filters["classification"] == ["drawing", "engraving", "photograph"]


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/search",
        "/api/searches/{search_id}",
        "/api/records",
        "/api/records/{collection}/{record_id}",
        "/api/collections",
        "/api/filters",
        "/images/{name}",
        "/thumbs/{name}",
        "/healthz",
        "/api/searches/{search_id}/feedback",
        "/api/curator/searches",
    } <= set(paths)


@pytest.mark.parametrize(
    ("path", "script"), [("/", "search"), ("/browse", "browse"), ("/batch", "batch"), ("/curator", "curator")]
)
def test_every_page_and_its_script_are_served(client: TestClient, path: str, script: str) -> None:
    page = client.get(path)
    assert page.status_code == 200 and f'type="module" src="static/{script}.js"' in page.text
    assert client.get(f"/static/{script}.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/locales/de.json").json()["nav.search"] == "Mit Foto suchen"


@pytest.mark.parametrize(
    "files, form, status, message",
    [
        ({"image": ("notes.txt", b"just text", "text/plain")}, {}, 400, "not an image platemark reads"),
        ({"image": ("empty.jpg", b"", "image/jpeg")}, {}, 400, "empty"),
        ({"image": ("cut.jpg", "TRUNCATED", "image/jpeg")}, {}, 400, "truncated"),
        ({"image": ("huge.jpg", b"\xff" * 2_100_000, "image/jpeg")}, {}, 413, "limit of 2 MB"),
        ({"image": ("bomb.png", "BOMB", "image/png")}, {}, 400, "decompression bomb"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"classification": "etching"}, 422, "unknown classification"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"collection": "nope"}, 422, "unknown collection"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"crop": "0,0,5000,10"}, 400, "does not fit"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"crop": "a,b"}, 400, "four numbers"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"rotate": "45"}, 400, "rotate must be"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"top_k": "0"}, 422, "top_k"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"year_min": "1900", "year_max": "1800"}, 422, "after"),
        ({}, {}, 422, "image"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"crop": "inf,0,100,100"}, 400, "four numbers"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"crop": "1e400,0,100,100"}, 400, "four numbers"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"crop": "nan,0,100,100"}, 400, "four numbers"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"crop": "1,2,3,4,5"}, 400, "four numbers"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"year_min": str(2**70)}, 422, "year_min"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"year_max": str(-(2**63) - 1)}, 422, "year_max"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"person": "%_" * 50_000}, 422, "person"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"rotate": str(2**80)}, 422, "rotate"),
        ({"image": ("p.jpg", "PHOTO", "image/jpeg")}, {"top_k": "1e3"}, 422, "top_k"),
    ],
    ids=[
        "not-image",
        "empty",
        "truncated",
        "too-large",
        "bomb",
        "unknown-classification",
        "unknown-collection",
        "crop-outside",
        "crop-garbage",
        "rotate-45",
        "top-k-0",
        "years-reversed",
        "no-image",
        "crop-infinite",
        "crop-overflow",
        "crop-nan",
        "crop-five-numbers",
        "year-beyond-int64",
        "year-below-int64",
        "person-100k-chars",
        "rotate-huge",
        "top-k-float",
    ],
)
def test_bad_search_input_is_a_4xx_with_message(
    client: TestClient,
    camera_photo: bytes,
    bomb_png,
    files: dict,
    form: dict,
    status: int,
    message: str,
) -> None:
    replacements = {"TRUNCATED": camera_photo[:2000], "BOMB": bomb_png.read_bytes(), "PHOTO": camera_photo}
    files = {k: (name, replacements.get(data, data), kind) for k, (name, data, kind) in files.items()}
    response = client.post("/api/search", files=files, data=form)
    assert response.status_code == status
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/searches/does-not-exist", 404),
        ("/api/searches/does-not-exist/image", 404),
        ("/api/records/samples/nope", 404),
        ("/api/records?classification=etching", 422),
        ("/api/records?limit=0", 422),
        ("/images/" + "0" * 64 + ".jpg", 404),
        ("/thumbs/catalog.db", 422),
        ("/images/..%2Fcatalog.db", 404),
        ("/images/%2E%2E/catalog.db", 404),
        (f"/api/records?offset={2**64}", 422),
        (f"/api/records?year_min={2**63}", 422),
        (f"/api/records?year_max=-{2**63 + 5}", 422),
        ("/api/records?person=" + "%25_" * 150, 422),
        ("/api/records?collection=samples" + "&collection=samples" * 2_500, 200),
        ("/api/searches/" + "x" * 500, 422),
        ("/api/searches/../../etc/passwd", 404),
    ],
)
def test_bad_browse_requests_are_4xx_never_files_outside(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert "SQLite" not in response.text
