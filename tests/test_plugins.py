"""The plugin hooks: a kind of source added by a plugin works like a built-in one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platemark import hookspecs
from platemark.hookspecs import hookimpl
from platemark.ingest.pipeline import ingest
from platemark.ingest.sources.base import PrintRecord, Source, SourceListing, source_kinds
from platemark.plugins import DEFAULT_PLUGINS, pm
from platemark.store import open_catalog


class JsonLinesSource(Source):
    """What a plugin might add: one JSON object per line, {"id": ..., "file": ..., "title": ...}."""

    kind = "jsonl"
    description = "a .jsonl file of records"

    @classmethod
    def recognises(cls, location: str) -> bool:
        return location.endswith(".jsonl")

    def read(self, collection: str | None = None) -> SourceListing:
        rows = [json.loads(line) for line in Path(self.location).read_text().splitlines() if line.strip()]
        name = collection or "jsonl"
        return SourceListing(name, [PrintRecord(name, r["id"], Path(r["file"]), {"title": r["title"]}) for r in rows])


class JsonLinesPlugin:
    @staticmethod
    @hookimpl
    def register_sources() -> list[type[Source]]:
        return [JsonLinesSource]


@pytest.fixture
def jsonl_plugin():
    plugin = JsonLinesPlugin()
    pm.register(plugin, name="jsonl-test")
    yield
    pm.unregister(name="jsonl-test")


def test_hook_register_sources(jsonl_plugin, sample_collection, tmp_path: Path) -> None:
    assert [kind.kind for kind in source_kinds()] == ["jsonl", "folder", "iiif", "csv"]
    folder, _ = sample_collection
    images = sorted((folder / "images").glob("*.png"))[:2]
    listing = tmp_path / "records.jsonl"
    listing.write_text(
        "\n".join(json.dumps({"id": f"r{i}", "file": str(p), "title": p.stem}) for i, p in enumerate(images))
    )
    report = ingest(listing, tmp_path / "cat", progress=False)
    assert report.ok and report.added == 2
    with open_catalog(tmp_path / "cat") as catalog:
        assert catalog.find("jsonl", "r1").metadata == {"title": images[1].stem}


def test_built_in_sources_register_through_the_hook() -> None:
    registered = {name for name, _ in pm.list_name_plugin()}
    assert set(DEFAULT_PLUGINS) <= registered


def test_plugin_hooks_have_tests() -> None:
    tested = {name.removeprefix("test_hook_") for name in globals() if name.startswith("test_hook_")}
    hooks = {name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "platemark_spec")}
    assert hooks and hooks <= tested
