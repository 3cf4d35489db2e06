"""Metadata CSVs: canonical column names, eMuseumPlus aliases, and years from free-text dates."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from platemark.errors import MetadataError

CANONICAL_COLUMNS = (
    "record_id",
    "inventory_number",
    "title",
    "person",
    "date",
    "classification",
    "material_technique",
    "institution",
    "record_url",
    "image_url",
    "image_licence",
    "relations",
)

#: ETH eMuseumPlus export names and other common spellings -> canonical column.
ALIASES = {
    "recordid": "record_id",
    "id": "record_id",
    "imageurl": "image_url",
    "invnr": "inventory_number",
    "mattec": "material_technique",
    "institutionisil": "institution",
    "recordurl": "record_url",
    "imagelicence": "image_licence",
    "imagelicense": "image_licence",
    "image_license": "image_licence",
}

#: Columns that name the image file a row describes.
FILENAME_COLUMNS = ("filename", "file", "image", "image_file", "imagefile")

ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def canonical_name(column: str) -> str:
    """The canonical name of a CSV column (aliases mapped, case and spaces normalised)."""
    key = column.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key.replace("_", ""), ALIASES.get(key, key))


def read_metadata_csv(path: Path) -> tuple[str, list[dict[str, str]]]:
    """Read one metadata CSV into rows with canonical column names.

    Returns the name of the column that joins rows to images ("record_id" or a
    filename column) and the rows. The encoding is detected (UTF-8, then
    Windows-1252) and the delimiter sniffed (comma, semicolon, tab).

    Raises:
        MetadataError: unreadable file, or no id or filename column to join on.
    """
    raw = path.read_bytes()
    text = None
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise MetadataError(f"{path}: not a text CSV file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise MetadataError(f"{path}: the file is empty") from None
    columns = [canonical_name(c) for c in header]
    join = next((c for c in (*FILENAME_COLUMNS, "record_id") if c in columns), None)
    if join is None:
        raise MetadataError(
            f"{path}: no id column; expected one of record_id, recordID, id or a filename "
            f"column ({', '.join(FILENAME_COLUMNS)}); found {', '.join(header)}"
        )
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            raise MetadataError(f"{path}: line {number} has {len(values)} fields, header has {len(columns)}")
        row = {c: v.strip() for c, v in zip(columns, values, strict=False) if c}
        rows.append(row)
    return join, rows


_YEAR = r"(?<!\d)(\d{3,4})(?!\d)"
_RANGE = re.compile(_YEAR + r"\s*(?:-|–|—|to|bis)\s*(\d{1,4})(?!\d)")
_CENTURY = re.compile(r"(\d{1,2})(?:st|nd|rd|th|\.)\s*(?:century|jh|jahrhundert)", re.IGNORECASE)


def parse_years(date: str) -> tuple[int | None, int | None]:
    """Earliest and latest year a free-text date allows.

    Example:
        >>> parse_years("c. 1710"), parse_years("1600–50"), parse_years("Entstehung: 1915 - 1916")
        ((1710, 1710), (1600, 1650), (1915, 1916))
    """
    if not date:
        return None, None
    years: list[int] = []
    for match in _RANGE.finditer(date):
        start, end = match.group(1), match.group(2)
        if len(end) < len(start):  # "1600–50" -> 1650
            end = start[: len(start) - len(end)] + end
        years += [int(start), int(end)]
    years += [int(y) for y in re.findall(_YEAR, date)]
    if not years:
        centuries = [int(c) for c in _CENTURY.findall(date)]
        years = [y for c in centuries for y in ((c - 1) * 100, (c - 1) * 100 + 99)]
    years = [y for y in years if 500 <= y <= 2200]
    return (min(years), max(years)) if years else (None, None)
