from __future__ import annotations

import math

import pytest

from platemark.errors import EvaluationInputError
from platemark.evaluate.metrics import average_precision, recall_at_k, retrieval_metrics


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


def test_any_wrong_verified_counts_wrong_records_claimed_beyond_the_first() -> None:
    from pathlib import Path

    from platemark.evaluate.groundtruth import GroundTruthQuery
    from platemark.evaluate.run import summarise
    from platemark.search.engine import SearchHit, SearchResponse
    from platemark.search.verdicts import Verdict
    from platemark.search.verify import NOT_VERIFIED, Verification
    from platemark.store.base import StoredRecord

    def hit(record_id: str, verdict: Verdict) -> SearchHit:
        record = StoredRecord(1, "c", record_id, "", "h", 10, 10, {})
        verification = (
            Verification(50, [[0, 0], [1, 0], [1, 1], [0, 1]], None) if verdict != "candidate" else NOT_VERIFIED
        )
        return SearchHit(record, 0.5, verification, verdict)

    queries = [GroundTruthQuery(Path(f"q{i}.jpg"), frozenset({"a"})) for i in range(4)]
    responses = [
        SearchResponse("q0.jpg", [hit("a", Verdict.ANSWER), hit("b", Verdict.ALSO_IN_PHOTO)], 1.0),  # wrong claim
        SearchResponse("q1.jpg", [hit("a", Verdict.ANSWER), hit("b", Verdict.RELATED)], 1.0),  # only related
        SearchResponse("q2.jpg", [hit("a", Verdict.ANSWER), hit("b", Verdict.CANDIDATE)], 1.0),
        SearchResponse("q3.jpg", [hit("b", Verdict.ANSWER)], 1.0),  # a wrong answer
    ]
    summary = summarise(queries, responses)
    assert summary["false_verified"] == 0.25 and summary["any_wrong_verified"] == 0.5
