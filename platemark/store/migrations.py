"""Named, ordered schema steps of the embedded catalog; each applied step is recorded.

A step never changes once released: a later change to the schema is a new step. Steps use
IF NOT EXISTS so that catalogs made before this table existed are adopted, not broken.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step: a name that sorts in order, and the SQL that makes it."""

    name: str
    sql: str


MIGRATIONS = (
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
)

_LEDGER = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"


def pending(db: sqlite3.Connection) -> list[Migration]:
    """Steps not yet applied to this database, in order."""
    db.execute(_LEDGER)
    applied = {name for (name,) in db.execute("SELECT name FROM migrations")}
    return [m for m in MIGRATIONS if m.name not in applied]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply every pending step, each in its own transaction; returns the names applied.

    Safe to run from several processes at once: a step is applied and recorded under one
    write lock, and a process that finds it recorded skips it.
    """
    applied = []
    for migration in pending(db):
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM migrations WHERE name = ?", (migration.name,)).fetchone() is None:
                for statement in _statements(migration.sql):
                    db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (migration.name,))
                applied.append(migration.name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return applied


def _statements(sql: str) -> list[str]:
    """Split a step into statements (executescript would commit the surrounding transaction)."""
    return [s.strip() for s in sql.split(";") if s.strip()]
