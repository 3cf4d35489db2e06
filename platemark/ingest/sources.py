"""Read a collection folder: images/, metadata.csv or metadata/*.csv, images_to_remove/."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from platemark.errors import CollectionNotFound, MetadataError
from platemark.images import IMAGE_SUFFIXES
from platemark.ingest.metadata import FILENAME_COLUMNS, parse_years, read_metadata_csv


@dataclass
class PrintRecord:
    """One catalogue record: an image file and what the metadata says about it."""

    collection: str
    record_id: str
    image_path: Path
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def years(self) -> tuple[int | None, int | None]:
        return parse_years(self.metadata.get("date", ""))


@dataclass
class CollectionFolder:
    """What a collection folder holds, and what in it could not be used."""

    name: str
    records: list[PrintRecord]
    placeholders: list[Path]
    problems: list[str]


def image_files(folder: Path) -> list[Path]:
    """Image files under folder, recursively, in a stable order."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def read_collection(folder: Path, name: str | None = None) -> CollectionFolder:
    """List the records of a collection folder, joining metadata to images by id or filename.

    The images live in `images/` (or the folder itself when it has no `images/`).
    A metadata row is joined by a filename column to the file name, or else by its
    `record_id` (or alias) to the file stem: never by row order. Unreadable CSVs,
    rows without an image and duplicate ids are reported in `problems`.

    Raises:
        CollectionNotFound: the folder is missing or holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CollectionNotFound(f"{folder}: no such collection folder")
    name = name or folder.resolve().name
    image_root = folder / "images" if (folder / "images").is_dir() else folder
    placeholder_root = folder / "images_to_remove"
    paths = [p for p in image_files(image_root) if placeholder_root not in p.parents]
    if not paths:
        raise CollectionNotFound(f"{folder}: no images found (looked in {image_root})")

    problems: list[str] = []
    by_stem: dict[str, Path] = {}
    for path in paths:
        if path.stem in by_stem:
            problems.append(f"{path}: skipped, record id {path.stem!r} already used by {by_stem[path.stem]}")
            continue
        by_stem[path.stem] = path
    by_name = {p.name: stem for stem, p in by_stem.items()}

    metadata: dict[str, dict[str, str]] = {}
    for csv_path in _metadata_files(folder):
        try:
            join, rows = read_metadata_csv(csv_path)
        except MetadataError as exc:
            problems.append(f"{exc} (images indexed without this metadata)")
            continue
        for row in rows:
            stem = _stem_for(row, join, by_name)
            if not stem:
                problems.append(f"{csv_path}: a row has an empty {join}")
                continue
            metadata.setdefault(stem, {}).update(row)
    unmatched = sorted(set(metadata) - set(by_stem))
    if unmatched:
        problems.append(f"{len(unmatched)} metadata row(s) have no image, e.g. {', '.join(unmatched[:5])}")

    records = []
    for stem, path in by_stem.items():
        fields = {k: v for k, v in metadata.get(stem, {}).items() if v and k not in FILENAME_COLUMNS}
        record_id = fields.pop("record_id", stem)
        records.append(PrintRecord(name, record_id, path, fields))
    placeholders = image_files(placeholder_root) if placeholder_root.is_dir() else []
    return CollectionFolder(name, records, placeholders, problems)


def _metadata_files(folder: Path) -> list[Path]:
    files = [folder / "metadata.csv"] if (folder / "metadata.csv").is_file() else []
    if (folder / "metadata").is_dir():
        files += sorted((folder / "metadata").glob("*.csv"))
    return files


def _stem_for(row: dict[str, str], join: str, by_name: dict[str, str]) -> str:
    """The image stem a metadata row belongs to."""
    value = row.get(join, "").strip()
    if join == "record_id":
        if "/" in value or "\\" in value:
            value = Path(value.replace("\\", "/")).name
        return Path(value).stem if Path(value).suffix.lower() in IMAGE_SUFFIXES else value
    name = Path(value.replace("\\", "/")).name
    return by_name.get(name, Path(name).stem)
