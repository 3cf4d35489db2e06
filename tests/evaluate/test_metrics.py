from __future__ import annotations

import math
from pathlib import Path

import pytest

from platemark.errors import EvaluationInputError
from platemark.evaluate.groundtruth import GroundTruthQuery
from platemark.evaluate.metrics import average_precision, recall_at_k, retrieval_metrics
from platemark.evaluate.run import summarise
from platemark.search.engine import SearchHit, SearchResponse
from platemark.search.relation import Agreement
from platemark.search.verdicts import Verdict
from platemark.search.verify import NOT_VERIFIED, Verification
from platemark.store.base import StoredRecord


def test_metrics_on_hand_written_case() -> None:
    relevant = {"q1": {"a"}, "q2": {"b", "c"}, "q3": {"d"}, "unknown": set()}
    ranked = {"q1": ["a", "x"], "q2": ["x", "c", "b"], "q3": ["x"] * 5 + ["d"], "unknown": ["a"]}
    metrics = retrieval_metrics(relevant, ranked)
    assert metrics["recall@1"] == pytest.approx(1 / 3)
    assert metrics["recall@5"] == pytest.approx(2 / 3)
    assert metrics["recall@10"] == pytest.approx(1.0)
    assert metrics["mAP"] == pytest.approx((1 + (1 / 2 + 2 / 3) / 2 + 1 / 6) / 3)


def test_average_precision_counts_every_relevant_id() -> None:
    assert average_precision({"a", "b"}, ["a"]) == 0.5
    assert average_precision({"a"}, []) == 0.0


def test_recall_without_known_queries_is_nan() -> None:
    assert math.isnan(recall_at_k({"q": set()}, {"q": []}, 1))


@pytest.mark.parametrize(
    "relevant, ranked, message",
    [
        ({"q1": {"a"}}, {}, "no results"),
        ({"q1": {"a"}}, {"q1": "a"}, "list of id strings"),
        ([("q1", {"a"})], {"q1": ["a"]}, "mappings"),
    ],
)
def test_metrics_reject_malformed_input(relevant: object, ranked: object, message: str) -> None:
    with pytest.raises(EvaluationInputError, match=message):
        retrieval_metrics(relevant, ranked)  # type: ignore[arg-type]


def _hit(record_id: str, verdict: str, relation: str = "same_sheet") -> SearchHit:
    """A search hit as the engine makes it: verified ones carry the evidence for `relation`."""
    record = StoredRecord(1, "c", record_id, "", "h", 10, 10, {})
    if verdict == "candidate":
        return SearchHit(record, 0.5, NOT_VERIFIED, Verdict.CANDIDATE)
    evidence = {
        "same_sheet": Agreement(1.0, 0.5, 1.0),
        "detail": Agreement(1.0, 0.5, 0.3),
        "same_plate": Agreement(0.3, 0.5, 1.0),
        "mirror": Agreement(1.0, 0.5, 1.0),
    }[relation]
    verification = Verification(50, [[0, 0], [1, 0], [1, 1], [0, 1]], None, mirrored=relation == "mirror")
    return SearchHit(record, 0.5, verification, Verdict(verdict), evidence)


def test_any_wrong_verified_counts_wrong_records_claimed_beyond_the_first() -> None:
    queries = [GroundTruthQuery(Path(f"q{i}.jpg"), frozenset({"a"})) for i in range(4)]
    responses = [
        SearchResponse("q0.jpg", [_hit("a", "answer"), _hit("b", "also_in_photo")], 1.0),  # wrong claim
        SearchResponse("q1.jpg", [_hit("a", "answer"), _hit("b", "related")], 1.0),  # only related
        SearchResponse("q2.jpg", [_hit("a", "answer"), _hit("b", "candidate")], 1.0),
        SearchResponse("q3.jpg", [_hit("b", "answer")], 1.0),  # a wrong answer
    ]
    summary = summarise(queries, responses)
    assert summary["false_verified"] == 0.25 and summary["any_wrong_verified"] == 0.5


def test_photo_of_another_impression_counts_as_rejected_and_as_same_plate() -> None:
    queries = [GroundTruthQuery(Path(f"q{i}.jpg"), frozenset()) for i in range(4)]
    responses = [
        SearchResponse("q0.jpg", [_hit("b", "answer", "same_plate")], 1.0),  # another impression of b's block
        SearchResponse("q1.jpg", [_hit("b", "answer", "mirror")], 1.0),  # a counterproof of b
        SearchResponse("q2.jpg", [_hit("b", "answer")], 1.0),  # claimed as b's sheet: wrong
        SearchResponse("q3.jpg", [_hit("b", "candidate")], 1.0),
    ]
    summary = summarise(queries, responses)
    assert summary["not_in_collection_rejected"] == 0.75
    assert summary["not_in_collection_same_plate"] == 0.5
    assert summary["false_verified"] == summary["any_wrong_verified"] == 0.25


def test_a_right_record_shown_as_another_impression_is_not_an_answer() -> None:
    queries = [GroundTruthQuery(Path(f"q{i}.jpg"), frozenset({"a"})) for i in range(4)] + [
        GroundTruthQuery(Path("q4.jpg"), frozenset())
    ]
    responses = [
        SearchResponse("q0.jpg", [_hit("a", "answer")], 1.0),
        SearchResponse("q1.jpg", [_hit("a", "answer", "same_plate")], 1.0),  # first, but "another impression"
        SearchResponse("q2.jpg", [_hit("a", "candidate")], 1.0),  # first, unverified
        SearchResponse("q3.jpg", [_hit("a", "answer", "detail")], 1.0),
        SearchResponse("q4.jpg", [], 1.0),  # not in the collection: not counted
    ]
    summary = summarise(queries, responses)
    assert summary["recall@1"] == 1.0 and summary["answered_right"] == 0.5
