"""A collection folder: images/, metadata.csv or metadata/*.csv, images_to_remove/."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from platemark.errors import CollectionNotFound, MetadataError
from platemark.hookspecs import hookimpl
from platemark.images import COLLECTION_LIMITS, IMAGE_SUFFIXES, DecodeLimits
from platemark.ingest.metadata import FILENAME_COLUMNS, read_metadata_csv
from platemark.ingest.sources.base import PrintRecord, Source, SourceListing


def scan_images(
    folder: Path, limits: DecodeLimits = COLLECTION_LIMITS, skip: Path | None = None
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files under folder, recursively, in a stable order, and the entries refused, with why.

    Only regular files inside the folder count: a symbolic link is followed only when its target
    stays inside the folder (a link to /etc/passwd is refused, not opened), linked folders are
    not descended into, FIFOs and devices are never opened, and names that are not UTF-8 or
    files over the size limit are refused. The folder `skip` is left out.
    """
    root = folder.resolve()
    found, rejected = [], []
    for directory, subfolders, names in os.walk(folder, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and Path(directory) / d != skip)
        for sub in subfolders[:]:
            if (Path(directory) / sub).is_symlink():
                rejected.append((str(Path(directory) / sub), "linked folder: not followed"))
                subfolders.remove(sub)
        for name in sorted(names):
            path = Path(directory) / name
            if name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if why := _refusal(path, root, limits):
                rejected.append((_printable(path), why))
            else:
                found.append(path)
    return sorted(found), rejected


def image_files(folder: Path) -> list[Path]:
    """Image files under folder, recursively, in a stable order (see `scan_images`)."""
    return scan_images(folder)[0]


def _refusal(path: Path, root: Path, limits: DecodeLimits) -> str | None:
    """Why an image entry cannot be indexed, or None."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not UTF-8; rename it"
    try:
        target = path.resolve(strict=True)
        info = target.stat()
    except (OSError, RuntimeError):  # broken link, link loop
        return "broken link or unreadable entry"
    if path.is_symlink() and not target.is_relative_to(root):
        return f"link to {target}, outside the collection folder: not followed"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (FIFO, socket or device)"
    if info.st_size > limits.max_file_bytes:
        return f"file is larger than {limits.max_file_bytes / 1e6:g} MB"
    return None


def _printable(path: Path) -> str:
    """The path as text, with the bytes of a name that is not UTF-8 shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def read_collection(folder: Path, name: str | None = None) -> SourceListing:
    """List the records of a collection folder, joining metadata to images by id or filename.

    The images live in `images/` (or the folder itself when it has no `images/`).
    A metadata row is joined by a filename column to the file name, or else by its
    `record_id` (or alias) to the file stem: never by row order. Unusable CSVs and rows,
    and rows without an image, are reported in `problems`; images that cannot be indexed
    (see `scan_images`) or that would share a record id are listed in `rejected`.

    Raises:
        CollectionNotFound: the folder is missing or holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CollectionNotFound(f"{folder}: no such collection folder")
    name = name or folder.resolve().name
    image_root = folder / "images" if (folder / "images").is_dir() else folder
    placeholder_root = folder / "images_to_remove"
    paths, rejected = scan_images(image_root, skip=placeholder_root)
    if not paths:
        raise CollectionNotFound(f"{folder}: no images found (looked in {image_root})")

    by_stem: dict[str, Path] = {}
    for path in paths:
        if path.stem in by_stem:
            rejected.append((str(path), f"record id {path.stem!r} is already used by {by_stem[path.stem]}"))
            continue
        by_stem[path.stem] = path
    by_name = {p.name: stem for stem, p in by_stem.items()}

    problems: list[str] = []
    metadata, origin = _metadata_by_stem(folder, by_name, problems)
    unmatched: dict[Path, list[str]] = {}
    for stem in sorted(set(metadata) - set(by_stem)):
        csv_path, line = origin[stem]
        unmatched.setdefault(csv_path, []).append(f"line {line} ({stem!r})")
    for csv_path, rows in unmatched.items():
        problems.append(f"{csv_path}: {len(rows)} row(s) name no image, e.g. {', '.join(rows[:5])}")

    records: list[PrintRecord] = []
    owner: dict[str, Path] = {}
    for stem, path in by_stem.items():
        fields = {k: v for k, v in metadata.get(stem, {}).items() if v and k not in FILENAME_COLUMNS}
        record_id = fields.pop("record_id", stem)
        if record_id in owner:
            rejected.append(
                (str(path), f"record id {record_id!r} (from the metadata) is already used by {owner[record_id]}")
            )
            continue
        owner[record_id] = path
        records.append(PrintRecord(name, record_id, path, fields))
    placeholders = scan_images(placeholder_root)[0] if placeholder_root.is_dir() else []
    return SourceListing(name, records, placeholders, problems, rejected)


def _metadata_by_stem(
    folder: Path, by_name: dict[str, str], problems: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, tuple[Path, int]]]:
    """{image stem: metadata row} from every metadata CSV, and where each row came from (file, line).

    A second row for an image is reported and left out, never merged into the first.
    """
    metadata: dict[str, dict[str, str]] = {}
    origin: dict[str, tuple[Path, int]] = {}
    for csv_path in _metadata_files(folder, problems):
        try:
            table = read_metadata_csv(csv_path)
        except MetadataError as exc:
            problems.append(f"{exc} (images indexed without this metadata)")
            continue
        problems += table.problems
        for row, line in zip(table.rows, table.lines, strict=True):
            stem = _stem_for(row, table.join, by_name)
            if not stem:
                problems.append(f"{csv_path}: line {line}: the row has an empty {table.join}; left out")
            elif stem in metadata:
                first = "{}: line {}".format(*origin[stem])
                problems.append(f"{csv_path}: line {line}: a second row for {stem!r} (first at {first}); left out")
            else:
                metadata[stem] = row
                origin[stem] = (csv_path, line)
    return metadata, origin


def _metadata_files(folder: Path, problems: list[str]) -> list[Path]:
    candidates = [folder / "metadata.csv"] if (folder / "metadata.csv").exists() else []
    if (folder / "metadata").is_dir():
        candidates += sorted((folder / "metadata").glob("*.csv"))
    files = []
    root = folder.resolve()
    for path in candidates:
        if why := _refusal(path, root, COLLECTION_LIMITS):
            problems.append(f"{path}: {why}; metadata not read")
        else:
            files.append(path)
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


class FolderSource(Source):
    """A collection folder on this machine."""

    kind = "folder"
    description = "a folder with images/ (and metadata.csv, images_to_remove/)"

    @classmethod
    def recognises(cls, location: str) -> bool:
        return Path(location).is_dir()

    def read(self, collection: str | None = None) -> SourceListing:
        return read_collection(Path(self.location), collection)


@hookimpl
def register_sources() -> list[type[Source]]:
    return [FolderSource]
