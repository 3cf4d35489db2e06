from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from platemark.cli import cli
from platemark.errors import StoreNotMigrated
from platemark.store import migrations
from platemark.store.sqlite import Catalog


def test_new_catalog_records_every_step(tmp_path: Path) -> None:
    with Catalog(tmp_path, create=True) as catalog:
        applied = [name for (name,) in catalog.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert applied == [m.name for m in migrations.MIGRATIONS]


def test_older_catalog_must_be_migrated_before_reading(tmp_path: Path) -> None:
    Catalog(tmp_path, create=True).close()
    with sqlite3.connect(tmp_path / "catalog.db") as db:  # as a catalog made before saved searches existed
        db.execute("DROP TABLE searches")
        db.execute("DELETE FROM migrations WHERE name = '0002_saved_searches'")
    with pytest.raises(StoreNotMigrated, match=r"0002_saved_searches.*platemark migrate"):
        Catalog(tmp_path)
    runner = CliRunner()
    first = runner.invoke(cli, ["migrate", "--catalog", str(tmp_path)])
    assert first.exit_code == 0 and "applied 0002_saved_searches" in first.output
    second = runner.invoke(cli, ["migrate", "--catalog", str(tmp_path)])
    assert second.exit_code == 0 and "up to date" in second.output
    with Catalog(tmp_path) as catalog:
        catalog.save_search("abc", {}, {"ok": True})
        assert catalog.get_search("abc") == ({}, {"ok": True})


def test_catalog_from_before_the_ledger_is_adopted(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        for migration in migrations.MIGRATIONS:
            db.executescript(migration.sql)
    assert [m.name for m in migrations.pending(sqlite3.connect(tmp_path / "catalog.db"))] == [
        m.name for m in migrations.MIGRATIONS
    ]
    with Catalog(tmp_path, create=True) as catalog:
        assert migrations.pending(catalog.db) == []


def test_migrate_without_catalog_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["migrate", "--catalog", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no catalog here" in result.output
