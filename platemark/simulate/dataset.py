"""Build a benchmark from a collection folder: synthetic query photos plus ground truth."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from platemark.errors import UnreadableImage
from platemark.evaluate.groundtruth import write_ground_truth
from platemark.images import load_image
from platemark.ingest.sources.base import PrintRecord
from platemark.ingest.sources.folder import read_collection
from platemark.simulate.hatching import hatched_print
from platemark.simulate.photos import PhotoSettings, phone_photo


@dataclass(frozen=True)
class SimulatedSet:
    """Where simulate wrote its output."""

    ground_truth: Path
    collection: Path | None  # the rendered print collection (hatched mode only)
    queries: int
    unknown: int


def simulate(
    collection: str | Path,
    out: str | Path,
    *,
    queries: int = 100,
    seed: int = 0,
    hatch: bool = False,
    unknown: int = 0,
    settings: PhotoSettings | None = None,
    progress: bool = True,
) -> SimulatedSet:
    """Write synthetic phone photos of a collection's records and a ground_truth.csv.

    With `hatch`, every image is first rendered as a hatched engraving into
    `out/collection/` (a collection folder to ingest), and `unknown` of them are held
    out of that collection and photographed too: their ground truth is empty.

    Args:
        collection: a collection folder (as for ingest).
        out: output folder; `queries/`, `ground_truth.csv` (and `collection/`) are written.
        queries: number of photos of records in the collection.
        seed: everything random derives from it.

    Example:
        >>> simulate("bench/aic", "sim/aic", queries=200, seed=1)
    """
    rng = np.random.default_rng(seed)
    records = read_collection(Path(collection)).records
    out = Path(out)
    (out / "queries").mkdir(parents=True, exist_ok=True)
    order = rng.permutation(len(records))
    held_out = {int(i) for i in order[:unknown]} if hatch else set()
    photographed = [int(i) for i in order[len(held_out) : len(held_out) + queries]] + sorted(held_out)
    prints_dir = out / "collection" / "images" if hatch else None
    rows: list[tuple[str, list[str]]] = []
    if prints_dir is not None:
        prints_dir.mkdir(parents=True, exist_ok=True)
        _write_metadata(out / "collection" / "metadata.csv", [r for i, r in enumerate(records) if i not in held_out])
    steps = range(len(records)) if hatch else photographed
    photo_index = {record: n for n, record in enumerate(photographed)}
    for i in tqdm(steps, desc="simulate", unit="img", disable=None if progress else True):
        record = records[i]
        try:
            image = load_image(record.image_path, max_side=1600)
        except UnreadableImage:
            continue
        if prints_dir is not None:
            image = hatched_print(image, np.random.default_rng([seed, i]))
            if i not in held_out:
                Image.fromarray(image).save(prints_dir / f"{record.record_id}.jpg", quality=93)
        if i in photo_index:
            name = f"queries/{photo_index[i]:05d}.jpg"
            photo = phone_photo(image, np.random.default_rng([seed, i, 1]), settings or PhotoSettings())
            Image.fromarray(photo).save(out / name, quality=95)
            rows.append((name, [] if i in held_out else [record.record_id]))
    rows.sort()
    write_ground_truth(out / "ground_truth.csv", rows)
    return SimulatedSet(
        out / "ground_truth.csv", out / "collection" if hatch else None, len(rows) - len(held_out), len(held_out)
    )


def _write_metadata(path: Path, records: list[PrintRecord]) -> None:
    columns = ["record_id", *sorted({k for r in records for k in r.metadata})]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for record in records:
            writer.writerow({"record_id": record.record_id, **record.metadata})
