from __future__ import annotations

from platemark.search.verify import CHANCE_INLIERS, VERIFIED_INLIERS, Verification

SQUARE = [[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]]


def test_a_chance_inlier_more_does_not_outrank_a_far_more_similar_print() -> None:
    # qsd2_w3/00019 at 1k records: a wrong print with 7 inliers came before the right one with 6
    assert Verification(CHANCE_INLIERS + 1, None, None).score(0.45) < Verification(CHANCE_INLIERS, None, None).score(
        0.69
    )


def test_inliers_beyond_chance_still_raise_an_unverified_candidate() -> None:
    assert Verification(VERIFIED_INLIERS - 6, None, None).score(0.5) > Verification(5, None, None).score(0.9)


def test_any_verified_match_ranks_above_every_unverified_one() -> None:
    verified = Verification(VERIFIED_INLIERS, SQUARE, SQUARE)
    assert verified.verified
    assert verified.score(0.0) > Verification(VERIFIED_INLIERS * 3, None, None).score(1.0)
