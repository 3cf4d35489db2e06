"""Visitors' answers to results: kept with the search, listed for curators, exported as ground truth."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from platemark.cli import cli
from platemark.settings import Settings
from platemark.web.app import create_app
from tests.web.conftest import CURATOR_TOKEN
from tests.web.test_api import search

CURATOR = {"Authorization": f"Bearer {CURATOR_TOKEN}"}
DAY = 86400


def answer(client: TestClient, search_id: str, answer: str, hit: dict | None = None):
    record = {"collection": hit["record"]["collection"], "record_id": hit["record"]["record_id"]} if hit else {}
    return client.post(f"/api/searches/{search_id}/feedback", json={"answer": answer, **record})


def recent(client: TestClient) -> dict[str, dict]:
    listing = client.get("/api/curator/searches", params={"limit": 200}, headers=CURATOR)
    assert listing.status_code == 200, listing.text
    return {item["search_id"]: item for item in listing.json()["data"]}


def test_answer_is_kept_with_the_search_and_keeps_it_as_ground_truth(client: TestClient, camera_photo: bytes) -> None:
    result = search(client, camera_photo).json()
    best = result["data"][0]
    saved = answer(client, result["search_id"], "this", best)
    assert saved.status_code == 200
    assert saved.json()["expires_at"] > time.time() + 89 * DAY  # feedback_days, not the 24 hours of a search
    listed = recent(client)[result["search_id"]]
    assert [(a["answer"], a["record_id"]) for a in listed["answers"]] == [("this", "camera")]
    assert listed["best"]["record"]["record_id"] == "camera" and listed["query_url"].endswith("/image")


def test_none_of_these_withdraws_this_is_it(client: TestClient, camera_photo: bytes) -> None:
    result = search(client, camera_photo).json()
    answer(client, result["search_id"], "this", result["data"][0])
    answer(client, result["search_id"], "not_this", result["data"][1])
    assert answer(client, result["search_id"], "none").status_code == 200
    answers = recent(client)[result["search_id"]]["answers"]
    assert sorted(a["answer"] for a in answers) == ["none", "not_this"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"answer": "maybe"}, 422, "answer"),
        ({"answer": "this", "collection": "samples", "record_id": "not-shown"}, 400, "not among"),
        ({"answer": "this", "collection": "samples"}, 400, "both"),
        ({"answer": "none", "collection": "samples", "record_id": "camera"}, 400, "none"),
        ({"answer": "this"}, 400, "name one"),
    ],
)
def test_bad_answers_are_4xx_with_a_message(
    client: TestClient, camera_photo: bytes, body: dict, status: int, message: str
) -> None:
    search_id = search(client, camera_photo).json()["search_id"]
    response = client.post(f"/api/searches/{search_id}/feedback", json=body)
    assert response.status_code == status and message in response.json()["detail"]


def test_answer_about_an_unknown_search_is_404(client: TestClient) -> None:
    assert answer(client, "no-such-search-id", "none").status_code == 404


def test_curator_view_needs_the_password(client: TestClient, catalog_location) -> None:
    assert client.get("/api/curator/searches").status_code == 401
    wrong = client.get("/api/curator/searches", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and "password" in wrong.json()["detail"]
    settings = Settings(catalog=catalog_location.location, media=catalog_location.media)
    with TestClient(create_app(settings)) as without_token:
        off = without_token.get("/api/curator/searches", headers=CURATOR)
    assert off.status_code == 401 and "PLATEMARK_CURATOR_TOKEN" in off.json()["detail"]


def test_exported_answers_are_ground_truth_for_evaluate(
    client: TestClient, camera_photo: bytes, catalog_location, tmp_path: Path
) -> None:
    found = search(client, camera_photo).json()
    answer(client, found["search_id"], "this", found["data"][0])
    elsewhere = search(client, camera_photo, crop="0,0,40,40").json()  # a corner: not a print of the collection
    answer(client, elsewhere["search_id"], "none")
    only_no = search(client, camera_photo).json()
    answer(client, only_no["search_id"], "not_this", only_no["data"][1])

    where = catalog_location.cli_args()
    gt = tmp_path / "visitors.csv"
    exported = CliRunner().invoke(cli, ["feedback", "export", str(gt), *where])
    assert exported.exit_code == 0, exported.output
    rows = {Path(row["query"]).stem: row["record_ids"] for row in csv.DictReader(gt.open())}
    assert rows[found["search_id"]] == "camera" and rows[elsewhere["search_id"]] == ""
    assert only_no["search_id"] not in rows and "answered only" in exported.output
    assert all((tmp_path / "visitors-photos" / f"{stem}.jpg").is_file() for stem in rows)

    scored = CliRunner().invoke(cli, ["evaluate", str(gt), *where, "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["queries"] == len(rows)


def test_export_to_a_missing_folder_is_a_clear_error(catalog_location, tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "gt.csv"
    result = CliRunner().invoke(cli, ["feedback", "export", str(out), *catalog_location.cli_args()])
    assert result.exit_code == 1 and "cannot write" in result.output and "Traceback" not in result.output
