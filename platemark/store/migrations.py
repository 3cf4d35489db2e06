"""Named, ordered schema steps for each backend; each applied step is recorded in `migrations`.

A step never changes once released: a later change to the schema is a new step. Each step
runs in its own transaction under the schema lock, so several processes may migrate at once.
The SQLite steps use IF NOT EXISTS so that catalogs made before the ledger existed are adopted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platemark.store.base import Catalog


@dataclass(frozen=True)
class Migration:
    """One schema step: a name that sorts in order, and the SQL that makes it."""

    name: str
    sql: str


#: The same SQL on both backends.
FEEDBACK = Migration(
    "0006_feedback",
    # Visitors' answers to a search's results: ground truth from real photos. Removed with the search.
    # A "none of these" answer has empty collection and record_id.
    """
    CREATE TABLE feedback (
        search_id TEXT NOT NULL REFERENCES searches(id) ON DELETE CASCADE,
        collection TEXT NOT NULL,
        record_id TEXT NOT NULL,
        answer TEXT NOT NULL,
        answered_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (search_id, collection, record_id)
    );
    CREATE INDEX searches_created ON searches (created_at);
    """,
)


DUPLICATES = Migration(
    "0008_duplicates",
    # `platemark duplicates`: the pairs found (record_a < record_b), which records were examined at
    # which content (an image changed by a later ingest is examined again), and curators' decisions.
    # Decisions name records by collection and record id, so they outlive re-ingests and pair updates.
    """
    CREATE TABLE duplicate_pairs (
        record_a BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        record_b BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        relation TEXT NOT NULL,
        inliers BIGINT NOT NULL,
        evidence TEXT NOT NULL,
        PRIMARY KEY (record_a, record_b)
    );
    CREATE INDEX duplicate_pairs_b ON duplicate_pairs (record_b);
    CREATE TABLE duplicates_examined (
        record BIGINT PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
        content_hash TEXT NOT NULL
    );
    CREATE TABLE duplicate_decisions (
        collection_a TEXT NOT NULL,
        record_a TEXT NOT NULL,
        collection_b TEXT NOT NULL,
        record_b TEXT NOT NULL,
        decision TEXT NOT NULL,
        decided_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (collection_a, record_a, collection_b, record_b)
    );
    """,
)

#: The same SQL on both backends.
MERGES_IN_STEPS = Migration(
    "0009_merges_in_steps",
    # A merge writes its segment in many short transactions, so that ingests and saved searches are
    # not kept waiting for the write lock (SQLite has one) for as long as it runs (68 minutes at 500k
    # records). A segment is "pending" while written (`touched`: when its last batch was; one untouched
    # for long belongs to a killed process), "live", or "retired" while its postings are deleted;
    # `merging` is the pending segment a live one is being merged into, so that no two processes merge
    # it at once. A codebook replaced by a retrain is "retired <id>" while its postings are deleted.
    # Segments are numbered from a codebook's `last_segment`, never again: a process still deleting a
    # dropped segment's postings must not meet a new one under its number.
    """
    ALTER TABLE segments ADD COLUMN state TEXT NOT NULL DEFAULT 'live';
    ALTER TABLE segments ADD COLUMN touched DOUBLE PRECISION;
    ALTER TABLE segments ADD COLUMN merging BIGINT;
    ALTER TABLE codebooks ADD COLUMN last_segment BIGINT NOT NULL DEFAULT 0;
    UPDATE codebooks SET last_segment = (
        SELECT coalesce(max(segment), 0) FROM segments WHERE segments.codebook = codebooks.id
    );
    """,
)


#: The same SQL on both backends.
FEATURES_STORED = Migration(
    "0010_features_stored",
    # The generation at which each record's features were stored (0: before this step). A worker holding
    # the embedded catalog's index of global vectors adds the records stored since its generation to
    # it, instead of building it again from every record. Kept in `records`, whose rows are small:
    # indexing a column of `features` would read every descriptor (45 GB at 500,000 records).
    """
    ALTER TABLE records ADD COLUMN features_stored BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX records_features_stored ON records (features_stored);
    """,
)


#: The same SQL on both backends.
SEGMENT_COUNTERS = Migration(
    "0012_segment_counters",
    # Segments were numbered from `codebooks.last_segment`, in the row that holds the codebook (591 MB at
    # a million words): SQLite reads all of it to update the counter, ~1 s per new segment, 12% of the
    # time of growing the scale benchmark's catalog from 500,000 records. The counter gets its own row.
    """
    CREATE TABLE segment_counters (
        codebook BIGINT PRIMARY KEY REFERENCES codebooks(id) ON DELETE CASCADE,
        last_segment BIGINT NOT NULL
    );
    INSERT INTO segment_counters (codebook, last_segment) SELECT id, last_segment FROM codebooks;
    """,
)


def _compressed_descriptors(blob: str, serial: str) -> Migration:
    """Records whose descriptors are stored compressed (platemark.store.descriptors), and by which codec.

    The codec a record's descriptors were encoded with is kept in `records`, whose rows are small, as
    `features_stored` is; the index on the raw ones lets `index` find what is left to compress.
    """
    return Migration(
        "0011_compressed_descriptors",
        f"""
        CREATE TABLE descriptor_codecs (
            id {serial} PRIMARY KEY,
            created_at DOUBLE PRECISION NOT NULL,
            data {blob} NOT NULL
        );
        ALTER TABLE records ADD COLUMN descriptor_codec BIGINT REFERENCES descriptor_codecs(id);
        CREATE INDEX records_raw_descriptors ON records (id) WHERE descriptor_codec IS NULL;
        """,
    )


def _word_index(blob: str, serial: str, extra: str = "") -> Migration:
    """The local-feature index (platemark.index): vocabularies, posting lists, and which records they hold.

    At most one codebook is "active" (searched) and one "building" (being indexed after a retrain).
    A posting list is stored per (codebook, word, segment): an indexing run appends one segment,
    and merging folds segments together, so a search reads a few rows per word. `indexed` says which
    segment holds a record's current postings; re-ingesting or deleting a record removes its row,
    which is how stale postings are ignored until a merge drops them.
    """
    return Migration(
        "0007_word_index",
        f"""
        CREATE TABLE codebooks (
            id {serial} PRIMARY KEY,
            state TEXT NOT NULL UNIQUE,
            trained_on BIGINT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            data {blob} NOT NULL
        );
        CREATE TABLE segments (
            codebook BIGINT NOT NULL REFERENCES codebooks(id) ON DELETE CASCADE,
            segment BIGINT NOT NULL,
            postings BIGINT NOT NULL,
            PRIMARY KEY (codebook, segment)
        );
        CREATE TABLE postings (
            codebook BIGINT NOT NULL REFERENCES codebooks(id) ON DELETE CASCADE,
            word BIGINT NOT NULL,
            segment BIGINT NOT NULL,
            data {blob} NOT NULL,
            PRIMARY KEY (codebook, word, segment)
        );
        CREATE TABLE indexed (
            codebook BIGINT NOT NULL REFERENCES codebooks(id) ON DELETE CASCADE,
            record BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
            segment BIGINT NOT NULL,
            PRIMARY KEY (codebook, record)
        );
        CREATE INDEX indexed_segment ON indexed (codebook, segment);
        CREATE INDEX indexed_record ON indexed (record);
        {extra}
        """,
    )


SQLITE = (
    Migration(
        "0001_records_and_features",
        """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS records (
            id INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            image_path TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            metadata TEXT NOT NULL,
            year_min INTEGER,
            year_max INTEGER,
            UNIQUE (collection, record_id)
        );
        CREATE TABLE IF NOT EXISTS features (
            record INTEGER PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
            global BLOB NOT NULL,
            points BLOB NOT NULL,
            descriptors BLOB NOT NULL
        );
        """,
    ),
    Migration(
        "0002_saved_searches",
        """
        CREATE TABLE IF NOT EXISTS searches (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL DEFAULT (datetime('now')),
            request TEXT NOT NULL,
            response TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "0003_search_retention",
        # Searches made before retention existed are kept as long as shared ones (30 days from now).
        """
        ALTER TABLE searches ADD COLUMN expires_at DOUBLE PRECISION NOT NULL DEFAULT 0;
        ALTER TABLE searches ADD COLUMN photo_bytes BIGINT NOT NULL DEFAULT 0;
        UPDATE searches SET expires_at = CAST(strftime('%s', 'now') AS REAL) + 30 * 86400;
        CREATE INDEX searches_expiry ON searches (expires_at);
        """,
    ),
    Migration(
        "0004_iiif_links",
        # A harvested record's manifest, canvas and Image API service (JSON), for IIIF links out.
        "ALTER TABLE records ADD COLUMN iiif TEXT;",
    ),
    Migration(
        "0005_full_text",
        # Browse's text search: the record id and every metadata value, kept in step by triggers.
        """
        CREATE VIRTUAL TABLE records_text USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
        INSERT INTO records_text (rowid, body)
            SELECT id, collection || ' ' || record_id || ' ' ||
                   coalesce((SELECT group_concat(value, ' ') FROM json_each(records.metadata)), '')
            FROM records;
        CREATE TRIGGER records_text_insert AFTER INSERT ON records BEGIN
            INSERT INTO records_text (rowid, body) VALUES (new.id, new.collection || ' ' || new.record_id || ' ' ||
                coalesce((SELECT group_concat(value, ' ') FROM json_each(new.metadata)), ''));
        END;
        CREATE TRIGGER records_text_update AFTER UPDATE OF collection, record_id, metadata ON records BEGIN
            DELETE FROM records_text WHERE rowid = old.id;
            INSERT INTO records_text (rowid, body) VALUES (new.id, new.collection || ' ' || new.record_id || ' ' ||
                coalesce((SELECT group_concat(value, ' ') FROM json_each(new.metadata)), ''));
        END;
        CREATE TRIGGER records_text_delete AFTER DELETE ON records BEGIN
            DELETE FROM records_text WHERE rowid = old.id;
        END;
        """,
    ),
    FEEDBACK,
    _word_index("BLOB", "INTEGER"),
    DUPLICATES,
    MERGES_IN_STEPS,
    FEATURES_STORED,
    _compressed_descriptors("BLOB", "INTEGER"),
    SEGMENT_COUNTERS,
)

#: The global vectors are EfficientNet-Lite0 GeM descriptors (1280-d, unit length), searched by
#: inner product through an HNSW index. Another extractor would be a new step.
POSTGRES = (
    Migration(
        "0001_records_and_features",
        """
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE records (
            id BIGSERIAL PRIMARY KEY,
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            image_path TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            metadata TEXT NOT NULL,
            year_min INTEGER,
            year_max INTEGER,
            UNIQUE (collection, record_id)
        );
        CREATE TABLE features (
            record BIGINT PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
            global vector(1280) NOT NULL,
            points BYTEA NOT NULL,
            descriptors BYTEA NOT NULL
        );
        CREATE INDEX features_global_hnsw ON features USING hnsw (global vector_ip_ops);
        """,
    ),
    Migration(
        "0002_saved_searches",
        """
        CREATE TABLE searches (
            id TEXT PRIMARY KEY,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            request TEXT NOT NULL,
            response TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "0003_search_retention",
        """
        ALTER TABLE searches ADD COLUMN expires_at DOUBLE PRECISION NOT NULL DEFAULT 0;
        ALTER TABLE searches ADD COLUMN photo_bytes BIGINT NOT NULL DEFAULT 0;
        UPDATE searches SET expires_at = extract(epoch FROM now()) + 30 * 86400;
        CREATE INDEX searches_expiry ON searches (expires_at);
        """,
    ),
    Migration(
        "0004_iiif_links",
        # A harvested record's manifest, canvas and Image API service (JSON), for IIIF links out.
        "ALTER TABLE records ADD COLUMN iiif TEXT;",
    ),
    Migration(
        "0005_full_text",
        # Browse's text search: the record id and every metadata value. The 'simple' configuration
        # lowercases without stemming, as catalogues mix languages (SQLite's index also folds accents).
        # Hyphens, slashes and dots become spaces first, as in SQLite's tokenizer: the parser would read
        # "RP-P-1961-1095" as a word and the signed numbers -1961 and -1095, and "1961" would not find it.
        """
        ALTER TABLE records ADD COLUMN text_search tsvector GENERATED ALWAYS AS (
            to_tsvector('simple', translate(
                collection || ' ' || record_id || ' '
                || CAST(jsonb_path_query_array(CAST(metadata AS jsonb), '$.*') AS text),
                '-/.', '   '))
        ) STORED;
        CREATE INDEX records_text_search ON records USING gin (text_search);
        """,
    ),
    FEEDBACK,
    # Posting lists are random bits: storing them uncompressed saves trying to compress them.
    _word_index("BYTEA", "BIGSERIAL", "ALTER TABLE postings ALTER COLUMN data SET STORAGE EXTERNAL;"),
    DUPLICATES,
    MERGES_IN_STEPS,
    FEATURES_STORED,
    _compressed_descriptors("BYTEA", "BIGSERIAL"),
    SEGMENT_COUNTERS,
)

_LEDGER = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"


def pending(catalog: Catalog) -> list[Migration]:
    """Steps not yet applied to this catalog, in order."""
    if not catalog.table_exists("migrations"):
        return list(catalog.schema_steps)
    applied = {name for (name,) in catalog.execute("SELECT name FROM migrations")}
    return [m for m in catalog.schema_steps if m.name not in applied]


def migrate(catalog: Catalog) -> list[str]:
    """Apply every pending step, each in its own transaction; returns the names applied.

    Safe to run from several processes at once: a step is applied and recorded under the
    schema lock, and a process that then finds it recorded skips it.
    """
    applied = []
    for migration in pending(catalog):
        with catalog.transaction():
            catalog.lock_schema()
            catalog.execute(_LEDGER)
            if catalog.execute("SELECT 1 FROM migrations WHERE name = ?", (migration.name,)).fetchone() is None:
                for statement in _statements(migration.sql):
                    catalog.execute(statement)
                catalog.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    (migration.name, datetime.now(UTC).isoformat(timespec="seconds")),
                )
                applied.append(migration.name)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a step into statements (executescript would commit the surrounding transaction).

    A trigger's body has semicolons of its own: pieces are joined until they make a complete statement.
    """
    statements, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip().removesuffix(";").strip())
            pending = ""
    return [s for s in statements if s]
