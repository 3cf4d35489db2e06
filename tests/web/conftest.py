"""Fixtures for the web layer: an in-process client and photos to upload."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_support import running_server

from platemark.settings import Settings
from platemark.simulate.photos import PhotoSettings, phone_photo
from platemark.web.app import create_app
from tests.web.chromium import CHROMIUM, DESKTOP, FLAGS

#: The curator password of the `client` app.
CURATOR_TOKEN = "a curator's password"


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def client(catalog_location) -> Iterator[TestClient]:
    # Every request comes from one address here: no per-client rate (tests/web/test_guard.py tests it).
    settings = Settings(
        catalog=catalog_location.location,
        media=catalog_location.media,
        max_upload_mb=2,
        searches_per_minute=0,
        curator_token=CURATOR_TOKEN,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def camera_photo(sample_images: dict) -> bytes:
    return jpeg(phone_photo(sample_images["camera"], np.random.default_rng(11), PhotoSettings(quarter_turn=0)))


@pytest.fixture(scope="session")
def two_prints(sample_images: dict) -> np.ndarray:
    """A wall with chelsea (left half) and coffee (right half)."""
    import cv2

    wall = np.full((500, 1100, 3), 170, np.uint8)
    wall[100:400, 50:500] = cv2.resize(sample_images["chelsea"], (450, 300))
    wall[100:400, 600:1050] = cv2.resize(sample_images["coffee"], (450, 300))
    return wall


# ---- the browser tests: real Chromium against `platemark serve` ----------------------------------
@pytest.fixture(scope="module")  # not longer: while it runs, Playwright's event loop blocks asyncio.run
def browser() -> Iterator[object]:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def server(catalog_path: Path) -> Iterator[str]:
    """The sample catalog served by `platemark serve`, with the curator view on."""
    with running_server(
        ["--catalog", str(catalog_path)], workers=1, env={"PLATEMARK_CURATOR_TOKEN": CURATOR_TOKEN}
    ) as running:
        yield running.url


@pytest.fixture
def new_page(browser, server: str) -> Iterator[Callable[..., object]]:
    """Opens a page in a fresh browser context, closed after the test.

    `device` holds Playwright's context options (PHONE, DESKTOP); `path` is opened on the server (None:
    nothing). Playwright evaluates test expressions with eval(), which the pages' policy forbids, so the
    policy is bypassed unless `enforce_csp` (the tests of the policy itself).
    """
    contexts = []

    def open_page(device: dict = DESKTOP, path: str | None = "", *, enforce_csp: bool = False, **options: object):
        context = browser.new_context(**device, bypass_csp=not enforce_csp, **options)
        contexts.append(context)
        page = context.new_page()
        if path is not None:
            page.goto(server + path)
        return page

    yield open_page
    for context in contexts:
        context.close()
