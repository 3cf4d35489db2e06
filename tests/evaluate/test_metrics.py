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
