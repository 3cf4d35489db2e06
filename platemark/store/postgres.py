"""The PostgreSQL catalog: records and features in PostgreSQL, global vectors in a pgvector HNSW index.

Any number of serve workers and ingest processes, on any number of machines, may share
one database: records are upserted by (collection, record_id), the generation is bumped
atomically, and schema steps run under an advisory lock. Images, thumbnails and derived
index files live in a media directory that every process sees at the same path
(recorded in the catalog when it is made, overridable with --media).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from platemark.errors import CatalogNotFound, PlatemarkError
from platemark.store import migrations
from platemark.store.base import RECORD_FIELDS, Catalog, RecordWithFeatures, batched
from platemark.store.filters import RecordFilter

try:
    import psycopg
    from pgvector.psycopg import register_vector
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise PlatemarkError("PostgreSQL catalogs need the postgres extra: pip install 'platemark[postgres]'") from exc

#: pgvector's hnsw.ef_search: candidates the graph search keeps (at least k are always kept).
#: Chosen by benchmarks/bench_store_vectors.py: recall@10 0.957 at a million records (100: 0.936).
EF_SEARCH = 400
#: Any constant will do: every platemark process takes this advisory lock to change the schema.
SCHEMA_LOCK = 0x706C6D6B
#: Rows per COPY batch in bulk loads.
COPY_CHUNK = 5_000


class PostgresCatalog(Catalog):
    """Open (or, with create=True, make) a catalog in a PostgreSQL database with pgvector.

    Args:
        url: a libpq URL, e.g. postgresql://platemark@db.example.org/prints.
        media: the media directory; required when the catalog is made, recorded, and
            then found by every process (give it again to override, e.g. another mount).

    Example:
        >>> with PostgresCatalog("postgresql://localhost/prints", media="/srv/platemark") as catalog:
        ...     print(catalog.count())
    """

    schema_steps = migrations.POSTGRES
    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        media: str | Path | None = None,
        create: bool = False,
        extractors: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.location = _without_password(url)
        #: Candidates the HNSW search keeps; more is slower and finds more of the true nearest.
        self.ef_search = EF_SEARCH
        if create and media is None and not self._media_recorded():
            raise self._media_missing()  # before making anything
        super().__init__(_without_password(url), Path(media or "."), create=create, extractors=extractors)
        if self.migrated:
            self.close()  # connections made before the vector type existed cannot read vectors
        stored = self.get_meta("media")
        if media is not None:
            self.media = Path(media).resolve()
            if stored is None and create:
                self._set_meta("media", str(self.media))
        elif stored is not None:
            self.media = Path(stored)
        else:
            raise self._media_missing()

    def _media_recorded(self) -> bool:
        with self._connect() as connection:
            if connection.execute("SELECT to_regclass('meta') IS NULL").fetchone()[0]:
                return False
            return connection.execute("SELECT 1 FROM meta WHERE key = 'media'").fetchone() is not None

    def _media_missing(self) -> PlatemarkError:
        return PlatemarkError(
            f"{self.location}: a PostgreSQL catalog needs a media directory for its images; "
            "give --media DIR (or PLATEMARK_MEDIA)"
        )

    def _connect(self) -> psycopg.Connection:
        try:
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise CatalogNotFound(f"{self.location}: cannot connect ({str(exc).strip()})") from exc
        if connection.execute("SELECT 1 FROM pg_type WHERE typname = 'vector'").fetchone():
            register_vector(connection)
        return connection

    _share_lock = " FOR SHARE"
    # not FOR UPDATE: that would also keep out every insert whose foreign key names the row
    _update_lock = " FOR NO KEY UPDATE"

    def execute(self, sql: str, params: Iterable[Any] = ()) -> psycopg.Cursor:
        """Rows come in PostgreSQL's binary format: in text, `bytea` travels hex-encoded, twice its size,
        and a search reads ~10 MB of posting lists (26 ms instead of 50 at 1k records)."""
        return self.db.execute(self._paramstyle(sql), tuple(params), binary=True)

    def _paramstyle(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.transaction():
            yield

    def lock_schema(self) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))

    def table_exists(self, name: str) -> bool:
        return self.execute("SELECT to_regclass(CAST(? AS TEXT)) IS NOT NULL", (name,)).fetchone()[0]

    def _encode_vector(self, vector: np.ndarray) -> np.ndarray:
        return vector

    def _decode_vector(self, value: np.ndarray) -> np.ndarray:
        return value.to_numpy().astype(np.float32, copy=False)

    def _json_text(self, field: str) -> str:
        return f"(CAST(metadata AS jsonb) ->> '{field}')"

    def _epoch(self, column: str) -> str:
        return f"extract(epoch FROM {column})"

    def _text_match(self, words: list[str]) -> tuple[str, list[Any]]:
        # tsquery syntax: word:* is a prefix, & joins terms that must all occur.
        return "records.text_search @@ to_tsquery('simple', ?)", [" & ".join(f"{word}:*" for word in words)]

    def nearest(self, vector: np.ndarray, k: int, where: RecordFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Through the HNSW index; a filter that leaves the graph search short falls back to exact search."""
        filtered = where is not None and not where.empty
        clause, params = self._where(where)
        sql = (
            "SELECT f.record, -(f.global <#> ?) FROM features f"
            + (f" JOIN records ON records.id = f.record WHERE {clause}" if filtered else "")
            + " ORDER BY f.global <#> ? LIMIT ?"
        )
        query = np.asarray(vector, np.float32)
        arguments = (query, *(params if filtered else ()), query, k)
        with self.transaction():
            self.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(self.ef_search, k))}")
            rows = self.execute(sql, arguments).fetchall()
            if filtered and len(rows) < k:
                self.execute("SET LOCAL enable_indexscan = off")
                rows = self.execute(sql, arguments).fetchall()
        return np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float32)

    def warm(self) -> None:
        """Nothing to load: the vector index lives in the database."""

    def insert_many(self, records: Iterable[RecordWithFeatures]) -> int:
        """COPY in batches; into an empty catalog the HNSW index is dropped and built once at the end
        (much faster than growing it row by row; searches wait until the load commits)."""
        added = 0
        with self.transaction():
            empty = self.count() == 0
            if empty:
                self.execute("DROP INDEX IF EXISTS features_global_hnsw")
            cursor = self.db.cursor()
            for chunk in batched(records, COPY_CHUNK):
                keys = [
                    k
                    for (k,) in self.execute(
                        "SELECT nextval('records_id_seq') FROM generate_series(1, CAST(? AS INTEGER))", (len(chunk),)
                    )
                ]
                with cursor.copy(f"COPY records (id, {RECORD_FIELDS}) FROM STDIN") as copy:
                    for key, record in zip(keys, chunk, strict=True):
                        copy.write_row((key, *record.columns()))
                with cursor.copy(
                    "COPY features (record, global, points, descriptors) FROM STDIN WITH (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int8", "vector", "bytea", "bytea"])
                    for key, record in zip(keys, chunk, strict=True):
                        copy.write_row((key, *self._feature_values(record.global_vector, record.local)))
                added += len(chunk)
            self._bump_generation()
            if empty:
                self.execute("CREATE INDEX features_global_hnsw ON features USING hnsw (global vector_ip_ops)")
        return added

    def size_on_disk(self) -> int:
        tables = ("meta", "records", "features", "searches", "feedback", "migrations")
        return sum(self.execute("SELECT pg_total_relation_size(CAST(? AS TEXT))", (t,)).fetchone()[0] for t in tables)


def _without_password(url: str) -> str:
    """The URL as shown in messages and `info`."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    if "password" not in info:
        return url
    return psycopg.conninfo.make_conninfo(**{**info, "password": "***"})
