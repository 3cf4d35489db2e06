"""A self-contained HTML page of the duplicate pairs: groups, both images with the matched regions, evidence."""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path

from platemark.images import encode_jpeg
from platemark.search.duplicates import DuplicatePair, by_group
from platemark.search.relation import thumbnail
from platemark.store.base import Catalog, StoredRecord

#: Pairs shown; the CSV has them all.
MAX_PAIRS = 300
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
    "table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ddd}"
    ".pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem;margin:1rem 0;border-top:1px solid #ccc;"
    "padding-top:1rem}.pair p{grid-column:1/-1;margin:0}svg{width:100%;max-height:20rem}"
    "polygon{fill:none;stroke:#e8a317;stroke-width:1%}figure{margin:0}"
)


def write_duplicates_report(pairs: list[DuplicatePair], path: str | Path, *, catalog: Catalog) -> None:
    """Write the page: pairs per relation, then the groups (largest, most certain first) pair by pair.

    Example:
        >>> write_duplicates_report(duplicate_pairs(catalog), "dups.html", catalog=catalog)
    """
    counts = Counter(pair.relation for pair in pairs)
    rows = "".join(f"<tr><th>{html.escape(r)}</th><td>{n}</td></tr>" for r, n in counts.most_common())
    numbered = by_group(pairs)
    parts = [
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>platemark duplicates</title>",
        f"<style>{STYLE}</style><h1>platemark duplicates</h1>",
        f"<p>{len(pairs)} pair(s) in {numbered[-1][0] if numbered else 0} group(s)"
        + (f"; the first {MAX_PAIRS} are shown, the CSV has all" if len(pairs) > MAX_PAIRS else "")
        + f".</p><table>{rows}</table>",
    ]
    shown = 0
    for number, pair in numbered[:MAX_PAIRS]:
        if number != shown:
            shown = number
            parts.append(f"<h2>Group {number}</h2>")
        parts.append(_pair(pair, catalog))
    parts.append("</html>")
    Path(path).write_text("".join(parts), encoding="utf-8")


def _pair(pair: DuplicatePair, catalog: Catalog) -> str:
    evidence = [f"{pair.inliers} inliers", f"similarity {pair.similarity:.2f}"]
    if pair.inlier_coverage is not None:
        evidence.append(f"{pair.inlier_coverage:.0%} of the overlap agrees")
    if pair.colour_difference is not None:
        evidence.append(f"colour difference {pair.colour_difference:.1f}")
    if pair.ink_difference is not None:
        evidence.append(f"ink difference {pair.ink_difference:.2f}")
    if pair.stretch is not None:
        evidence.append(f"stretch {pair.stretch * 1000:.2f}‰")
    if pair.decision:
        evidence.append(f"decided: {pair.decision}")
    return (
        f"<div class='pair'><p><strong>{html.escape(pair.relation)}</strong> · {' · '.join(evidence)}</p>"
        f"{_figure(pair.a, pair.region_a, catalog)}{_figure(pair.b, pair.region_b, catalog)}</div>"
    )


def _figure(record: StoredRecord, region: list[list[float]] | None, catalog: Catalog) -> str:
    """The record's image with the region the other record shows outlined, as inline SVG."""
    caption = f"<figcaption>{html.escape(record.collection)} · {html.escape(record.record_id)}</figcaption>"
    image = thumbnail(catalog, record.thumb_name)
    if image is None:
        return f"<figure>{caption}</figure>"
    jpeg = encode_jpeg(image, max_side=256, quality=80)
    outline = ""
    if region:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in region)
        outline = f"<polygon points='{points}'/>"
    data = base64.b64encode(jpeg).decode()
    return (
        f"<figure><svg viewBox='0 0 {record.width} {record.height}' role='img' "
        f"aria-label='{html.escape(record.record_id)}'><image href='data:image/jpeg;base64,{data}' "
        f"width='{record.width}' height='{record.height}'/>{outline}</svg>{caption}</figure>"
    )
