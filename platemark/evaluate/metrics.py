"""Retrieval metrics over plain dicts, so any method's output can be scored the same way."""

from __future__ import annotations

import numpy as np

from platemark.errors import EvaluationInputError


def recall_at_k(relevant: dict[str, set[str]], ranked: dict[str, list[str]], k: int) -> float:
    """Share of queries (with at least one relevant id) that have a relevant id in their top k."""
    scored = [q for q, ids in relevant.items() if ids]
    if not scored:
        return float("nan")
    return sum(bool(relevant[q] & set(ranked.get(q, [])[:k])) for q in scored) / len(scored)


def average_precision(relevant: set[str], ranked: list[str]) -> float:
    """Average precision of one ranked list against a set of relevant ids."""
    hits, total = 0, 0.0
    for position, item in enumerate(ranked, start=1):
        if item in relevant:
            hits += 1
            total += hits / position
    return total / len(relevant) if relevant else 0.0


def retrieval_metrics(relevant: dict[str, set[str]], ranked: dict[str, list[str]]) -> dict[str, float]:
    """recall@1/5/10 and mAP over the queries that have relevant ids.

    Args:
        relevant: {query: ids that are correct answers}; an empty set = not in collection.
        ranked: {query: ids in ranked order}.

    Raises:
        EvaluationInputError: a query of `relevant` has no ranking, or inputs are malformed.

    Example:
        >>> retrieval_metrics({"q1": {"a"}}, {"q1": ["b", "a"]})["recall@1"]
        0.0
    """
    _check(relevant, ranked)
    scored = [q for q, ids in relevant.items() if ids]
    return {
        "recall@1": recall_at_k(relevant, ranked, 1),
        "recall@5": recall_at_k(relevant, ranked, 5),
        "recall@10": recall_at_k(relevant, ranked, 10),
        "mAP": float(np.mean([average_precision(relevant[q], ranked[q]) for q in scored])) if scored else float("nan"),
    }


def _check(relevant: dict[str, set[str]], ranked: dict[str, list[str]]) -> None:
    if not isinstance(relevant, dict) or not isinstance(ranked, dict):
        raise EvaluationInputError("ground truth and results must both be {query: ids} mappings")
    missing = sorted(set(relevant) - set(ranked))
    if missing:
        raise EvaluationInputError(f"{len(missing)} queries have no results, e.g. {missing[0]}")
    for query, ids in ranked.items():
        if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
            raise EvaluationInputError(f"results for {query!r} must be a list of id strings")
