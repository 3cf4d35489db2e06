"""What a public server needs: security headers, the cross-site check, rate and queue limits,
saved searches that expire, and a disk quota."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from platemark.errors import Overloaded, RateLimited
from platemark.search.saved import Retention, SavedSearches
from platemark.settings import Settings
from platemark.web.admission import RateLimiter, SearchAdmission
from platemark.web.app import create_app


@pytest.fixture
def make_client(catalog_location) -> Iterator:
    """A client of an app with some settings changed."""
    clients: list[TestClient] = []

    def make(**changes: object) -> TestClient:
        settings = Settings(
            catalog=catalog_location.location, media=catalog_location.media, **{"searches_per_minute": 0, **changes}
        )
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def search(client: TestClient, photo: bytes, **headers: str):
    return client.post("/api/search", files={"image": ("p.jpg", photo, "image/jpeg")}, headers=headers)


def test_every_answer_has_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/browse", "/curator", "/api/filters", "/static/search.js", "/api/records/none/none"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]


def test_no_cross_origin_access_by_default(client: TestClient) -> None:
    response = client.get("/api/filters", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_search_posted_from_another_site_is_refused(client: TestClient, camera_photo: bytes, headers: dict) -> None:
    response = search(client, camera_photo, **headers)
    assert response.status_code == 403 and "cross-site" in response.json()["detail"]


def test_search_from_the_same_site_or_a_script_is_answered(client: TestClient, camera_photo: bytes) -> None:
    assert search(client, camera_photo, Origin="http://testserver").status_code == 200
    assert search(client, camera_photo, **{"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert search(client, camera_photo).status_code == 200  # curl sends no Origin


def test_configured_cors_origin_may_search(make_client, camera_photo: bytes) -> None:
    client = make_client(cors_origins=["https://museum.example"])
    response = search(client, camera_photo, Origin="https://museum.example")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://museum.example"
    assert search(client, camera_photo, Origin="https://evil.example").status_code == 403


def test_saved_photo_is_private_and_expires(client: TestClient, camera_photo: bytes) -> None:
    found = search(client, camera_photo).json()
    assert 23.9 * 3600 < found["expires_at"] - time.time() <= 24 * 3600
    image = client.get(found["query_url"])
    assert image.status_code == 200
    assert "private" in image.headers["cache-control"] and "immutable" not in image.headers["cache-control"]


def test_sharing_keeps_a_search_longer(client: TestClient, camera_photo: bytes) -> None:
    found = search(client, camera_photo).json()
    shared = client.post(f"/api/searches/{found['search_id']}/share").json()
    assert shared["expires_at"] - time.time() > 29 * 86400
    assert client.get(f"/api/searches/{found['search_id']}").json()["expires_at"] == shared["expires_at"]


def test_cleanup_deletes_expired_searches_and_their_photos(client: TestClient, searcher, camera_photo: bytes) -> None:
    found = search(client, camera_photo).json()
    saved = SavedSearches(searcher.catalog, Retention())
    photo = saved.photo_path(found["search_id"])
    assert photo.is_file()
    saved.clean(now=time.time() + 25 * 3600)
    assert not photo.exists()
    assert client.get(f"/api/searches/{found['search_id']}").status_code == 404
    assert client.get(found["query_url"]).status_code == 404


def test_cleanup_removes_photos_that_no_search_refers_to(searcher) -> None:
    saved = SavedSearches(searcher.catalog, Retention(shared_days=1, feedback_days=1))
    stray = saved.photo_path("strayphoto123")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"jpeg")
    saved.clean(now=time.time() + 3 * 86400)
    assert not stray.exists()


def test_full_quota_refuses_searches_with_507(make_client, camera_photo: bytes) -> None:
    client = make_client(saved_searches_max_mb=0.000001)
    search(client, camera_photo)  # may fill the quota, if no earlier test did
    response = search(client, camera_photo)
    assert response.status_code == 507 and "quota" in response.json()["detail"]


def test_one_client_beyond_its_rate_gets_429_with_retry_after(make_client, camera_photo: bytes) -> None:
    client = make_client(searches_per_minute=6, search_burst=2)
    statuses = [search(client, camera_photo).status_code for _ in range(3)]
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    refused = search(client, camera_photo)
    assert int(refused.headers["retry-after"]) >= 1 and "too many searches" in refused.json()["detail"]


def test_rate_limiter_refills_and_keeps_clients_apart() -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    limiter.take("a", now=0.0)
    limiter.take("b", now=0.0)
    with pytest.raises(RateLimited) as refused:
        limiter.take("a", now=0.5)
    assert refused.value.retry_after == 1
    limiter.take("a", now=1.1)


def test_rate_limiter_forgets_idle_clients_beyond_its_size() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, max_clients=10)
    for n in range(1000):
        limiter.take(f"client-{n}", now=0.0)
    assert len(limiter._buckets) == 10


def test_full_queue_sheds_searches_with_503_instead_of_waiting() -> None:
    release = threading.Event()

    async def scenario() -> list[object]:
        admission = SearchAdmission(running=1, queued=1, wait_seconds=0.5)
        first = asyncio.ensure_future(admission.run(lambda: release.wait(5)))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(admission.run(lambda: "queued"))  # waits, then times out
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(Overloaded) as shed:
            await admission.run(lambda: "third")
        assert time.monotonic() - started < 0.1, "refused at once, not after waiting"
        assert shed.value.retry_after >= 1
        results = await asyncio.gather(second, return_exceptions=True)
        release.set()
        await first
        return results

    [second] = asyncio.run(scenario())
    assert isinstance(second, Overloaded), "a search that waited longer than allowed is shed too"
