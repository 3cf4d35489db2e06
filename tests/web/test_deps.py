from __future__ import annotations

import shutil
from pathlib import Path

from platemark.extract.sift import LocalFeatures
from platemark.settings import Settings
from platemark.store import open_catalog
from platemark.web.deps import LiveSearcher


def test_a_worker_catches_up_with_an_ingest_in_place(catalog_path: Path, tmp_path: Path) -> None:
    """After an ingest stored a record in a new collection, the worker's maintenance check brings its
    Searcher up to date: the record is in the global index and its collection among the filter values,
    without a second Searcher (and a second copy of the global index) being built."""
    location = tmp_path / "catalog"
    shutil.copytree(catalog_path, location)
    live = LiveSearcher(Settings(catalog=str(location)))
    searcher = live.get()
    with open_catalog(location) as ingest:
        [(key, points, descriptors)] = list(ingest.local_features([1]))
        record = ingest.records([key])[key]
        vector = ingest.global_vectors([key])[1][0]
        added = ingest.upsert(
            collection="later",
            record_id="copy",
            image_path="copy.jpg",
            content_hash="copy",
            metadata={},
            years=(None, None),
            global_vector=vector,
            local=LocalFeatures(points, descriptors, record.width, record.height),
        )
    assert "later" not in searcher.filter_values["collections"]
    live.refresh()
    assert live.get() is searcher and "later" in searcher.filter_values["collections"]
    assert added in searcher.catalog.nearest(vector, 2)[0].tolist()
    assert searcher.record_count == searcher.catalog.count()
