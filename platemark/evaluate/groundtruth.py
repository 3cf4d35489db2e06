"""Ground-truth files: `query,record_ids` CSV, ids separated by `;`, empty = not in collection."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from platemark.errors import EvaluationInputError


@dataclass(frozen=True)
class GroundTruthQuery:
    """One query photo and the records visible in it (empty: none of the collection)."""

    path: Path
    record_ids: frozenset[str]

    @property
    def name(self) -> str:
        return str(self.path)


def read_ground_truth(csv_path: str | Path) -> list[GroundTruthQuery]:
    """Read a ground-truth CSV; query paths are relative to the CSV's folder.

    Raises:
        EvaluationInputError: missing file or columns, or a query photo that does not exist.
    """
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationInputError(f"{csv_path}: cannot read ground truth ({exc})") from exc
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"query", "record_ids"} <= set(reader.fieldnames):
        raise EvaluationInputError(f"{csv_path}: expected columns query,record_ids; found {reader.fieldnames}")
    queries = []
    for row in reader:
        path = csv_path.parent / row["query"].strip()
        if not path.is_file():
            raise EvaluationInputError(f"{csv_path}: query photo {path} does not exist")
        ids = frozenset(i.strip() for i in (row["record_ids"] or "").split(";") if i.strip())
        queries.append(GroundTruthQuery(path, ids))
    if not queries:
        raise EvaluationInputError(f"{csv_path}: no queries")
    return queries


def write_ground_truth(csv_path: Path, rows: list[tuple[str, list[str]]]) -> None:
    """Write (relative query path, record ids) rows in the ground-truth format."""
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "record_ids"])
        for query, ids in rows:
            writer.writerow([query, ";".join(ids)])
