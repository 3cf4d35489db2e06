"""The embedded catalog: one directory with catalog.db (SQLite), thumbnails and index files.

Every record is written with its features in one transaction, and every change bumps a
generation number, so a killed ingest leaves a consistent catalog and derived index
files know when they are stale.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from platemark.errors import CatalogNotFound, ExtractorMismatch, SearchNotFound, StoreNotMigrated
from platemark.extract.sift import LocalFeatures
from platemark.store import migrations


@dataclass(frozen=True)
class StoredRecord:
    """A record as the catalog holds it; `key` is the catalog's internal row id."""

    key: int
    collection: str
    record_id: str
    image_path: str
    content_hash: str
    width: int
    height: int
    metadata: dict[str, str]
    year_min: int | None = None
    year_max: int | None = None

    @property
    def thumb_name(self) -> str:
        """Thumbnails and display images are named by content hash: written before the record,
        shared by copies."""
        return f"{self.content_hash}.jpg"


class Catalog:
    """Open (or create) a catalog directory.

    Args:
        path: the catalog directory.
        create: make it if it does not exist and bring its schema up to date (writers do);
            otherwise a missing catalog raises, and so does one that needs `platemark migrate`.
        extractors: {"global": "name/version", "local": "name/version"} the caller
            uses; a catalog built with others raises ExtractorMismatch.

    Example:
        >>> with Catalog("./catalog") as catalog:
        ...     print(catalog.count())
    """

    def __init__(self, path: str | Path, *, create: bool = False, extractors: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self._db_path = self.path / "catalog.db"
        if not self._db_path.exists():
            if not create:
                raise CatalogNotFound(f"{self.path}: no catalog here (run `platemark ingest` first)")
            self.path.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        #: Schema steps this open applied (writers bring the schema up to date).
        self.migrated: list[str] = migrations.migrate(self.db) if create else []
        if not create and (waiting := migrations.pending(self.db)):
            raise StoreNotMigrated(
                f"{self.path} needs schema steps {', '.join(m.name for m in waiting)}: run `platemark migrate`"
            )
        if extractors:
            self._check_extractors(extractors)

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection: web workers search from many threads at once."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._db_path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            self._connections.append(connection)
        return connection

    @property
    def thumbs_dir(self) -> Path:
        return self.path / "thumbs"

    @property
    def index_dir(self) -> Path:
        return self.path / "index"

    @property
    def images_dir(self) -> Path:
        """Display copies of the collection images, so the web app never reads outside the catalog."""
        return self.path / "images"

    @property
    def searches_dir(self) -> Path:
        return self.path / "searches"

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        """Bumped by every change to records, so derived index files can tell they are stale."""
        return int(self.get_meta("generation", "0") or 0)

    def _bump_generation(self) -> None:
        self._set_meta("generation", str(self.generation + 1))

    def _check_extractors(self, extractors: dict[str, str]) -> None:
        with self.db:
            for role, name in extractors.items():
                stored = self.get_meta(f"extractor.{role}")
                if stored is None:
                    self._set_meta(f"extractor.{role}", name)
                elif stored != name:
                    raise ExtractorMismatch(
                        f"{self.path} was built with {role} features {stored!r}, not {name!r}; "
                        "ingest into a new catalog"
                    )

    # -- writing ---------------------------------------------------------------------------
    def content_hashes(self, collection: str) -> dict[str, str]:
        """{record_id: content hash} of a collection, to skip unchanged images on re-ingest."""
        rows = self.db.execute("SELECT record_id, content_hash FROM records WHERE collection = ?", (collection,))
        return dict(rows.fetchall())

    def upsert(
        self,
        *,
        collection: str,
        record_id: str,
        image_path: str,
        content_hash: str,
        metadata: dict[str, str],
        years: tuple[int | None, int | None],
        global_vector: np.ndarray,
        local: LocalFeatures,
    ) -> int:
        """Insert or replace one record with its features, atomically; returns its key."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            key = self.db.execute(
                """INSERT INTO records (collection, record_id, image_path, content_hash, width, height,
                                        metadata, year_min, year_max)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (collection, record_id) DO UPDATE SET
                     image_path = excluded.image_path, content_hash = excluded.content_hash,
                     width = excluded.width, height = excluded.height, metadata = excluded.metadata,
                     year_min = excluded.year_min, year_max = excluded.year_max
                   RETURNING id""",
                (
                    collection,
                    record_id,
                    image_path,
                    content_hash,
                    local.width,
                    local.height,
                    json.dumps(metadata, ensure_ascii=False),
                    *years,
                ),
            ).fetchone()[0]
            self.db.execute(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?)",
                (
                    key,
                    global_vector.astype(np.float32).tobytes(),
                    local.points.astype(np.float32).tobytes(),
                    local.descriptors.astype(np.uint8).tobytes(),
                ),
            )
            self._bump_generation()
        return key

    def update_metadata(
        self, collection: str, record_id: str, metadata: dict[str, str], years: tuple[int | None, int | None]
    ) -> None:
        """Replace a record's metadata without touching its features."""
        with self.db:
            self.db.execute(
                "UPDATE records SET metadata = ?, year_min = ?, year_max = ? WHERE collection = ? AND record_id = ?",
                (json.dumps(metadata, ensure_ascii=False), *years, collection, record_id),
            )

    def delete(self, collection: str, record_ids: list[str]) -> int:
        """Delete records and their features; returns how many were deleted."""
        deleted = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for record_id in record_ids:
                deleted += self.db.execute(
                    "DELETE FROM records WHERE collection = ? AND record_id = ?", (collection, record_id)
                ).rowcount
            if deleted:
                self._bump_generation()
        return deleted

    def remove_orphan_images(self) -> int:
        """Delete thumbnails and display images no record refers to any more; returns how many."""
        used = {f"{h}.jpg" for (h,) in self.db.execute("SELECT DISTINCT content_hash FROM records")}
        orphans = [
            path
            for folder in (self.thumbs_dir, self.images_dir)
            if folder.is_dir()
            for path in folder.glob("*")
            if path.name not in used
        ]
        for path in orphans:
            path.unlink(missing_ok=True)
        return len(orphans)

    def set_collection_source(self, collection: str, source: str) -> None:
        with self.db:
            self._set_meta(f"collection.{collection}.source", source)

    # -- reading ---------------------------------------------------------------------------
    def count(self, collection: str | None = None) -> int:
        if collection:
            return self.db.execute("SELECT count(*) FROM records WHERE collection = ?", (collection,)).fetchone()[0]
        return self.db.execute("SELECT count(*) FROM records").fetchone()[0]

    def collections(self) -> dict[str, int]:
        """{collection name: number of records}."""
        rows = self.db.execute("SELECT collection, count(*) FROM records GROUP BY collection ORDER BY collection")
        return dict(rows.fetchall())

    def records(self, keys: list[int] | None = None) -> dict[int, StoredRecord]:
        """Records by key (all of them when keys is None)."""
        query = f"SELECT {RECORD_COLUMNS} FROM records"
        if keys is None:
            rows = self.db.execute(query).fetchall()
        else:
            rows = []
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self.db.execute(f"{query} WHERE id IN ({marks})", chunk).fetchall()
        return {r[0]: _record(r) for r in rows}

    def find(self, collection: str, record_id: str) -> StoredRecord | None:
        row = self.db.execute(
            "SELECT id FROM records WHERE collection = ? AND record_id = ?", (collection, record_id)
        ).fetchone()
        return self.records([row[0]])[row[0]] if row else None

    def keys(self) -> np.ndarray:
        """Keys of all records with features, in key order (the row order of global_vectors)."""
        return np.array([k for (k,) in self.db.execute("SELECT record FROM features ORDER BY record")], np.int64)

    def global_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Keys and global vectors (N, dim) of all records, in key order."""
        rows = self.db.execute(
            "SELECT r.id, f.global FROM records r JOIN features f ON f.record = r.id ORDER BY r.id"
        ).fetchall()
        keys = np.array([r[0] for r in rows], np.int64)
        vectors = np.stack([np.frombuffer(r[1], np.float32) for r in rows]) if rows else np.zeros((0, 0), np.float32)
        return keys, vectors

    def local_features(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(key, points (N, 2), descriptors (N, 128)) of every record, in key order."""
        for key, points, descriptors in self.db.execute(
            "SELECT record, points, descriptors FROM features ORDER BY record"
        ):
            yield (
                key,
                np.frombuffer(points, np.float32).reshape(-1, 2),
                np.frombuffer(descriptors, np.uint8).reshape(-1, 128),
            )

    def save_search(self, search_id: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Keep a search (its parameters and results) so a link can show it again."""
        with self.db:
            self.db.execute(
                "INSERT INTO searches (id, request, response) VALUES (?, ?, ?)",
                (search_id, json.dumps(request), json.dumps(response, ensure_ascii=False)),
            )

    def get_search(self, search_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(request, response) of a saved search.

        Raises:
            SearchNotFound: no search has this id.
        """
        row = self.db.execute("SELECT request, response FROM searches WHERE id = ?", (search_id,)).fetchone()
        if row is None:
            raise SearchNotFound(f"no saved search {search_id!r}")
        return json.loads(row[0]), json.loads(row[1])

    def size_on_disk(self) -> int:
        """Bytes used by the catalog directory."""
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def info(self) -> dict[str, object]:
        """Collections, counts, extractors, index state and size: what `platemark info` shows."""
        descriptors = self.db.execute("SELECT coalesce(sum(length(descriptors)), 0) FROM features").fetchone()[0]
        index_file = self.index_dir / "local.faiss"
        return {
            "path": str(self.path.resolve()),
            "records": self.count(),
            "collections": self.collections(),
            "sources": {name: self.get_meta(f"collection.{name}.source") for name in self.collections()},
            "extractors": {role: self.get_meta(f"extractor.{role}") for role in ("global", "local")},
            "local_keypoints": descriptors // 128,
            "local_index": "built" if index_file.exists() else "not built (made on first search)",
            "generation": self.generation,
            "size_mb": round(self.size_on_disk() / 1e6, 1),
        }


RECORD_COLUMNS = "id, collection, record_id, image_path, content_hash, width, height, metadata, year_min, year_max"


def _record(row: tuple) -> StoredRecord:
    return StoredRecord(*row[:7], json.loads(row[7]), row[8], row[9])
