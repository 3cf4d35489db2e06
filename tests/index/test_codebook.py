from __future__ import annotations

import io

import numpy as np

from platemark.index.codebook import MATCH_DISTANCE, Codebook, as_float, branching_for, hamming


def descriptors(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 120, size=(count, 128)).astype(np.uint8)


def noisy(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    return np.clip(rows.astype(int) + rng.integers(-3, 4, rows.shape), 0, 255).astype(np.uint8)


def test_a_descriptor_and_its_noisy_copy_share_a_word_and_a_close_signature() -> None:
    rng = np.random.default_rng(0)
    training = descriptors(rng, 20_000)
    codebook = Codebook.train(training, len(training))
    reference = training[:500]
    copy = noisy(rng, reference)
    words = codebook.assign(reference)[:, 0]
    copied = codebook.assign(copy, multiple=3)
    assert (copied == words[:, None]).any(axis=1).mean() > 0.95
    close = hamming(codebook.signatures(reference, words), codebook.signatures(copy, words))
    assert np.median(close) <= 4
    strangers = descriptors(np.random.default_rng(1), 500)
    far = hamming(codebook.signatures(reference, words), codebook.signatures(strangers, words))
    assert (far <= MATCH_DISTANCE).mean() < 0.15


def test_multiple_assignment_starts_with_the_word_a_stored_keypoint_gets() -> None:
    rng = np.random.default_rng(2)
    codebook = Codebook.train(descriptors(rng, 5_000), 5_000)
    query = descriptors(rng, 50)
    assert np.array_equal(codebook.assign(query, multiple=3)[:, 0], codebook.assign(query)[:, 0])


def test_codebook_survives_storage_unchanged() -> None:
    codebook = Codebook.train(descriptors(np.random.default_rng(3), 5_000), 5_000)
    again = Codebook.from_bytes(codebook.to_bytes())
    query = descriptors(np.random.default_rng(4), 100)
    assert np.array_equal(again.assign(query), codebook.assign(query)) and again.trained_on == 5_000


def test_vocabulary_grows_with_the_catalog_and_stops_at_a_million_words() -> None:
    assert branching_for(10_000) == 8
    assert branching_for(1_000_000) < branching_for(100_000_000) <= branching_for(10**10) == 1024


def test_words_are_the_nearest_of_the_nearest_cells_as_brute_force_finds_them() -> None:
    rng = np.random.default_rng(5)
    codebook = Codebook.train(descriptors(rng, 20_000), 20_000)
    query = descriptors(rng, 300)
    vectors = as_float(query)
    cells = np.argsort(((vectors[:, None] - codebook.coarse[None]) ** 2).sum(-1), axis=1)[:, :2]
    expected = []
    for vector, (first, second) in zip(vectors, cells, strict=True):
        distances = ((codebook.fine[[first, second]] - vector) ** 2).sum(-1)  # (2, B)
        own = first * codebook.branching + distances[0].argmin()
        ids = (np.array([first, second])[:, None] * codebook.branching + np.arange(codebook.branching)).ravel()
        others = [int(i) for i in ids[np.argsort(distances.ravel())] if i != own]
        expected.append([own, others[0]])
    assert (codebook.assign(query, multiple=2) == np.array(expected)).mean() > 0.99  # float rounding ties


def test_a_codebook_holds_its_words_once() -> None:
    # a million words are 512 MB in float32: a second layout of them would be in every worker too
    codebook = Codebook.train(descriptors(np.random.default_rng(6), 20_000), 20_000)
    stored = codebook.to_bytes()
    loaded = Codebook.from_bytes(stored)
    for held in (codebook, loaded):
        assert np.shares_memory(held.fine, held.columns)
        assert held.columns.flags.c_contiguous
    assert np.shares_memory(loaded.columns, np.frombuffer(stored, np.uint8))  # read in place, not copied


def test_a_codebook_stored_with_its_words_row_by_row_still_loads() -> None:
    codebook = Codebook.train(descriptors(np.random.default_rng(7), 5_000), 5_000)
    stored = io.BytesIO()  # as catalogs indexed before the words were kept as columns hold it
    np.savez(
        stored,
        coarse=codebook.coarse,
        fine=codebook.fine,
        projection=codebook.projection,
        thresholds=codebook.thresholds,
        trained_on=np.int64(5_000),
    )
    again = Codebook.from_bytes(stored.getvalue())
    query = descriptors(np.random.default_rng(8), 100)
    assert np.array_equal(again.assign(query, multiple=2), codebook.assign(query, multiple=2))
