from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from platemark.demo import sample_image
from platemark.errors import PlatemarkError, UnreadableImage
from platemark.extract.sift import QUERY_SIDE
from platemark.index.build import update_index
from platemark.search.engine import Searcher
from platemark.simulate.photos import FAR_AWAY, PhotoSettings, phone_photo
from platemark.store import Catalog, open_catalog
from platemark.store.filters import RecordFilter

STEADY = PhotoSettings(detail_crop=0, quarter_turn=0, glare=0.5)


def top_verified(searcher: Searcher, photo: np.ndarray, **kwargs: object) -> list[str]:
    return [h.record.record_id for h in searcher.search(photo, **kwargs).results if h.verification.verified]


@pytest.mark.parametrize("name", ["astronaut", "camera", "coffee", "chelsea", "moon", "page"])
def test_search_finds_phone_photo_of_print(searcher: Searcher, sample_images: dict, name: str) -> None:
    photo = phone_photo(sample_images[name], np.random.default_rng(7), STEADY)
    response = searcher.search(photo)
    assert response.results[0].record.record_id == name
    assert response.results[0].verification.verified


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_search_finds_rotated_photo(searcher: Searcher, sample_images: dict, turns: int) -> None:
    photo = np.rot90(phone_photo(sample_images["camera"], np.random.default_rng(turns), STEADY), turns)
    assert top_verified(searcher, np.ascontiguousarray(photo))[:1] == ["camera"]


def test_search_finds_a_print_photographed_from_far_away_at_the_larger_scale(
    searcher: Searcher, sample_images: dict
) -> None:
    """The camera fills a fifth of this photo: too few keypoints at the first scale to verify, enough at the
    second, which counts before the mirrored photo is tried."""
    photo = phone_photo(sample_images["camera"], np.random.default_rng(2), FAR_AWAY)
    first_scale_only = Searcher(searcher.catalog, replace(searcher.options, query_sides=(QUERY_SIDE,)), searcher.cnn)
    assert top_verified(first_scale_only, photo) == []
    response = searcher.search(photo)
    assert response.results[0].record.record_id == "camera" and response.results[0].verification.verified
    assert response.results[0].relation == "same_sheet" and not response.results[0].verification.mirrored
    assert "local_features" in response.stages_ms


def test_search_finds_mirrored_scan(searcher: Searcher, sample_images: dict) -> None:
    mirrored = np.ascontiguousarray(sample_images["astronaut"][:, ::-1])
    photo = phone_photo(mirrored, np.random.default_rng(3), STEADY)
    assert top_verified(searcher, photo)[:1] == ["astronaut"]


def test_search_locates_detail_crop_in_reference(searcher: Searcher, sample_images: dict) -> None:
    image = sample_images["hubble_deep_field"]
    height, width = image.shape[:2]
    x0, y0, x1, y1 = width // 4, height // 3, width * 3 // 4, height * 5 // 6
    detail = cv2.resize(image[y0:y1, x0:x1], None, fx=1.5, fy=1.5)
    hit = searcher.search(detail).results[0]
    assert hit.record.record_id == "hubble_deep_field" and hit.verification.verified
    region = np.array(hit.verification.region)
    assert np.allclose(region.min(axis=0), [x0, y0], atol=0.03 * width)
    assert np.allclose(region.max(axis=0), [x1, y1], atol=0.03 * width)


def test_search_finds_both_prints_in_one_photo(searcher: Searcher, sample_images: dict) -> None:
    left = cv2.resize(sample_images["chelsea"], (450, 300))
    right = cv2.resize(sample_images["coffee"], (450, 300))
    wall = np.full((500, 1100, 3), 180, np.uint8)
    wall[100:400, 50:500], wall[100:400, 600:1050] = left, right
    response = searcher.search(wall)
    assert {h.record.record_id for h in response.results[:2]} == {"chelsea", "coffee"}
    assert [h.verdict for h in response.results[:2]] == ["answer", "also_in_photo"]
    assert all(h.verdict == "candidate" for h in response.results[2:])


def test_photo_of_object_not_in_collection_has_no_verified_match(searcher: Searcher) -> None:
    photo = phone_photo(sample_image("rocket", "photograph", 0), np.random.default_rng(1), STEADY)
    assert top_verified(searcher, photo) == []
    assert searcher.search(photo).results, "unverified results are still listed by similarity"


def test_search_limited_to_one_collection(searcher: Searcher, sample_images: dict) -> None:
    photo = phone_photo(sample_images["coins"], np.random.default_rng(2), STEADY)
    hits = searcher.search(photo, where=RecordFilter(collections=("second",))).results
    assert {h.record.collection for h in hits} == {"second"}
    assert hits[0].record.record_id == "coins" and hits[0].verification.verified


def test_search_unknown_collection_is_an_error(searcher: Searcher, sample_images: dict) -> None:
    with pytest.raises(PlatemarkError, match="unknown collection"):
        searcher.search(sample_images["coins"], where=RecordFilter(collections=("nope",)))


def test_search_corrupt_upload_raises_unreadable_image(searcher: Searcher) -> None:
    with pytest.raises(UnreadableImage):
        searcher.search(b"\xff\xd8\xff\xe0 not really a jpeg")


def test_search_json_shape(searcher: Searcher, sample_images: dict) -> None:
    payload = searcher.search(sample_images["moon"], top_k=3).to_dict()
    assert {"query", "results", "elapsed_ms"} <= set(payload)
    assert len(payload["results"]) == 3
    assert {"record_id", "collection", "score", "verified", "verdict", "inliers", "region", "metadata"} <= set(
        payload["results"][0]
    )
    assert len(payload["results"][0]["region"]) == 4


def test_search_filters_by_classification_and_years(searcher: Searcher, sample_images: dict) -> None:
    photo = phone_photo(sample_images["camera"], np.random.default_rng(4), STEADY)
    engravings = searcher.search(photo, where=RecordFilter(classification=("engraving",))).results
    assert {h.record.record_id for h in engravings} <= {"astronaut", "camera", "coffee"}
    assert engravings[0].record.record_id == "camera"
    assert searcher.search(photo, where=RecordFilter(year_min=1500, year_max=1600)).results == []


def catalog_copy(catalog_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A copy of the embedded sample catalog, for tests that change its index."""
    copy = tmp_path_factory.mktemp("copy") / "catalog"
    shutil.copytree(catalog_path, copy)
    return open_catalog(str(copy))


@pytest.fixture(scope="module")
def unindexed_searcher(searcher: Searcher, catalog_path: Path, tmp_path_factory) -> Searcher:
    """The sample catalog as if no record were indexed yet (an ingest killed before indexing)."""
    catalog = catalog_copy(catalog_path, tmp_path_factory)
    catalog.execute("DELETE FROM codebooks")
    return Searcher(catalog, cnn=searcher.cnn)


@pytest.mark.parametrize("name", ["camera", "chelsea", "page"])
def test_records_not_indexed_yet_are_found_through_the_global_shortlist(
    unindexed_searcher: Searcher, sample_images: dict, name: str
) -> None:
    photo = phone_photo(sample_images[name], np.random.default_rng(7), STEADY)
    response = unindexed_searcher.search(photo)
    assert response.results[0].record.record_id == name and response.results[0].verification.verified
    assert "local_votes" not in response.stages_ms


def test_unindexed_search_applies_filters(unindexed_searcher: Searcher, sample_images: dict) -> None:
    photo = phone_photo(sample_images["coins"], np.random.default_rng(2), STEADY)
    hits = unindexed_searcher.search(photo, where=RecordFilter(collections=("second",))).results
    assert {h.record.collection for h in hits} == {"second"} and hits[0].verification.verified


def test_a_searcher_moves_to_a_retrained_codebook_at_its_next_search(
    searcher: Searcher, catalog_path: Path, tmp_path_factory, sample_images: dict
) -> None:
    catalog = catalog_copy(catalog_path, tmp_path_factory)
    serving = Searcher(catalog, cnn=searcher.cnn)
    before = serving.word_index.codebook_id
    update_index(catalog, retrain=True)  # another process, while this one serves
    photo = phone_photo(sample_images["page"], np.random.default_rng(5), STEADY)
    response = serving.search(photo)
    assert serving.word_index.codebook_id != before and "local_votes" in response.stages_ms
    assert response.results[0].record.record_id == "page" and response.results[0].verification.verified


def test_every_record_is_verified_with_correspondences_from_the_word_index(
    searcher: Searcher, sample_images: dict
) -> None:
    assert searcher.word_index is not None
    photo = phone_photo(sample_images["chelsea"], np.random.default_rng(3), STEADY)
    response = searcher.search(photo)
    assert response.results[0].record.record_id == "chelsea" and response.results[0].verification.verified
    assert {"local_votes", "fetch"} <= set(response.stages_ms)


def test_a_record_voted_for_by_too_few_correspondences_is_still_matched_exhaustively(
    searcher: Searcher, sample_images: dict
) -> None:
    """In a large vocabulary a far-away photo may share only a few words with its record: too few
    correspondences to verify from the index, but its record is the best-voted, and matching its stored
    descriptors verifies it. Here every record counts as weakly voted, and no global shortlist helps."""
    photo = phone_photo(sample_images["coffee"], np.random.default_rng(4), STEADY)
    weak = replace(searcher.options, min_votes=10**6, global_candidates=0, try_mirror=False)
    assert top_verified(Searcher(searcher.catalog, replace(weak, weak_candidates=0), searcher.cnn), photo) == []
    assert top_verified(Searcher(searcher.catalog, weak, searcher.cnn), photo)[:1] == ["coffee"]


def test_searcher_uses_one_thread_so_it_keeps_its_speed_next_to_other_work(catalog_location) -> None:
    import faiss
    import torch

    from platemark.store import open_catalog

    torch.set_num_threads(2)
    Searcher(open_catalog(catalog_location.location, media=catalog_location.media))
    assert torch.get_num_threads() == 1 and faiss.omp_get_max_threads() == 1 and cv2.getNumThreads() == 1


def test_a_search_on_a_server_thread_keeps_faiss_to_one_thread(searcher: Searcher, sample_images: dict) -> None:
    """OpenMP counts threads per thread: a web server's worker thread, or the search's own matching threads,
    would otherwise run faiss on every core and wait on the other worker's threads."""
    import threading

    import faiss

    photo = phone_photo(sample_images["moon"], np.random.default_rng(5), STEADY)
    seen: list[int] = []

    def search_and_look() -> None:
        searcher.search(photo)
        seen.append(faiss.omp_get_max_threads())
        seen.append(searcher._matching.submit(faiss.omp_get_max_threads).result())

    server_thread = threading.Thread(target=search_and_look)
    server_thread.start()
    server_thread.join(timeout=60)
    assert seen == [1, 1]
