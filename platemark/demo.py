"""`platemark demo`: a catalog built from scikit-image's bundled sample images, searched with
simulated phone photos. Everything it needs ships in installed packages; nothing is downloaded."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher
from platemark.simulate.hatching import hatched_print
from platemark.simulate.photos import phone_photo
from platemark.store import open_catalog

#: (scikit-image sample, title, kind): "engraving" samples are rendered as hatched prints.
SAMPLES = (
    ("astronaut", "Portrait of an astronaut", "engraving"),
    ("camera", "The cameraman", "engraving"),
    ("coffee", "Cup of coffee", "engraving"),
    ("chelsea", "Chelsea the cat", "photograph"),
    ("coins", "Greek coins from Pompeii", "photograph"),
    ("hubble_deep_field", "Hubble deep field", "photograph"),
    ("immunohistochemistry", "Immunohistochemistry", "photograph"),
    ("moon", "Surface of the moon", "photograph"),
    ("page", "A printed page", "photograph"),
    ("retina", "Human retina", "photograph"),
    ("horse", "Silhouette of a horse", "drawing"),
    ("clock", "Clock in motion", "photograph"),
    ("text", "Text on a wall", "photograph"),
)

#: Samples photographed for the demo searches, and one that is not in the collection.
PHOTOGRAPHED = ("astronaut", "camera", "coffee", "chelsea", "coins", "moon")
NOT_IN_COLLECTION = "rocket"


def sample_image(name: str, kind: str, seed: int) -> np.ndarray:
    """One of scikit-image's bundled images as RGB; "engraving" ones rendered as hatched prints."""
    from skimage import data

    image = getattr(data, name)()
    if image.dtype == bool:
        image = np.where(image, 255, 0).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
    return hatched_print(image, np.random.default_rng(seed), long_side=768) if kind == "engraving" else image


def write_sample_collection(folder: Path) -> dict[str, np.ndarray]:
    """Write the sample collection (images/ + metadata.csv) to folder; returns {record_id: image}."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images = {}
    with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "title", "person", "date", "classification", "image_licence"])
        for seed, (name, title, kind) in enumerate(SAMPLES):
            images[name] = sample_image(name, kind, seed)
            Image.fromarray(images[name]).save(folder / "images" / f"{name}.png")
            writer.writerow([name, title, "scikit-image sample data", "", kind, "see scikit-image"])
    return images


def run_demo(workdir: Path, echo: Callable[[str], None] = print) -> Path:
    """Write the demo collection and photos under workdir, ingest, search, print the results.

    Returns the catalog's path.
    """
    collection = workdir / "collection"
    photos = workdir / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    images = write_sample_collection(collection)
    images[NOT_IN_COLLECTION] = sample_image(NOT_IN_COLLECTION, "photograph", 99)
    for seed, name in enumerate((*PHOTOGRAPHED, NOT_IN_COLLECTION)):
        photo = phone_photo(images[name], np.random.default_rng(seed))
        Image.fromarray(photo).save(photos / f"photo_of_{name}.jpg", quality=90)

    catalog_path = workdir / "catalog"
    report = ingest(collection, catalog_path, collection="demo")
    echo(f"ingested {report.added + report.updated + report.unchanged} records into {catalog_path}")
    searcher = Searcher(open_catalog(catalog_path))
    for photo in sorted(photos.glob("*.jpg")):
        response = searcher.search(photo, top_k=3)
        top = response.results[0]
        verdict = (
            f"VERIFIED {top.record.record_id} ({top.record.metadata.get('title', '')}, "
            f"{top.verification.inliers} inliers, {top.relation})"
            if top.verification.verified
            else "no verified match (not in the collection?)"
        )
        echo(f"{photo.name:<32} -> {verdict}  [{response.elapsed_ms:.0f} ms]")
    echo(f"try: platemark search {photos / 'photo_of_camera.jpg'} --catalog {catalog_path}")
    return catalog_path
