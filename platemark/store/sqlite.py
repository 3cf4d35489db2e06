"""The embedded catalog: one directory with catalog.db (SQLite), images, thumbnails and index files.

Global vectors are searched in memory with faiss; the index is saved beside the database,
tagged with the catalog generation. A process reads it, and as an ingest stores, replaces or deletes
records, it adds their new vectors to the index it holds and forgets the old ones.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from platemark.errors import CatalogNotFound
from platemark.store import migrations
from platemark.store.base import Catalog, RecordWithFeatures
from platemark.store.filters import RecordFilter
from platemark.store.vectors import VectorIndex

#: The approximate index holds 4-bit vectors (store.vectors), whose similarities order close neighbours
#: only roughly: this many times the neighbours asked for (at least ten) are read back from the catalog
#: and ranked by their stored vectors.
RESCORED = 4


class SQLiteCatalog(Catalog):
    """Open (or, with create=True, make) a catalog directory.

    Args:
        path: the catalog directory.
        media: where images, thumbnails and index files go (default: the catalog directory).

    Example:
        >>> with SQLiteCatalog("./catalog") as catalog:
        ...     print(catalog.count())
    """

    schema_steps = migrations.SQLITE
    backend = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        media: str | Path | None = None,
        create: bool = False,
        extractors: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._db_path = self.path / "catalog.db"
        if not self._db_path.exists():
            if not create:
                raise CatalogNotFound(f"{self.path}: no catalog here (run `platemark ingest` first)")
            self.path.mkdir(parents=True, exist_ok=True)
        self._vectors: VectorIndex | None = None
        self._vectors_lock = threading.RLock()  # a server's threads search while one brings it up to date
        super().__init__(str(self.path), Path(media) if media else self.path, create=create, extractors=extractors)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._db_path, timeout=60, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA synchronous=NORMAL")
        # SQLite's own lower() folds ASCII only; person filters must agree with PostgreSQL's.
        connection.create_function("lower", 1, lambda text: text.lower() if text else text, deterministic=True)
        return connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def lock_schema(self) -> None:
        """BEGIN IMMEDIATE already holds the database's single write lock."""

    def table_exists(self, name: str) -> bool:
        return (
            self.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
            is not None
        )

    def _encode_vector(self, vector: np.ndarray) -> bytes:
        return vector.tobytes()

    def _decode_vector(self, value: bytes) -> np.ndarray:
        return np.frombuffer(value, np.float32)

    def _json_text(self, field: str) -> str:
        return f"json_extract(metadata, '$.{field}')"

    def _epoch(self, column: str) -> str:
        return f"CAST(strftime('%s', {column}) AS REAL)"

    def _text_match(self, words: list[str]) -> tuple[str, list[Any]]:
        # FTS5 syntax: a quoted word with * is a prefix; terms side by side must all occur.
        return "records.id IN (SELECT rowid FROM records_text WHERE records_text MATCH ?)", [
            " ".join(f'"{word}"*' for word in words)
        ]

    def nearest(self, vector: np.ndarray, k: int, where: RecordFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        matching = self.keys_matching(where) if where is not None and not where.empty else None
        with self._vectors_lock:
            index = self.vector_index()
            allowed = None if matching is None else np.isin(index.keys, matching)
            if index.exact:
                rows, sims = index.search(vector, k, allowed)
                return index.keys[rows], sims
            rows, _ = index.search(vector, RESCORED * max(k, 10), allowed)
            found = index.keys[rows]
        if len(found) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        keys, vectors = self.global_vectors(found)
        sims = vectors @ np.asarray(vector, np.float32)
        order = np.argsort(-sims, kind="stable")[:k]
        return keys[order], sims[order]

    def insert_many(self, records: Iterable[RecordWithFeatures]) -> int:
        added = super().insert_many(records)
        self.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # else the log stays as large as the load
        return added

    def warm(self) -> None:
        self.vector_index()

    def vector_index(self) -> VectorIndex:
        """The faiss index of global vectors, up to date: the one held, or else the one saved last, with the
        records stored since added and those deleted since forgotten. It is built again from every record
        (~25 s at 100,000 records, which a search waits for) only when none was saved, when it outgrows
        exact search, when a tenth of its rows are of records deleted or replaced, or when it does not
        come out holding as many records as the catalog (say, ones an older platemark stored)."""
        with self._vectors_lock:
            generation, deletions, count = self.features_version()
            held = self._vectors
            if held is not None and held.generation == generation:
                return held
            if held is None:
                held = VectorIndex.load(self.index_dir)
            if held is not None and held.can_catch_up(count):
                for keys, vectors in self.global_vector_changes(held.generation, generation):
                    held.add(keys, vectors)
                if held.deletions != deletions:
                    held.keep(self.keys_matching())
                held.generation, held.deletions = generation, deletions
            if held is None or not held.can_catch_up(count) or held.size - held.dead != count:
                held = VectorIndex.streamed(count, self.global_vector_chunks, generation, deletions)
            if held.changed_since_saved:
                with contextlib.suppress(OSError):  # a read-only catalog still searches
                    held.save(self.index_dir)
            self._vectors = held
            return held

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.path.glob("catalog.db*"))

    def free_on_disk(self) -> int:
        (pages,) = self.execute("PRAGMA freelist_count").fetchone()
        (page_size,) = self.execute("PRAGMA page_size").fetchone()
        return int(pages) * int(page_size)
