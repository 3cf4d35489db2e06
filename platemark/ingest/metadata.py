"""Metadata CSVs: canonical column names, eMuseumPlus aliases, and years from free-text dates."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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


#: Longest metadata field kept (characters); a longer one is a broken export or an attack.
MAX_FIELD_CHARS = 65_536

#: Columns that become links on the page and in exports: only http(s) URLs are kept.
LINK_COLUMNS = ("record_url", "image_url")


@dataclass
class MetadataTable:
    """The usable rows of one metadata CSV, with canonical column names, and the rows it refused."""

    join: str  # "record_id" or a filename column: what joins a row to its image
    rows: list[dict[str, str]]
    lines: list[int]  # line number of each row, for messages
    problems: list[str] = field(default_factory=list)


def read_metadata_csv(path: Path) -> MetadataTable:
    """Read one metadata CSV into rows with canonical column names.

    The encoding is detected (UTF-8, then Windows-1252) and the delimiter sniffed (comma,
    semicolon, tab). A row that cannot be used (more fields than the header, a field over
    MAX_FIELD_CHARS) is left out and named in `problems`; so is a link that is not http(s).

    Raises:
        MetadataError: unreadable file, or no id or filename column to join on.
    """
    if not path.is_file():  # a FIFO would block, a directory fail later
        raise MetadataError(f"{path}: not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MetadataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    return parse_metadata_csv(raw, path)


def parse_metadata_csv(raw: bytes, path: Path | str) -> MetadataTable:
    """Read the bytes of one metadata CSV (see `read_metadata_csv`); `path` names it in messages.

    Raises:
        MetadataError: not a text CSV, or no id or filename column to join on.
    """
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
    previous_limit = csv.field_size_limit(max(len(text), MAX_FIELD_CHARS) + 1)  # report long fields ourselves
    try:
        return _read_rows(path, csv.reader(io.StringIO(text, newline=""), dialect))
    finally:
        csv.field_size_limit(previous_limit)


def _read_rows(path: Path | str, reader: Iterator[list[str]]) -> MetadataTable:
    try:
        header = next(reader)
    except StopIteration:
        raise MetadataError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise MetadataError(f"{path}: the header is not CSV ({exc})") from None
    columns = [canonical_name(c) for c in header]
    join = next((c for c in (*FILENAME_COLUMNS, "record_id") if c in columns), None)
    if join is None:
        shown = ", ".join(h[:40] for h in header[:20])
        raise MetadataError(
            f"{path}: no id column; expected one of record_id, recordID, id or a filename "
            f"column ({', '.join(FILENAME_COLUMNS)}); found {shown}"
        )
    table = MetadataTable(join, [], [])
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            table.problems.append(f"{path}: line {line}: not valid CSV ({exc}); the rest of the file is left out")
            break
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            table.problems.append(f"{path}: line {line} has {len(values)} fields, the header {len(columns)}; left out")
            continue
        if too_long := [c for c, v in zip(columns, values, strict=False) if len(v) > MAX_FIELD_CHARS]:
            table.problems.append(
                f"{path}: line {line}: {too_long[0] or 'a field'} is longer than {MAX_FIELD_CHARS:,} characters; "
                "row left out"
            )
            continue
        row = {c: v.strip() for c, v in zip(columns, values, strict=False) if c}
        for column in LINK_COLUMNS:
            if row.get(column) and not is_web_link(row[column]):
                table.problems.append(
                    f"{path}: line {line}: {column} {row[column][:60]!r} is not an http(s) link; left out"
                )
                del row[column]
        table.rows.append(row)
        table.lines.append(line)
    return table


def is_web_link(value: str) -> bool:
    """True for an absolute http:// or https:// URL with a host (never javascript:, data:, file: ...)."""
    parts = urlsplit(value.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


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
