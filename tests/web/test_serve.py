"""`platemark serve` with several worker processes on one catalog, in each backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from web_support import running_server


def test_several_workers_answer_concurrent_searches(catalog_location, camera_photo: bytes) -> None:
    # Room in the queue for all 8, however the kernel shares the connections between the workers.
    with running_server(catalog_location.cli_args(), workers=2, env={"PLATEMARK_SEARCH_QUEUE": "8"}) as server:
        url = server.url

        def search(_: int) -> httpx.Response:
            return httpx.post(url + "api/search", files={"image": ("photo.jpg", camera_photo)}, timeout=60)

        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(search, range(8)))
        assert [r.status_code for r in responses] == [200] * 8
        assert {r.json()["data"][0]["record"]["record_id"] for r in responses} == {"camera"}
        assert all(r.json()["data"][0]["verified"] for r in responses)
        saved = httpx.get(url + f"api/searches/{responses[0].json()['search_id']}", timeout=10)
        assert saved.status_code == 200 and httpx.get(url + "healthz").json()["records"] == 15
