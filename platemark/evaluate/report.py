"""A self-contained HTML evaluation report: plots and a gallery of failures for curators."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from platemark.errors import UnreadableImage
from platemark.evaluate.run import Evaluation
from platemark.images import encode_jpeg, load_image
from platemark.store import Catalog

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_FAILURES = 60


def write_report(evaluation: Evaluation, path: str | Path, *, catalog: Catalog) -> None:
    """Write the report: summary table, score distributions, recall@k curve, failed queries.

    Example:
        >>> write_report(evaluate(searcher, "gt.csv"), "report.html", catalog=searcher.catalog)
    """
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in evaluation.summary.items()
    )
    parts = [
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>platemark evaluation</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
        "table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ddd}"
        ".fail{display:flex;gap:1rem;align-items:flex-start;margin:1rem 0;border-top:1px solid #ccc;padding-top:1rem}"
        ".fail img{max-width:16rem;max-height:16rem}figure{margin:0}</style>",
        "<h1>platemark evaluation</h1><table>",
        rows,
        "</table>",
        "<h2>Inliers of true and false candidates</h2>",
        _svg(_score_plot(evaluation)),
        "<h2>Recall at k</h2>",
        _svg(_recall_plot(evaluation)),
        "<h2>Failures</h2>",
        _failures(evaluation, catalog),
        "</html>",
    ]
    Path(path).write_text("".join(parts), encoding="utf-8")


def _score_plot(evaluation: Evaluation) -> Figure:
    from platemark.search.verify import VERIFIED_INLIERS

    true, false = [], []
    for query, response in zip(evaluation.queries, evaluation.responses, strict=True):
        for hit in response.results:
            (true if hit.record.record_id in query.record_ids else false).append(hit.verification.inliers)
    figure, axis = _figure()
    bins = np.arange(0, max([VERIFIED_INLIERS * 3, *true, *false]) + 5, 2)
    axis.hist(false, bins=bins, alpha=0.6, label=f"wrong record ({len(false)})", color="#c0392b", log=True)
    axis.hist(true, bins=bins, alpha=0.6, label=f"right record ({len(true)})", color="#27ae60", log=True)
    axis.axvline(VERIFIED_INLIERS, color="black", linestyle="--", label="verified threshold")
    axis.set_xlabel("inliers after geometric verification")
    axis.set_ylabel("results")
    axis.legend()
    return figure


def _recall_plot(evaluation: Evaluation) -> Figure:
    ks = list(range(1, 11))
    known = [(q, r) for q, r in zip(evaluation.queries, evaluation.responses, strict=True) if q.record_ids]
    recalls = [
        np.mean([bool(q.record_ids & {h.record.record_id for h in r.results[:k]}) for q, r in known]) if known else 0
        for k in ks
    ]
    figure, axis = _figure()
    axis.plot(ks, recalls, marker="o")
    axis.set_ylim(0, 1.02)
    axis.set_xlabel("k")
    axis.set_ylabel("recall@k")
    axis.grid(alpha=0.3)
    return figure


def _figure() -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 3.2), layout="constrained")


def _svg(figure: Figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _failures(evaluation: Evaluation, catalog: Catalog) -> str:
    items = []
    for query, response in zip(evaluation.queries, evaluation.responses, strict=True):
        top = response.results[0] if response.results else None
        verified = top is not None and top.verification.verified
        right = top is not None and top.record.record_id in query.record_ids
        if (query.record_ids and right) or (not query.record_ids and not verified):
            continue
        expected = ", ".join(sorted(query.record_ids)) or "not in the collection"
        found = (
            f"{html.escape(top.record.record_id)} ({'verified' if verified else 'not verified'}, "
            f"{top.verification.inliers} inliers, similarity {top.similarity:.2f})"
            if top
            else html.escape(response.query)
        )
        thumb = catalog.thumbs_dir / top.record.thumb_name if top else None
        items.append(
            f"<div class='fail'><figure>{_img(query.path, 'query photo')}<figcaption>{html.escape(query.path.name)}"
            f"</figcaption></figure><figure>{_img(thumb, 'top result') if thumb else ''}<figcaption>found: {found}"
            f"<br>expected: {html.escape(expected)}</figcaption></figure></div>"
        )
        if len(items) >= MAX_FAILURES:
            break
    return "".join(items) or "<p>No failures.</p>"


def _img(path: Path | None, alt: str) -> str:
    if path is None or not path.is_file():
        return ""
    try:
        thumbnail = encode_jpeg(load_image(path, max_side=256), quality=80)
    except UnreadableImage:
        return ""
    data = base64.b64encode(thumbnail).decode()
    return f"<img alt='{html.escape(alt)}' src='data:image/jpeg;base64,{data}'>"
