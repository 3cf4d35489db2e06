"""Shared fixtures: a small real collection from scikit-image's bundled images, and its catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from platemark.demo import write_sample_collection
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.store.sqlite import Catalog


@pytest.fixture(scope="session")
def sample_collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A collection folder of 13 sample images (3 rendered as engravings) and the images by record id."""
    folder = tmp_path_factory.mktemp("samples")
    return folder, write_sample_collection(folder)


@pytest.fixture(scope="session")
def sample_images(sample_collection: tuple[Path, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return sample_collection[1]


@pytest.fixture(scope="session")
def catalog_path(
    sample_collection: tuple[Path, dict[str, np.ndarray]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A catalog holding the sample collection as "samples" and two of its images as "second"."""
    path = tmp_path_factory.mktemp("catalog")
    folder, images = sample_collection
    report = ingest(folder, path, collection="samples", progress=False)
    assert report.ok and report.added == len(images)
    second = tmp_path_factory.mktemp("second")
    (second / "images").mkdir()
    for name in ("coins", "moon"):
        (second / "images" / f"{name}.png").write_bytes((folder / "images" / f"{name}.png").read_bytes())
    assert ingest(second, path, collection="second", progress=False).added == 2
    return path


@pytest.fixture(scope="session")
def searcher(catalog_path: Path) -> Searcher:
    return Searcher(Catalog(catalog_path))


@pytest.fixture(scope="session")
def bomb_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small PNG file that decodes to 12,000 x 12,000 pixels."""
    from PIL import Image

    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("L", (12_000, 12_000)).save(path, optimize=False)
    return path
