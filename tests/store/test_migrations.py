from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from catalogs import BACKENDS
from click.testing import CliRunner

from platemark.cli import cli
from platemark.errors import StoreNotMigrated
from platemark.store import migrations, open_catalog


@pytest.mark.parametrize("empty_catalog", BACKENDS, indirect=True)
def test_new_catalog_records_every_step(empty_catalog) -> None:
    with open_catalog(empty_catalog.location, media=empty_catalog.media, create=True) as catalog:
        applied = [name for (name,) in catalog.execute("SELECT name FROM migrations ORDER BY name")]
        assert applied == [m.name for m in catalog.schema_steps] == catalog.migrated


#: Undoes 0005_full_text, per backend.
DROP_FULL_TEXT = {
    "sqlite": [
        *(f"DROP TRIGGER records_text_{change}" for change in ("insert", "update", "delete")),
        "DROP TABLE records_text",
    ],
    "postgres": ["ALTER TABLE records DROP COLUMN text_search"],
}


@pytest.mark.parametrize("empty_catalog", BACKENDS, indirect=True)
def test_older_catalog_must_be_migrated_before_reading(empty_catalog) -> None:
    where = empty_catalog
    with open_catalog(where.location, media=where.media, create=True) as catalog:  # as made before saved searches
        for table in (
            "segment_counters",
            "duplicate_decisions",
            "duplicates_examined",
            "duplicate_pairs",
            "indexed",
            "postings",
            "segments",
            "codebooks",
            "feedback",
            "searches",
        ):
            catalog.execute(f"DROP TABLE {table}")
        catalog.execute("DROP INDEX records_raw_descriptors")
        catalog.execute("ALTER TABLE records DROP COLUMN descriptor_codec")
        catalog.execute("DROP TABLE descriptor_codecs")
        catalog.execute("ALTER TABLE records DROP COLUMN iiif")
        catalog.execute("DROP INDEX records_features_stored")
        catalog.execute("ALTER TABLE records DROP COLUMN features_stored")
        for statement in DROP_FULL_TEXT[where.backend]:
            catalog.execute(statement)
        catalog.execute("DELETE FROM migrations WHERE name >= '0002_saved_searches'")
    with pytest.raises(StoreNotMigrated, match=r"0002_saved_searches.*platemark migrate"):
        open_catalog(where.location, media=where.media)
    runner = CliRunner()
    first = runner.invoke(cli, ["migrate", *where.cli_args()])
    assert (
        first.exit_code == 0
        and "applied 0002_saved_searches, 0003_search_retention, 0004_iiif_links, 0005_full_text, 0006_feedback,"
        " 0007_word_index, 0008_duplicates, 0009_merges_in_steps, 0010_features_stored, 0011_compressed_descriptors,"
        " 0012_segment_counters"
        in first.output
    )
    second = runner.invoke(cli, ["migrate", *where.cli_args()])
    assert second.exit_code == 0 and "up to date" in second.output
    with open_catalog(where.location, media=where.media) as catalog:
        catalog.save_search("abc", {}, {"ok": True}, expires_at=time.time() + 60)
        assert catalog.get_search("abc").response == {"ok": True}


def test_migrate_makes_a_postgres_catalog_from_several_processes_at_once(new_database, tmp_path: Path) -> None:
    url = new_database()
    command = [sys.executable, "-m", "platemark", "migrate", "--catalog", url, "--media", str(tmp_path)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    applied = [out for out, _ in outputs if "applied" in out]
    assert len(applied) >= 1 and sum(out.count("0001_records_and_features") for out, _ in outputs) == 1
    with open_catalog(url) as catalog:
        assert migrations.pending(catalog) == [] and catalog.media == tmp_path.resolve()


def test_catalog_from_before_the_ledger_is_adopted(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        for migration in migrations.SQLITE[:2]:  # the steps there were before the ledger
            db.executescript(migration.sql)
    with open_catalog(tmp_path, create=True) as catalog:
        assert catalog.migrated == [m.name for m in migrations.SQLITE]
        assert migrations.pending(catalog) == []


def test_migrate_without_catalog_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["migrate", "--catalog", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no catalog here" in result.output


def test_postgres_catalog_without_media_is_an_error_and_makes_nothing(new_database) -> None:
    url = new_database()
    result = CliRunner().invoke(cli, ["migrate", "--catalog", url])
    assert result.exit_code == 1 and "--media" in result.output and "Traceback" not in result.output
    info = CliRunner().invoke(cli, ["info", "--catalog", url])
    assert info.exit_code == 1 and "no catalog here" in info.output
