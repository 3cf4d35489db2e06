"""Shared fixtures: a small real collection from scikit-image's bundled images, and its catalogs.

Tests that take `catalog_location` (and `searcher`, `client`) run once per backend: the embedded
SQLite catalog and PostgreSQL with pgvector. The PostgreSQL server is real: the `pgserver` wheel
starts one for the session, or PLATEMARK_TEST_POSTGRES_URL names a server to use (its user must
be allowed to create databases).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
from catalogs import BACKENDS, CatalogLocation
from PIL import Image

from platemark.demo import write_sample_collection
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.store import open_catalog


def pytest_configure(config: pytest.Config) -> None:
    sys._called_from_test = True  # platemark.plugins leaves installed plugins out of test runs


@pytest.fixture(scope="session")
def sample_collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A collection folder of 13 sample images (3 rendered as engravings) and the images by record id."""
    folder = tmp_path_factory.mktemp("samples")
    return folder, write_sample_collection(folder)


@pytest.fixture(scope="session")
def sample_images(sample_collection: tuple[Path, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return sample_collection[1]


_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real PostgreSQL server with pgvector, for the whole session."""
    if url := os.environ.get("PLATEMARK_TEST_POSTGRES_URL"):
        yield url
        return
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def new_database(postgres_server: str) -> Callable[[], str]:
    """Makes an empty database on the test server; returns its URL."""
    import psycopg

    def make() -> str:
        name = f"platemark_test_{os.getpid()}_{next(_database_numbers)}"
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
            admin.execute(f"CREATE DATABASE {name}")
        return urlsplit(postgres_server)._replace(path=f"/{name}").geturl()

    return make


@pytest.fixture
def empty_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> CatalogLocation:
    """A place for a new catalog, on the backend the test is parametrised with (default: sqlite)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        return CatalogLocation(backend, str(tmp_path / "catalog"), None)
    return CatalogLocation(backend, request.getfixturevalue("new_database")(), tmp_path / "media")


def ingest_samples(
    folder: Path, images: dict, where: CatalogLocation, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The sample collection as "samples", and two of its images again as "second"."""
    report = ingest(folder, where.location, media=where.media, collection="samples", progress=False)
    assert report.ok and report.added == len(images)
    second = tmp_path_factory.mktemp("second")
    (second / "images").mkdir()
    for name in ("coins", "moon"):
        (second / "images" / f"{name}.png").write_bytes((folder / "images" / f"{name}.png").read_bytes())
    assert ingest(second, where.location, media=where.media, collection="second", progress=False).added == 2


@pytest.fixture(scope="session")
def catalog_path(
    sample_collection: tuple[Path, dict[str, np.ndarray]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An embedded catalog of the samples (for CLI and browser tests, which need a directory)."""
    path = tmp_path_factory.mktemp("catalog")
    ingest_samples(*sample_collection, CatalogLocation("sqlite", str(path), None), tmp_path_factory)
    return path


@pytest.fixture(scope="session", params=BACKENDS)
def catalog_location(
    request: pytest.FixtureRequest,
    sample_collection: tuple[Path, dict[str, np.ndarray]],
    catalog_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> CatalogLocation:
    """The sample catalog in each backend."""
    if request.param == "sqlite":
        return CatalogLocation("sqlite", str(catalog_path), None)
    where = CatalogLocation("postgres", request.getfixturevalue("new_database")(), tmp_path_factory.mktemp("media"))
    ingest_samples(*sample_collection, where, tmp_path_factory)
    return where


@pytest.fixture(scope="session")
def searcher(catalog_location: CatalogLocation) -> Searcher:
    return Searcher(open_catalog(catalog_location.location, media=catalog_location.media))


@pytest.fixture(scope="session")
def bomb_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small PNG file that decodes to 12,000 x 12,000 pixels."""
    from PIL import Image

    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("L", (12_000, 12_000)).save(path, optimize=False)
    return path


@pytest.fixture(scope="session")
def duplicated_catalog(sample_images: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prints, a re-scan of one, a detail of another, a second copy of a file, another impression of a
    third (coloured otherwise), the mirror image of a fourth, a page reusing part of a fifth, one scan
    saved as PNG and TIFF, and unrelated prints."""
    folder = tmp_path_factory.mktemp("dups") / "prints"
    (folder / "images").mkdir(parents=True)

    def save(name: str, rgb: np.ndarray) -> None:
        Image.fromarray(rgb).save(folder / "images" / f"{name}.jpg", quality=90)

    for name in ("camera", "astronaut", "moon", "coffee", "page", "retina", "chelsea"):
        save(name, sample_images[name])
    impression = sample_images["retina"].copy()
    impression[:, : impression.shape[1] // 2] = impression[:, : impression.shape[1] // 2, ::-1]
    save("retina_impression", impression)
    save("chelsea_mirror", np.ascontiguousarray(sample_images["chelsea"][:, ::-1]))
    coffee = sample_images["coffee"]
    height, width = coffee.shape[:2]
    page = cv2.resize(sample_images["text"], (width, height))  # text not in the catalog
    page[:, : width * 2 // 5] = coffee[:, : width * 2 // 5]
    save("page_with_coffee_block", page)
    camera = sample_images["camera"]
    rescan = cv2.resize(camera[8:-8, 6:-6], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    save("camera_rescan", np.clip(rescan.astype(int) * 0.9 + 20, 0, 255).astype(np.uint8))
    astronaut = sample_images["astronaut"]
    height, width = astronaut.shape[:2]
    save("astronaut_detail", cv2.resize(astronaut[: height // 2, width // 3 :], None, fx=1.3, fy=1.3))
    (folder / "images" / "moon_copy.jpg").write_bytes((folder / "images" / "moon.jpg").read_bytes())
    Image.fromarray(sample_images["horse"]).save(folder / "images" / "horse.png")  # one scan, two formats
    Image.fromarray(sample_images["horse"]).save(folder / "images" / "horse_tiff.tif")
    catalog = folder.parent / "catalog"
    assert ingest(folder, catalog, progress=False).added == 15
    return catalog
