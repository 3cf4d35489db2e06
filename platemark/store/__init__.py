"""Stage 3: persistence of records and features behind one Catalog interface, embedded or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from platemark.store.base import Catalog, RecordWithFeatures, StoredRecord

__all__ = ["Catalog", "RecordWithFeatures", "StoredRecord", "is_postgres_url", "open_catalog"]


def is_postgres_url(location: str | Path) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def open_catalog(
    location: str | Path,
    *,
    media: str | Path | None = None,
    create: bool = False,
    extractors: dict[str, str] | None = None,
) -> Catalog:
    """Open the catalog at a directory (embedded SQLite) or a postgresql:// URL.

    Args:
        location: a catalog directory, or postgresql://user@host/database.
        media: directory for images, thumbnails and index files (embedded default: the
            catalog directory; PostgreSQL: the one recorded when the catalog was made).
        create: make the catalog or bring its schema up to date, as writers do.
        extractors: {"global": ..., "local": ...} names the caller's features come from.

    Raises:
        CatalogNotFound: nothing to open and create is False, or the server is unreachable.
        StoreNotMigrated: the schema needs `platemark migrate`.
        ExtractorMismatch: the catalog holds features from other extractors.

    Example:
        >>> with open_catalog("postgresql://localhost/prints") as catalog:
        ...     catalog.count()
    """
    if is_postgres_url(location):
        from platemark.store.postgres import PostgresCatalog

        return PostgresCatalog(str(location), media=media, create=create, extractors=extractors)
    from platemark.store.sqlite import SQLiteCatalog

    return SQLiteCatalog(location, media=media, create=create, extractors=extractors)
