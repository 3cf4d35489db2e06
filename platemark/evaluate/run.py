"""Evaluate a catalog against a ground-truth CSV: accuracy, rejection of unknowns, latency."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from platemark.errors import UnreadableImage
from platemark.evaluate.groundtruth import GroundTruthQuery, read_ground_truth
from platemark.evaluate.metrics import retrieval_metrics
from platemark.search.engine import Searcher, SearchResponse
from platemark.search.relation import Relation

#: Relations that say the photographed sheet is not the record, but shares its plate.
OTHER_SHEET = (Relation.SAME_PLATE, Relation.MIRROR)


@dataclass
class Evaluation:
    """Scores of one evaluation run plus every query's outcome, for reports."""

    summary: dict[str, Any]
    queries: list[GroundTruthQuery]
    responses: list[SearchResponse]


def evaluate(searcher: Searcher, ground_truth: str | Path, *, top_k: int = 10, progress: bool = True) -> Evaluation:
    """Search every query photo of a ground-truth CSV and score the results.

    Returns keys `queries, recall@1, recall@5, recall@10, mAP, answered_right, not_in_collection_rejected,
    not_in_collection_same_plate, false_verified, any_wrong_verified, latency_ms_p50, latency_ms_p95`
    in `summary`. A hit claims a record only when it is verified as that sheet (or a detail of it),
    not as another impression of its plate or its mirror image (`platemark.search.relation`):
    `answered_right` is the share of photos of prints in the collection whose first such claim is a
    right record (what the page shows as "this is the record"; recall@1 counts a right record ranked
    first even when it is shown as another impression or unverified);
    `not_in_collection_rejected` is the share of photos of prints outside the collection with no such
    claim, `not_in_collection_same_plate` the share of them with a hit on another impression or the
    mirror image of their plate; `false_verified` is the share of photos whose first claimed record is
    wrong, `any_wrong_verified` the share with any wrong record claimed (the answer or "also in the photo").

    Example:
        >>> evaluate(Searcher(open_catalog("./catalog")), "bench/ground_truth.csv").summary["recall@1"]
    """
    queries = read_ground_truth(ground_truth)
    with contextlib.suppress(UnreadableImage):  # warm-up: load the model before timing
        searcher.search(queries[0].path, top_k=top_k)
    responses = []
    for query in tqdm(queries, desc="evaluate", unit="query", disable=None if progress else True):
        try:
            responses.append(searcher.search(query.path, top_k=top_k))
        except UnreadableImage as exc:
            responses.append(SearchResponse(str(exc)))
    return Evaluation(summarise(queries, responses), queries, responses)


def summarise(queries: list[GroundTruthQuery], responses: list[SearchResponse]) -> dict[str, Any]:
    """The evaluation's summary numbers from queries and their responses."""
    relevant = {q.name: set(q.record_ids) for q in queries}
    ranked = {q.name: [h.record.record_id for h in r.results] for q, r in zip(queries, responses, strict=True)}
    summary: dict[str, Any] = {"queries": len(queries)}
    summary.update({k: round(v, 4) for k, v in retrieval_metrics(relevant, ranked).items()})
    # a photo is answered with a record only by a hit claiming its sheet, not by another impression of its plate
    claims = [[h.record.record_id for h in r.results if h.claims_sheet] for r in responses]
    answers = [found[0] if found else None for found in claims]
    known = [answer in q.record_ids for q, answer in zip(queries, answers, strict=True) if q.record_ids]
    summary["answered_right"] = round(float(np.mean(known)), 4) if known else None
    unknown = [(r, found) for q, r, found in zip(queries, responses, claims, strict=True) if not q.record_ids]
    rejected = [not found for _, found in unknown]
    summary["not_in_collection_rejected"] = round(float(np.mean(rejected)), 4) if unknown else None
    same_plate = [any(h.relation in OTHER_SHEET for h in r.results) for r, _ in unknown]
    summary["not_in_collection_same_plate"] = round(float(np.mean(same_plate)), 4) if unknown else None
    false_verified = [
        answer is not None and answer not in q.record_ids for q, answer in zip(queries, answers, strict=True)
    ]
    summary["false_verified"] = round(float(np.mean(false_verified)), 4)
    any_wrong = [
        any(record_id not in q.record_ids for record_id in found) for q, found in zip(queries, claims, strict=True)
    ]
    summary["any_wrong_verified"] = round(float(np.mean(any_wrong)), 4)
    latencies = [r.elapsed_ms for r in responses if r.results]
    summary["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 1) if latencies else None
    summary["latency_ms_p95"] = round(float(np.percentile(latencies, 95)), 1) if latencies else None
    return summary
