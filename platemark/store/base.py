"""What every catalog does, written once: records, features, metadata and saved searches.

The embedded (SQLite) and PostgreSQL catalogs differ only in how they connect, take a write
lock, store a vector and find nearest neighbours. The SQL here runs on both; placeholders
are written `?`. Every record is written with its features in one transaction, and every
change bumps a generation number, so a killed ingest leaves a consistent catalog and
derived index files know when they are stale.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from platemark.errors import CatalogNotFound, ExtractorMismatch, SearchNotFound, StoreNotMigrated
from platemark.extract.sift import LocalFeatures
from platemark.iiif.links import IIIFLink
from platemark.store import migrations
from platemark.store.descriptors import DescriptorCodec
from platemark.store.filters import FACETS, RecordFilter

#: Rows fetched or written per statement when working through many records.
CHUNK = 500
#: `meta` counters bumped when a record changes or is deleted, when records are deleted, when stored
#: duplicate pairs change, and when postings move to another segment or codebook.
RECORDS_CHANGED = "records.changed"
RECORDS_DELETED = "records.deleted"
PAIRS_CHANGED = "duplicates.generation"
POSTINGS_MOVED = "index.generation"
#: A merge writes its segment in transactions of about this many bytes of postings, and deletes the
#: merged ones this many words at a time: other writers wait for one of them, not the whole merge.
WRITE_BATCH = 16 << 20
WORDS_PER_TRANSACTION = 4096
#: Rows of a replaced codebook's `indexed` deleted per statement.
ROWS_PER_DELETE = 50_000
#: A pending segment untouched for this long belongs to a merge that was killed, and is dropped.
ABANDONED_AFTER = 600.0
#: Connections `preload_postings` reads on at once (8: 59 s for a million records' postings, cold; 32: 125 s).
PRELOAD_CONNECTIONS = 8


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
    iiif: IIIFLink | None = None

    @property
    def thumb_name(self) -> str:
        """Thumbnails and display images are named by content hash: written before the record,
        shared by copies."""
        return f"{self.content_hash}.jpg"


@dataclass(frozen=True)
class RecordWithFeatures:
    """A record and its features, as bulk loads, export and import move them."""

    collection: str
    record_id: str
    image_path: str
    content_hash: str
    metadata: dict[str, str]
    years: tuple[int | None, int | None]
    global_vector: np.ndarray
    local: LocalFeatures
    iiif: IIIFLink | None = None

    def columns(self) -> tuple:
        """Values of the `records` columns RECORD_FIELDS names, in that order."""
        return (
            self.collection,
            self.record_id,
            self.image_path,
            self.content_hash,
            self.local.width,
            self.local.height,
            json.dumps(self.metadata, ensure_ascii=False),
            *self.years,
            self.iiif.to_json() if self.iiif else None,
        )


class Catalog(ABC):
    """A catalog: records, their features, and a media directory for images and derived files.

    Open one with `platemark.store.open_catalog(location)`, which picks the backend from the
    location: a directory (embedded SQLite) or a `postgresql://` URL.

    Args:
        location: the directory or URL, as shown in messages.
        media: directory of display images, thumbnails, saved query photos and index files.
        create: bring the schema up to date, creating it if needed (writers do); otherwise a
            catalog that needs `platemark migrate` raises StoreNotMigrated.
        extractors: {"global": "name/version", "local": "name/version"} the caller uses; a
            catalog built with others raises ExtractorMismatch.
    """

    #: This backend's schema steps, in order.
    schema_steps: tuple[migrations.Migration, ...]

    def __init__(
        self, location: str, media: Path, *, create: bool = False, extractors: dict[str, str] | None = None
    ) -> None:
        self.location = location
        self.media = media
        self._local = threading.local()
        self._connections: list[Any] = []
        self._codecs: dict[int, DescriptorCodec] = {}
        if not create and not self.table_exists("meta"):
            raise CatalogNotFound(f"{location}: no catalog here (run `platemark ingest` first)")
        #: Schema steps this open applied.
        self.migrated: list[str] = migrations.migrate(self) if create else []
        if not create and (waiting := migrations.pending(self)):
            raise StoreNotMigrated(
                f"{self.location} needs schema steps {', '.join(m.name for m in waiting)}: run `platemark migrate`"
            )
        if extractors:
            self.check_extractors(extractors)

    # -- what each backend provides ----------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any:
        """A new connection in autocommit mode."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction; writers from other threads and processes wait for it."""

    @abstractmethod
    def lock_schema(self) -> None:
        """Inside a transaction: keep other processes from changing the schema until it ends."""

    @abstractmethod
    def table_exists(self, name: str) -> bool: ...

    @abstractmethod
    def _encode_vector(self, vector: np.ndarray) -> Any: ...

    @abstractmethod
    def _decode_vector(self, value: Any) -> np.ndarray: ...

    @abstractmethod
    def _json_text(self, field: str) -> str:
        """SQL for one metadata field as text."""

    @abstractmethod
    def _epoch(self, column: str) -> str:
        """SQL for a timestamp column as Unix time."""

    @abstractmethod
    def _text_match(self, words: list[str]) -> tuple[str, list[Any]]:
        """SQL condition on `records` (and its parameters): the record's text has a word starting
        with each of `words`; answered by the backend's full-text index."""

    @abstractmethod
    def nearest(self, vector: np.ndarray, k: int, where: RecordFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keys and cosine similarities of the k records whose global vectors are closest to `vector`."""

    @abstractmethod
    def warm(self) -> None:
        """Load whatever makes the first search fast."""

    @abstractmethod
    def size_on_disk(self) -> int:
        """Bytes the catalog's database uses (media not included)."""

    def free_on_disk(self) -> int:
        """Bytes of `size_on_disk` that hold nothing and that new rows fill first: an embedded catalog's
        file does not shrink when descriptors are compressed or records deleted. PostgreSQL's tables
        are left to its autovacuum: 0."""
        return 0

    # -- connections -----------------------------------------------------------------------
    @property
    def db(self) -> Any:
        """This thread's connection: web workers search from many threads at once."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            self._connections.append(connection)
        return connection

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """Run one statement (placeholders written `?`); returns the cursor."""
        return self.db.execute(sql, tuple(params))

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def thumbs_dir(self) -> Path:
        return self.media / "thumbs"

    @property
    def images_dir(self) -> Path:
        """Display copies of the collection images, so the web app never reads outside the catalog."""
        return self.media / "images"

    @property
    def index_dir(self) -> Path:
        """Index files derived from the catalog, tagged with the generation they reflect."""
        return self.media / "index"

    @property
    def searches_dir(self) -> Path:
        return self.media / "searches"

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def generation(self) -> int:
        """Bumped by every change to records, so derived index files can tell they are stale."""
        return int(self.get_meta("generation", "0") or 0)

    def _bump_generation(self, counter: str = "generation") -> int:
        """Within a write transaction; atomic, so concurrent writers never reuse a number. Returns it."""
        return int(
            self.execute(
                "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) "
                "DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT) RETURNING value",
                (counter,),
            ).fetchone()[0]
        )

    def features_version(self) -> tuple[int, int, int]:
        """(generation, deletions, records), read at one moment: an index of the catalog's features made at
        one generation catches up with the records stored since (`global_vector_changes`), and, when the
        deletions changed, forgets the records no longer there (`keys_matching()`); it then holds as many
        records as the catalog did."""
        generation, deletions, records = self.execute(
            "SELECT (SELECT value FROM meta WHERE key = ?), (SELECT value FROM meta WHERE key = ?),"
            " (SELECT count(*) FROM records)",
            ("generation", RECORDS_DELETED),
        ).fetchone()
        return int(generation or 0), int(deletions or 0), int(records)

    @property
    def index_generation(self) -> int:
        """Bumped whenever postings move to another segment or codebook (a merge, a retrain): a reader that
        holds which segment holds each record (`indexed_segments`) for long must read it again."""
        return int(self.get_meta(POSTINGS_MOVED, "0") or 0)

    def duplicates_version(self) -> tuple[int, int]:
        """(records changed, pairs' generation): changes whenever stored duplicate pairs or the records
        they show may have, with a record changed or deleted (it takes its pairs) or a `duplicates` run;
        not with records added, which an ingest does many times a minute."""
        found = dict(self.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", (RECORDS_CHANGED, PAIRS_CHANGED)))
        return int(found.get(RECORDS_CHANGED, 0)), int(found.get(PAIRS_CHANGED, 0))

    def extractors(self) -> dict[str, str]:
        """{role: "name/version"} of the features this catalog holds."""
        return {role: name for role in ("global", "local") if (name := self.get_meta(f"extractor.{role}"))}

    def check_extractors(self, extractors: dict[str, str]) -> None:
        """Record the extractors of a new catalog; raise ExtractorMismatch if it holds others'."""
        with self.transaction():
            for role, name in extractors.items():
                self.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                    (f"extractor.{role}", name),
                )
                stored = self.get_meta(f"extractor.{role}")
                if stored != name:
                    raise ExtractorMismatch(
                        f"{self.location} was built with {role} features {stored!r}, not {name!r}; "
                        "ingest into a new catalog"
                    )

    def set_collection_source(self, collection: str, source: str) -> None:
        self._set_meta(f"collection.{collection}.source", source)

    def set_image_origins(self, collection: str, origins: Iterable[str]) -> None:
        """Record the servers (scheme://host) a collection's IIIF images are served from."""
        self._set_meta(f"collection.{collection}.image_origins", json.dumps(sorted(set(origins))))

    def image_origins(self) -> tuple[str, ...]:
        """Servers the records' IIIF images come from, over all collections: the web page may
        load deep-zoom images from these and no others."""
        rows = self.execute("SELECT value FROM meta WHERE key LIKE ?", ("collection.%.image_origins",)).fetchall()
        return tuple(sorted({origin for (value,) in rows for origin in json.loads(value)}))

    # -- writing ---------------------------------------------------------------------------
    def content_hashes(self, collection: str) -> dict[str, str]:
        """{record_id: content hash} of a collection, to skip unchanged images on re-ingest."""
        rows = self.execute("SELECT record_id, content_hash FROM records WHERE collection = ?", (collection,))
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
        iiif: IIIFLink | None = None,
    ) -> int:
        """Insert or replace one record with its features, atomically; returns its key."""
        record = RecordWithFeatures(
            collection, record_id, image_path, content_hash, metadata, years, global_vector, local, iiif
        )
        with self.transaction():
            if self.execute(
                "SELECT 1 FROM records WHERE collection = ? AND record_id = ?", (collection, record_id)
            ).fetchone():
                self._bump_generation(RECORDS_CHANGED)
            generation = self._bump_generation()
            key = self.execute(
                f"""INSERT INTO records ({RECORD_FIELDS}, features_stored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (collection, record_id) DO UPDATE SET
                     image_path = excluded.image_path, content_hash = excluded.content_hash,
                     width = excluded.width, height = excluded.height, metadata = excluded.metadata,
                     year_min = excluded.year_min, year_max = excluded.year_max, iiif = excluded.iiif,
                     features_stored = excluded.features_stored, descriptor_codec = NULL
                   RETURNING id""",
                (*record.columns(), generation),
            ).fetchone()[0]
            self.execute(
                """INSERT INTO features (record, global, points, descriptors) VALUES (?, ?, ?, ?)
                   ON CONFLICT (record) DO UPDATE SET
                     global = excluded.global, points = excluded.points, descriptors = excluded.descriptors""",
                (key, *self._feature_values(global_vector, local)),
            )
            self.execute("DELETE FROM indexed WHERE record = ?", (key,))  # its postings are stale now
        return key

    def insert_many(self, records: Iterable[RecordWithFeatures]) -> int:
        """Add many new records in one transaction (bulk loads, import); returns how many.

        Raises the backend's integrity error if a (collection, record_id) is already present.
        """
        added = 0
        with self.transaction():
            generation = self._bump_generation()
            for chunk in batched(records, CHUNK):
                for record in chunk:
                    key = self.execute(
                        f"INSERT INTO records ({RECORD_FIELDS}, features_stored)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        (*record.columns(), generation),
                    ).fetchone()[0]
                    self.execute(
                        "INSERT INTO features (record, global, points, descriptors) VALUES (?, ?, ?, ?)",
                        (key, *self._feature_values(record.global_vector, record.local)),
                    )
                added += len(chunk)
        return added

    def _feature_values(self, global_vector: np.ndarray, local: LocalFeatures) -> tuple[Any, bytes, bytes]:
        return (
            self._encode_vector(global_vector.astype(np.float32)),
            local.points.astype(np.float32).tobytes(),
            local.descriptors.astype(np.uint8).tobytes(),
        )

    def update_metadata(
        self,
        collection: str,
        record_id: str,
        metadata: dict[str, str],
        years: tuple[int | None, int | None],
        iiif: IIIFLink | None = None,
    ) -> None:
        """Replace a record's metadata (and IIIF link) without touching its features; nothing is written
        when they are as stored (a re-ingest passes every unchanged record through here)."""
        current = self.find(collection, record_id)
        if current is None or (current.metadata, (current.year_min, current.year_max), current.iiif) == (
            metadata,
            years,
            iiif,
        ):
            return
        with self.transaction():
            self.execute(
                "UPDATE records SET metadata = ?, year_min = ?, year_max = ?, iiif = ?"
                " WHERE collection = ? AND record_id = ?",
                (
                    json.dumps(metadata, ensure_ascii=False),
                    *years,
                    iiif.to_json() if iiif else None,
                    collection,
                    record_id,
                ),
            )
            self._bump_generation(RECORDS_CHANGED)

    def delete(self, collection: str, record_ids: list[str]) -> int:
        """Delete records and their features; returns how many were deleted."""
        deleted = 0
        with self.transaction():
            for record_id in record_ids:
                deleted += self.execute(
                    "DELETE FROM records WHERE collection = ? AND record_id = ?", (collection, record_id)
                ).rowcount
            if deleted:
                self._bump_generation()
                self._bump_generation(RECORDS_CHANGED)
                self._bump_generation(RECORDS_DELETED)
        return deleted

    def remove_orphan_images(self, written_before: float) -> int:
        """Delete thumbnails and display images that no record refers to; returns how many.

        Only files last written before `written_before` (a time.time()) are candidates: an ingest
        running meanwhile writes an image just before its record, and must not lose it.
        """
        used = {f"{h}.jpg" for (h,) in self.execute("SELECT DISTINCT content_hash FROM records")}
        orphans = [
            path
            for folder in (self.thumbs_dir, self.images_dir)
            if folder.is_dir()
            for path in folder.glob("*.jpg")
            if path.name not in used and path.stat().st_mtime < written_before
        ]
        for path in orphans:
            path.unlink(missing_ok=True)
        return len(orphans)

    def save_search(
        self,
        search_id: str,
        request: dict[str, Any],
        response: dict[str, Any],
        *,
        expires_at: float,
        photo_bytes: int = 0,
    ) -> None:
        """Keep a search (its parameters and results) until `expires_at` (Unix time), so a link can show it."""
        self.execute(
            "INSERT INTO searches (id, request, response, expires_at, photo_bytes) VALUES (?, ?, ?, ?, ?)",
            (search_id, json.dumps(request), json.dumps(response, ensure_ascii=False), expires_at, photo_bytes),
        )

    def keep_search(self, search_id: str, until: float) -> float:
        """Keep a saved search at least until `until` (Unix time); returns when it now expires.

        Raises:
            SearchNotFound: no unexpired search has this id.
        """
        row = self.execute(
            "UPDATE searches SET expires_at = CASE WHEN expires_at > ? THEN expires_at ELSE ? END "
            "WHERE id = ? AND expires_at > ? RETURNING expires_at",
            (until, until, search_id, time.time()),
        ).fetchall()  # to the end, so SQLite finishes the statement and releases its lock
        if not row:
            raise SearchNotFound(f"no saved search {search_id!r} (it may have expired)")
        return float(row[0][0])

    def delete_expired_searches(self, now: float) -> list[str]:
        """Delete the searches that expired by `now`; returns their ids (each to exactly one caller)."""
        return [
            search_id
            for (search_id,) in self.execute("DELETE FROM searches WHERE expires_at <= ? RETURNING id", (now,))
        ]

    def save_feedback(self, search_id: str, collection: str, record_id: str, answer: str, answered_at: float) -> None:
        """Keep (or change) a visitor's answer about one result of a saved search.

        `answer` is "this", "not_this" or, with empty collection and record_id, "none" (none of
        the results). "none" withdraws earlier "this" answers of the search, and "this" withdraws "none".
        """
        contradicted = ("this",) if answer == "none" else ("none",) if answer == "this" else ()
        with self.transaction():
            for old in contradicted:
                self.execute("DELETE FROM feedback WHERE search_id = ? AND answer = ?", (search_id, old))
            self.execute(
                """INSERT INTO feedback (search_id, collection, record_id, answer, answered_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (search_id, collection, record_id) DO UPDATE SET
                     answer = excluded.answer, answered_at = excluded.answered_at""",
                (search_id, collection, record_id, answer, answered_at),
            )

    def feedback(self, search_ids: Iterable[str] | None = None) -> dict[str, list[Feedback]]:
        """Answers about saved searches (all of them, or those of `search_ids`), by search, oldest first."""
        select = "SELECT search_id, collection, record_id, answer, answered_at FROM feedback"
        if search_ids is None:
            rows = self.execute(f"{select} ORDER BY answered_at").fetchall()
        else:
            rows = []
            for chunk in batched(sorted(set(search_ids)), CHUNK):
                rows += self.execute(f"{select} WHERE search_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        by_search: dict[str, list[Feedback]] = {}
        for answer in sorted((Feedback(*row) for row in rows), key=lambda answer: answer.answered_at):
            by_search.setdefault(answer.search_id, []).append(answer)
        return by_search

    def recent_searches(self, offset: int = 0, limit: int = 50) -> tuple[list[tuple[float, SavedSearch]], int]:
        """Unexpired saved searches, newest first, each with when it was made (Unix time), and how many there are."""
        now = time.time()
        total = self.execute("SELECT count(*) FROM searches WHERE expires_at > ?", (now,)).fetchone()[0]
        rows = self.execute(
            f"SELECT {self._epoch('created_at')}, {SAVED_SEARCH_COLUMNS} FROM searches WHERE expires_at > ?"
            " ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (now, limit, offset),
        )
        return [(float(row[0]), _saved_search(row[1:])) for row in rows], total

    def saved_search_bytes(self) -> int:
        """Bytes the photos of unexpired saved searches take on disk."""
        return int(self.execute("SELECT coalesce(sum(photo_bytes), 0) FROM searches").fetchone()[0])

    # -- reading ---------------------------------------------------------------------------
    def count(self, collection: str | None = None) -> int:
        if collection:
            return self.execute("SELECT count(*) FROM records WHERE collection = ?", (collection,)).fetchone()[0]
        return self.execute("SELECT count(*) FROM records").fetchone()[0]

    def collections(self) -> dict[str, int]:
        """{collection name: number of records}."""
        rows = self.execute("SELECT collection, count(*) FROM records GROUP BY collection ORDER BY collection")
        return dict(rows.fetchall())

    def records(self, keys: Iterable[int]) -> dict[int, StoredRecord]:
        """Records by key; keys that are not in the catalog are left out."""
        found = {}
        for chunk in batched(_distinct_keys(keys), CHUNK):
            marks = ",".join("?" * len(chunk))
            for row in self.execute(f"SELECT {RECORD_COLUMNS} FROM records WHERE id IN ({marks})", chunk):
                found[row[0]] = _record(row)
        return found

    def find(self, collection: str, record_id: str) -> StoredRecord | None:
        row = self.execute(
            f"SELECT {RECORD_COLUMNS} FROM records WHERE collection = ? AND record_id = ?", (collection, record_id)
        ).fetchone()
        return _record(row) if row else None

    def browse(
        self, where: RecordFilter | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[StoredRecord], int]:
        """One page of the records matching a filter, by collection and record id, and how many match."""
        clause, params = self._where(where)
        total = self.execute(f"SELECT count(*) FROM records WHERE {clause}", params).fetchone()[0]
        rows = self.execute(
            f"SELECT {RECORD_COLUMNS} FROM records WHERE {clause} ORDER BY collection, record_id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_record(row) for row in rows], total

    def keys_matching(self, where: RecordFilter | None = None) -> np.ndarray:
        """Keys of the records a filter admits (every record's, without one)."""
        clause, params = self._where(where)
        return np.array([k for (k,) in self.execute(f"SELECT id FROM records WHERE {clause}", params)], np.int64)

    def filter_values(self) -> dict[str, list]:
        """Values a filter UI can offer: collections, facet values, and the range of years."""
        values: dict[str, list] = {"collections": list(self.collections())}
        for facet in FACETS:
            field = self._json_text(facet)
            rows = self.execute(f"SELECT DISTINCT {field} FROM records WHERE {field} <> '' ORDER BY 1")
            values[facet] = [value for (value,) in rows]
        low, high = self.execute("SELECT min(year_min), max(year_max) FROM records").fetchone()
        low = low if low is not None else high
        values["years"] = [low, high if high is not None else low] if low is not None else []
        return values

    def _where(self, where: RecordFilter | None) -> tuple[str, list[Any]]:
        return where.sql(self._json_text, self._text_match) if where is not None else ("1 = 1", [])

    def global_vectors(self, keys: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keys and global vectors (N, dim) of the given records (all when None), in key order."""
        found, chunks = [], []
        for chunk_keys, vectors in self.global_vector_chunks(keys):
            found.append(chunk_keys)
            chunks.append(vectors)
        if not chunks:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return np.concatenate(found), np.concatenate(chunks)

    def global_vector_chunks(self, keys: Iterable[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The same as `global_vectors`, CHUNK records at a time: a million vectors are 5 GB at once."""
        for rows in batched(self._features_of("global", keys), CHUNK):
            yield (
                np.array([key for key, _ in rows], np.int64),
                np.stack([self._decode_vector(value) for _, value in rows]),
            )

    def local_features(self, keys: Iterable[int] | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(key, points (N, 2), descriptors (N, 128)) of the given records (all when None), in key order;
        compressed descriptors come decoded."""
        codec = "(SELECT descriptor_codec FROM records WHERE records.id = features.record)"
        for key, points, descriptors, codec_id in self._features_of(f"points, descriptors, {codec}", keys):
            yield key, _points(points), self._descriptors(descriptors, codec_id)

    def _descriptors(self, data: bytes, codec_id: int | None) -> np.ndarray:
        """(N, 128) uint8 descriptors as stored: whole, or by that codec."""
        if codec_id is None:
            return np.frombuffer(data, np.uint8).reshape(-1, 128)
        return self.codec(codec_id).decode(data)

    def codec(self, codec_id: int) -> DescriptorCodec:
        """A stored codec, read once per catalog object (they never change)."""
        if codec_id not in self._codecs:
            (data,) = self.execute("SELECT data FROM descriptor_codecs WHERE id = ?", (codec_id,)).fetchone()
            self._codecs[codec_id] = DescriptorCodec.from_bytes(bytes(data))
        return self._codecs[codec_id]

    def descriptor_codec(self) -> int | None:
        """Id of the codec new compressions use (the first stored), or None."""
        row = self.execute("SELECT min(id) FROM descriptor_codecs").fetchone()
        return None if row[0] is None else int(row[0])

    def add_descriptor_codec(self, codec: DescriptorCodec) -> int:
        """Store a codec; returns the id of the one to use (another process may have stored one first)."""
        with self.transaction():
            if (existing := self.descriptor_codec()) is not None:
                return existing
            return int(
                self.execute(
                    "INSERT INTO descriptor_codecs (created_at, data) VALUES (?, ?) RETURNING id",
                    (time.time(), codec.to_bytes()),
                ).fetchone()[0]
            )

    def raw_indexed(self, codebook: int, limit: int) -> dict[int, str]:
        """{key: content hash} of up to `limit` records indexed under this codebook whose descriptors
        are stored whole."""
        rows = self.execute(
            # through the index of raw records in key order: a join read all 500,000 `indexed` rows, 0.6 s
            """SELECT id, content_hash FROM records WHERE descriptor_codec IS NULL
               AND EXISTS (SELECT 1 FROM indexed WHERE indexed.record = records.id AND indexed.codebook = ?)
               ORDER BY id LIMIT ?""",
            (codebook, limit),
        ).fetchall()
        return {int(key): content_hash for key, content_hash in rows}

    def compress_descriptors(self, codec_id: int, read: dict[int, str], codes: dict[int, bytes]) -> int:
        """Store records' descriptors as codes of that codec, given the content hash each was read at
        (`read`): a record re-ingested since keeps its new descriptors. Returns how many were stored."""
        stored = 0
        with self.transaction():
            for key, data in codes.items():
                still = self.execute(
                    "UPDATE records SET descriptor_codec = ?"
                    " WHERE id = ? AND content_hash = ? AND descriptor_codec IS NULL RETURNING id",
                    (codec_id, key, read[key]),
                ).fetchone()
                if still:
                    self.execute("UPDATE features SET descriptors = ? WHERE record = ?", (data, key))
                    stored += 1
        return stored

    def global_vector_changes(self, since: int, until: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Keys and global vectors of the records whose features were stored after generation `since`, up
        to `until` (added, or replaced by another image), CHUNK records at a time, in key order."""
        changed = self.execute(
            "SELECT id FROM records WHERE features_stored > ? AND features_stored <= ? ORDER BY id", (since, until)
        ).fetchall()
        yield from self.global_vector_chunks(key for (key,) in changed)

    def _features_of(self, columns: str, keys: Iterable[int] | None) -> Iterator[tuple]:
        """Rows of (record, *columns) from features, in key order, fetched a chunk at a time."""
        if keys is not None:
            for chunk in batched(_distinct_keys(keys), CHUNK):
                marks = ",".join("?" * len(chunk))
                yield from self.execute(
                    f"SELECT record, {columns} FROM features WHERE record IN ({marks}) ORDER BY record", chunk
                ).fetchall()
            return
        yield from self._in_key_order(f"SELECT record, {columns} FROM features", "record")

    def _in_key_order(self, select: str, key: str) -> Iterator[tuple]:
        """Rows of `select` (whose first column is `key`) in key order, fetched CHUNK at a time:
        a catalog's features may not fit in memory at once."""
        last = -1
        while rows := self.execute(f"{select} WHERE {key} > ? ORDER BY {key} LIMIT {CHUNK}", (last,)).fetchall():
            yield from rows
            last = rows[-1][0]

    def records_with_features(self) -> Iterator[RecordWithFeatures]:
        """Every record with its features, in key order: what export copies."""
        select = (
            f"SELECT {RECORD_COLUMNS}, f.global, f.points, f.descriptors, descriptor_codec"
            " FROM records JOIN features f ON f.record = records.id"
        )
        for row in self._in_key_order(select, "records.id"):
            record = _record(row[:11])
            yield RecordWithFeatures(
                record.collection,
                record.record_id,
                record.image_path,
                record.content_hash,
                record.metadata,
                (record.year_min, record.year_max),
                self._decode_vector(row[11]),
                LocalFeatures(_points(row[12]), self._descriptors(row[13], row[14]), record.width, record.height),
                record.iiif,
            )

    def keypoint_count(self) -> int:
        """Reference keypoints stored over all records."""
        return int(self.execute("SELECT coalesce(sum(length(points)), 0) FROM features").fetchone()[0]) // 8

    # -- the local-feature index (platemark.index) --------------------------------------------
    #: Appended to a SELECT inside a transaction so that rows read stay as read until it commits.
    _share_lock = ""
    #: Appended to a SELECT inside a transaction so that no other transaction changes or locks the rows
    #: read until it commits (SQLite's BEGIN IMMEDIATE already keeps every other writer out).
    _update_lock = ""

    def codebook(self, state: str = "active") -> tuple[int, bytes] | None:
        """(id, data) of the codebook in this state ("active" or "building"), or None."""
        row = self.execute("SELECT id, data FROM codebooks WHERE state = ?", (state,)).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def codebook_data(self, codebook: int) -> bytes:
        return bytes(self.execute("SELECT data FROM codebooks WHERE id = ?", (codebook,)).fetchone()[0])

    def active_codebook_id(self) -> int | None:
        """The id of the codebook searches use, without reading its data (~540 MB at a million words)."""
        row = self.execute("SELECT id FROM codebooks WHERE state = 'active'").fetchone()
        return int(row[0]) if row else None

    def codebook_ids(self) -> dict[int, str]:
        """{id: state} of the active codebook and the one being built, if any."""
        rows = self.execute("SELECT id, state FROM codebooks WHERE state IN ('active', 'building') ORDER BY id")
        return {int(i): state for i, state in rows}

    def add_codebook(self, data: bytes, trained_on: int, *, active: bool) -> int:
        """Store a new codebook, active at once (a first one) or "building" until `activate_codebook`;
        returns its id, or the id of the one another process stored in that state first."""
        state = "active" if active else "building"
        with self.transaction():
            row = self.execute(
                "INSERT INTO codebooks (state, trained_on, created_at, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (state) DO NOTHING RETURNING id",
                (state, trained_on, time.time(), data),
            ).fetchone()
        return int(row[0]) if row else self.codebook(state)[0]

    def activate_codebook(self, codebook: int) -> None:
        """Make a built codebook the one searches use, in one step, and drop the one it replaces with its
        postings (`drop_retired`)."""
        with self.transaction():
            replaced = "SELECT id FROM codebooks WHERE id <> ? AND state = 'active'"
            self.execute(f"UPDATE segments SET state = 'retired' WHERE codebook IN ({replaced})", (codebook,))
            self.execute(
                "UPDATE codebooks SET state = 'retired ' || id WHERE id <> ? AND state = 'active'", (codebook,)
            )
            self.execute("UPDATE codebooks SET state = 'active' WHERE id = ?", (codebook,))
            self._bump_generation(POSTINGS_MOVED)
        self.drop_retired()

    def unindexed(self, codebook: int, limit: int) -> list[tuple[int, str]]:
        """(key, content hash) of up to `limit` records whose features the codebook does not index yet."""
        rows = self.execute(
            "SELECT records.id, records.content_hash FROM records"
            " LEFT JOIN indexed i ON i.record = records.id AND i.codebook = ?"
            " WHERE i.record IS NULL ORDER BY records.id LIMIT ?",
            (codebook, limit),
        )
        return [(int(key), digest) for key, digest in rows]

    def add_segment(self, codebook: int, read: dict[int, str], rows: Iterable[tuple[int, bytes]]) -> int:
        """Store the postings of the records in `read` ({key: content hash when read}) as a new segment, in
        one transaction; returns its number. Records re-ingested or deleted since they were read stay
        unindexed (their postings here are never used)."""
        with self.transaction():
            current = self._current_hashes(list(read))
            segment = self._new_segment(codebook, "live")
            self._append_postings(codebook, segment, rows)
            fresh = [key for key, digest in read.items() if current.get(key) == digest]
            self.executemany(  # another process may have indexed some meanwhile: theirs stay
                "INSERT INTO indexed (codebook, record, segment) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                ((codebook, key, segment) for key in fresh),
            )
        return segment

    def replace_segments(self, codebook: int, merged: list[int], rows: Iterable[tuple[int, bytes]]) -> int | None:
        """Store a merge of segments as one new segment in their place; returns its number, or None (nothing
        changed) if another process claimed or dropped any of them first.

        The new segment is written in transactions of about WRITE_BATCH bytes while searches go on with
        the merged ones (a record's postings count only from the segment `indexed` names), then takes
        their place in one short transaction, and their postings are deleted in batches
        (`drop_retired`): ingests and saved searches wait for the write lock a batch at a time, not for
        the whole merge. Segments that held no current record leave no new one. Should the process die
        on the way, the half-written segment is dropped once untouched for ABANDONED_AFTER seconds.
        """
        segment = self._claim(codebook, merged)
        if segment is None:
            return None
        placed = False
        try:
            for batch in _batches(rows, WRITE_BATCH):
                with self.transaction():
                    if not self._append_postings(codebook, segment, batch, pending=True):
                        return None  # untouched for so long that another process dropped it
            with self.transaction():
                placed = self._place(codebook, segment, merged)
        finally:
            if not placed:
                with self.transaction():
                    self._retire(codebook, segment)
            self.drop_retired()
        return segment if placed else None

    def drop_retired(self) -> None:
        """Delete the postings of merged segments, of abandoned half-written ones and of replaced codebooks,
        a batch of words per transaction (one statement deleting gigabytes would hold the write lock as
        long as the merge it follows). Several processes may do it at once."""
        with self.transaction():
            abandoned = self.execute(
                f"SELECT codebook, segment FROM segments WHERE state = 'pending' AND touched < ?{self._update_lock}",
                (time.time() - ABANDONED_AFTER,),
            ).fetchall()
            for codebook, segment in abandoned:
                self._retire(int(codebook), int(segment))
        for codebook, segment in self.execute(
            "SELECT codebook, segment FROM segments WHERE state = 'retired'"
        ).fetchall():
            words = self.segment_words(codebook, [segment])
            for start in range(0, len(words), WORDS_PER_TRANSACTION):
                span = words[start : start + WORDS_PER_TRANSACTION]
                self.execute(
                    "DELETE FROM postings WHERE codebook = ? AND segment = ? AND word BETWEEN ? AND ?",
                    (codebook, segment, span[0], span[-1]),
                )
            self.execute("DELETE FROM segments WHERE codebook = ? AND segment = ?", (codebook, segment))
        for (codebook,) in self.execute("SELECT id FROM codebooks WHERE state LIKE ?", ("retired %",)).fetchall():
            some = "SELECT record FROM indexed WHERE codebook = ? LIMIT ?"
            while self.execute(
                f"DELETE FROM indexed WHERE codebook = ? AND record IN ({some})", (codebook, codebook, ROWS_PER_DELETE)
            ).rowcount:
                pass
            self.execute("DELETE FROM codebooks WHERE id = ?", (codebook,))

    def _claim(self, codebook: int, merged: list[int]) -> int | None:
        """Open a pending segment for the merge of `merged` and mark them as being merged into it, or None
        if any of them is no longer live or another merge has them."""
        marks = ",".join("?" * len(merged))
        with self.transaction():
            segment = self._new_segment(codebook, "pending")
            claimed = self.execute(
                f"UPDATE segments SET merging = ? WHERE codebook = ? AND segment IN ({marks})"
                " AND state = 'live' AND merging IS NULL",
                (segment, codebook, *merged),
            ).rowcount
            if claimed == len(merged):
                return segment
            self._retire(codebook, segment)
        self.drop_retired()
        return None

    def _place(self, codebook: int, segment: int, merged: list[int]) -> bool:
        """Inside a transaction: make a written pending segment the one its records' postings are read
        from, and retire the segments merged into it; False if it was dropped as abandoned meanwhile."""
        state = self.execute(
            f"SELECT state FROM segments WHERE codebook = ? AND segment = ?{self._update_lock}", (codebook, segment)
        ).fetchone()
        if state is None or state[0] != "pending":
            return False
        marks = ",".join("?" * len(merged))
        moved = self.execute(
            f"UPDATE indexed SET segment = ? WHERE codebook = ? AND segment IN ({marks})", (segment, codebook, *merged)
        ).rowcount
        self.execute(
            f"UPDATE segments SET state = 'retired', merging = NULL WHERE codebook = ? AND segment IN ({marks})",
            (codebook, *merged),
        )
        self.execute(
            "UPDATE segments SET state = ?, touched = NULL WHERE codebook = ? AND segment = ?",
            ("live" if moved else "retired", codebook, segment),
        )
        self._bump_generation(POSTINGS_MOVED)
        return True

    def _retire(self, codebook: int, segment: int) -> None:
        """Inside a transaction: give up a pending segment, releasing the segments it was merging."""
        self.execute("UPDATE segments SET merging = NULL WHERE codebook = ? AND merging = ?", (codebook, segment))
        self.execute(
            "UPDATE segments SET state = 'retired', touched = NULL WHERE codebook = ? AND segment = ?",
            (codebook, segment),
        )

    def _new_segment(self, codebook: int, state: str) -> int:
        """Inside a transaction: number and record a new, empty segment."""
        segment = int(
            self.execute(
                """INSERT INTO segment_counters (codebook, last_segment) VALUES (?, 1)
                   ON CONFLICT (codebook) DO UPDATE SET last_segment = segment_counters.last_segment + 1
                   RETURNING last_segment""",
                (codebook,),
            ).fetchone()[0]
        )
        # a platemark from before the counter (say on another machine, mid-upgrade) numbers from the largest
        highest = self.execute("SELECT coalesce(max(segment), 0) FROM segments WHERE codebook = ?", (codebook,))
        if segment <= (top := int(highest.fetchone()[0])):
            segment = top + 1
            self.execute("UPDATE segment_counters SET last_segment = ? WHERE codebook = ?", (segment, codebook))
        self.execute(
            "INSERT INTO segments (codebook, segment, postings, state, touched) VALUES (?, ?, 0, ?, ?)",
            (codebook, segment, state, time.time()),
        )
        return segment

    def _append_postings(
        self, codebook: int, segment: int, rows: Iterable[tuple[int, bytes]], *, pending: bool = False
    ) -> bool:
        """Inside a transaction: add (word, postings) rows to a segment; with `pending`, only if it is still
        pending (and note that it was touched now). Returns whether they were added."""
        rows = [(codebook, int(word), segment, data) for word, data in rows]
        still = " AND state = 'pending'" if pending else ""
        if not self.execute(
            f"UPDATE segments SET postings = postings + ?, touched = ? WHERE codebook = ? AND segment = ?{still}",
            (sum(len(row[3]) for row in rows), time.time(), codebook, segment),
        ).rowcount:
            return False
        self.executemany("INSERT INTO postings (codebook, word, segment, data) VALUES (?, ?, ?, ?)", rows)
        return True

    def _current_hashes(self, keys: list[int]) -> dict[int, str]:
        """{key: content hash} now, holding the rows so that no re-ingest changes them before the commit."""
        found: dict[int, str] = {}
        for chunk in batched(_distinct_keys(keys), CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self.execute(f"SELECT id, content_hash FROM records WHERE id IN ({marks}){self._share_lock}", chunk)
            found.update((int(key), digest) for key, digest in rows)
        return found

    def segments(self, codebook: int, *, claimable: bool = False) -> dict[int, tuple[int, int]]:
        """{segment: (records it holds, bytes of postings)} of a codebook's live segments (records 0: only
        stale postings); with `claimable`, only those no merge is writing into another segment."""
        held = dict(
            self.execute("SELECT segment, count(*) FROM indexed WHERE codebook = ? GROUP BY segment", (codebook,))
        )
        unclaimed = " AND merging IS NULL" if claimable else ""
        stored = self.execute(
            f"SELECT segment, postings FROM segments WHERE codebook = ? AND state = 'live'{unclaimed}", (codebook,)
        )
        return {int(s): (int(held.get(s, 0)), int(size)) for s, size in stored}

    def postings(
        self, codebook: int, words: Iterable[int], segments: Iterable[int] | None = None
    ) -> Iterator[tuple[int, int, bytes]]:
        """(word, segment, posting bytes) rows of these words, one per segment that holds the word, by word."""
        only = _distinct_keys(segments) if segments is not None else None
        for chunk in batched(_distinct_keys(words), CHUNK):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT word, segment, data FROM postings WHERE codebook = ? AND word IN ({marks})"
            params: list[int] = [codebook, *chunk]
            if only is not None:
                sql += f" AND segment IN ({','.join('?' * len(only))})"
                params += only
            # fetched a chunk at a time: a merge writes to the table between chunks
            for word, segment, data in self.execute(sql + " ORDER BY word, segment", params).fetchall():
                yield int(word), int(segment), bytes(data)

    def preload_postings(self, connections: int = PRELOAD_CONNECTIONS) -> int:
        """Read every posting list of the active codebook once, and keep nothing: the OS then holds them in
        its file cache, where a search finds them. Returns the bytes read.

        A search at a million records reads ~40 MB of postings in ~3,600 lists: ~100 ms from the cache,
        ~460 ms from this machine's disk, where the lists lie scattered in 4 kB pages. Word ranges are read
        on several connections at once, as a disk answers many scattered reads faster than one after
        another (9.5 GB of postings: 59 s on 8 connections, 196 s on one).
        """
        active = self.active_codebook_id()
        if active is None:
            return 0
        (last,) = self.execute("SELECT max(word) FROM postings WHERE codebook = ?", (active,)).fetchone()
        if last is None:
            return 0
        parts = 8 * connections
        bounds = [round(i * (last + 1) / parts) for i in range(parts + 1)]

        def read(first: int, end: int) -> int:
            cursor = self.execute(
                "SELECT data FROM postings WHERE codebook = ? AND word >= ? AND word < ?", (active, first, end)
            )
            total = 0
            while rows := cursor.fetchmany(1000):
                total += sum(len(data) for (data,) in rows)
            return total

        with ThreadPoolExecutor(connections, thread_name_prefix="platemark-preload") as pool:
            return sum(pool.map(read, bounds[:-1], bounds[1:]))

    def segment_words(self, codebook: int, segments: Iterable[int]) -> list[int]:
        """Every word the segments hold postings for."""
        only = _distinct_keys(segments)
        marks = ",".join("?" * len(only))
        rows = self.execute(
            f"SELECT DISTINCT word FROM postings WHERE codebook = ? AND segment IN ({marks}) ORDER BY word",
            (codebook, *only),
        )
        return [int(word) for (word,) in rows]

    def indexed_segments(self, codebook: int, keys: Iterable[int] | None = None) -> dict[int, int]:
        """{key: segment holding its current postings} of these records (all when None) that are indexed."""
        if keys is None:
            rows = self.execute("SELECT record, segment FROM indexed WHERE codebook = ?", (codebook,))
            return {int(k): int(s) for k, s in rows}
        found: dict[int, int] = {}
        for chunk in batched(_distinct_keys(keys), CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self.execute(
                f"SELECT record, segment FROM indexed WHERE codebook = ? AND record IN ({marks})", (codebook, *chunk)
            )
            found.update((int(k), int(s)) for k, s in rows)
        return found

    def index_info(self) -> dict[str, object]:
        """The active codebook, records it indexes, segments and their size."""
        active = self.active_codebook_id()
        if active is None:
            return {"codebook": None, "indexed": 0, "segments": 0, "postings_mb": 0.0, "compressed": 0}
        segments = self.segments(active)
        return {
            "codebook": active,
            "indexed": sum(records for records, _ in segments.values()),
            "segments": len(segments),
            "postings_mb": round(sum(size for _, size in segments.values()) / 1e6, 1),
            "compressed": self.execute("SELECT count(*) FROM records WHERE descriptor_codec IS NOT NULL").fetchone()[0],
        }

    # -- duplicates ------------------------------------------------------------------------------
    def unexamined(self) -> dict[int, str]:
        """{key: content hash} of the records not examined for duplicates at their current content:
        new ones, and ones whose image a later ingest changed."""
        rows = self.execute(
            "SELECT r.id, r.content_hash FROM records r LEFT JOIN duplicates_examined e ON e.record = r.id"
            " WHERE e.content_hash IS NULL OR e.content_hash <> r.content_hash ORDER BY r.id"
        )
        return dict(rows.fetchall())

    def record_names(self) -> dict[int, tuple[str, str]]:
        """{key: (collection, record id)} of every record: keys are the store's own, names travel."""
        rows = self.execute("SELECT id, collection, record_id FROM records")
        return {int(key): (collection, record_id) for key, collection, record_id in rows}

    def shared_contents(self) -> dict[str, list[int]]:
        """{content hash: keys} of the image files more than one record holds: one pass over the
        records, where a lookup per record would scan them all each time (content_hash has no index)."""
        rows = self.execute(
            "SELECT content_hash, id FROM records WHERE content_hash IN"
            " (SELECT content_hash FROM records GROUP BY content_hash HAVING count(*) > 1) ORDER BY id"
        )
        shared: dict[str, list[int]] = defaultdict(list)
        for digest, key in rows:
            shared[digest].append(int(key))
        return dict(shared)

    def forget_duplicates(self, keys: Iterable[int] | None = None) -> None:
        """Drop the pairs of these records (all when None) and that they were examined: they are
        examined again, as when their images changed."""
        with self.transaction():
            self._bump_generation(PAIRS_CHANGED)
            if keys is None:
                self.execute("DELETE FROM duplicate_pairs")
                self.execute("DELETE FROM duplicates_examined")
                return
            for chunk in batched(sorted(set(keys)), CHUNK):
                marks = ",".join("?" * len(chunk))
                either = f"record_a IN ({marks}) OR record_b IN ({marks})"
                self.execute(f"DELETE FROM duplicate_pairs WHERE {either}", (*chunk, *chunk))
                self.execute(f"DELETE FROM duplicates_examined WHERE record IN ({marks})", chunk)

    def save_duplicates(self, examined: dict[int, str], pairs: Iterable[tuple[int, int, str, int, str]]) -> None:
        """Keep the pairs found (record_a < record_b, relation, inliers, evidence JSON) and that the
        records were examined ({key: content hash examined}), in one transaction."""
        with self.transaction():
            self._bump_generation(PAIRS_CHANGED)
            self.executemany(
                "INSERT INTO duplicate_pairs (record_a, record_b, relation, inliers, evidence) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (record_a, record_b) DO UPDATE SET relation = excluded.relation,"
                " inliers = excluded.inliers, evidence = excluded.evidence",
                pairs,
            )
            self.executemany(
                "INSERT INTO duplicates_examined (record, content_hash) VALUES (?, ?)"
                " ON CONFLICT (record) DO UPDATE SET content_hash = excluded.content_hash",
                examined.items(),
            )

    def duplicate_rows(self) -> list[tuple[int, int, str, int, str]]:
        """Every stored pair: (record_a, record_b, relation, inliers, evidence JSON)."""
        return self.execute(
            "SELECT record_a, record_b, relation, inliers, evidence FROM duplicate_pairs ORDER BY record_a, record_b"
        ).fetchall()

    def save_duplicate_decision(
        self, a: tuple[str, str], b: tuple[str, str], decision: str | None, decided_at: float
    ) -> None:
        """Keep (or, with None, withdraw) a curator's decision about a pair of records, each (collection, record id)."""
        (collection_a, record_a), (collection_b, record_b) = sorted((a, b))
        with self.transaction():
            self.execute(
                "DELETE FROM duplicate_decisions WHERE collection_a = ? AND record_a = ? AND collection_b = ?"
                " AND record_b = ?",
                (collection_a, record_a, collection_b, record_b),
            )
            if decision is not None:
                self.execute(
                    "INSERT INTO duplicate_decisions (collection_a, record_a, collection_b, record_b, decision,"
                    " decided_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (collection_a, record_a, collection_b, record_b, decision, decided_at),
                )

    def duplicate_decisions(self) -> dict[tuple[tuple[str, str], tuple[str, str]], tuple[str, float]]:
        """{((collection, record id), (collection, record id)) in sorted order: (decision, when)}."""
        rows = self.execute(
            "SELECT collection_a, record_a, collection_b, record_b, decision, decided_at FROM duplicate_decisions"
        )
        return {((ca, ra), (cb, rb)): (decision, float(when)) for ca, ra, cb, rb, decision, when in rows}

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        """Run one statement for many parameter rows (a chunk at a time)."""
        for chunk in batched(rows, CHUNK):
            self.db.cursor().executemany(self._paramstyle(sql), [tuple(row) for row in chunk])

    def _paramstyle(self, sql: str) -> str:
        """The statement in the driver's parameter style (written with ?)."""
        return sql

    def get_search(self, search_id: str) -> SavedSearch:
        """A saved search that has not expired.

        Raises:
            SearchNotFound: no unexpired search has this id.
        """
        row = self.execute(
            f"SELECT {SAVED_SEARCH_COLUMNS} FROM searches WHERE id = ? AND expires_at > ?", (search_id, time.time())
        ).fetchone()
        if row is None:
            raise SearchNotFound(f"no saved search {search_id!r} (it may have expired)")
        return _saved_search(row)

    def saved_searches(self) -> Iterator[SavedSearch]:
        """Every saved search, expired or not (for copying a catalog)."""
        for row in self.execute(f"SELECT {SAVED_SEARCH_COLUMNS} FROM searches ORDER BY id"):
            yield _saved_search(row)

    def info(self) -> dict[str, object]:
        """Collections, counts, extractors, index state and size: what `platemark info` shows."""
        collections = self.collections()
        return {
            "location": self.location,
            "backend": self.backend,
            "media": str(self.media.resolve()),
            "records": self.count(),
            "collections": collections,
            "sources": {name: self.get_meta(f"collection.{name}.source") for name in collections},
            "extractors": self.extractors(),
            "local_keypoints": self.keypoint_count(),
            "index": self.index_info(),
            "generation": self.generation,
            "size_mb": round(self.size_on_disk() / 1e6, 1),
            "free_mb": round(self.free_on_disk() / 1e6, 1),
        }

    @property
    @abstractmethod
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""


RECORD_COLUMNS = (
    "records.id, collection, record_id, image_path, content_hash, width, height, metadata, year_min, year_max, iiif"
)


def batched(items: Iterable[Any], size: int) -> Iterator[tuple]:
    """Successive tuples of `size` items (itertools.batched arrived in Python 3.12)."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


#: The `records` columns a new record fills, in the order of RecordWithFeatures.columns().
RECORD_FIELDS = "collection, record_id, image_path, content_hash, width, height, metadata, year_min, year_max, iiif"


def _batches(rows: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    """(word, postings) rows in lists of about `size` bytes of postings."""
    batch: list[tuple[int, bytes]] = []
    held = 0
    for row in rows:
        batch.append(row)
        held += len(row[1])
        if held >= size:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _distinct_keys(keys: Iterable[int]) -> list[int]:
    """Keys in order, once each, as Python ints (a numpy integer binds to nothing in SQLite)."""
    return sorted({int(key) for key in keys})


def _points(points: bytes) -> np.ndarray:
    """Stored keypoint positions (N, 2) from their bytes."""
    return np.frombuffer(points, np.float32).reshape(-1, 2)


SAVED_SEARCH_COLUMNS = "id, request, response, expires_at, photo_bytes"


@dataclass(frozen=True)
class SavedSearch:
    """A search kept so that a link can show it again, until it expires."""

    search_id: str
    request: dict[str, Any]
    response: dict[str, Any]
    expires_at: float  # Unix time
    photo_bytes: int


@dataclass(frozen=True)
class Feedback:
    """A visitor's answer about one result of a saved search ("none": about all of them)."""

    search_id: str
    collection: str
    record_id: str
    answer: str
    answered_at: float  # Unix time


def _saved_search(row: tuple) -> SavedSearch:
    return SavedSearch(row[0], json.loads(row[1]), json.loads(row[2]), float(row[3]), int(row[4]))


def _record(row: tuple) -> StoredRecord:
    return StoredRecord(*row[:7], json.loads(row[7]), row[8], row[9], IIIFLink.from_json(row[10]))
