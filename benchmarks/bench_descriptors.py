"""How small can the stored descriptors get before matching loses the right record? (issue 11)

    python benchmarks/bench_descriptors.py --bench ../shared/bench

A million records must fit in 40 GB, and ~80% of a record's bytes are its stored RootSIFT descriptors
(128 bytes per keypoint), kept to match the best-voted records exhaustively, to verify records not
indexed yet and to train the codebook again. This measures what that exhaustive matching keeps when
the reference descriptors are stored compressed and decoded before matching:
  raw      uint8, 128 bytes (today)
  4bit     each dimension in 4 bits on a square-root scale (RootSIFT values crowd near 0), 64 bytes;
           needs no training
  pqM      faiss product quantizer, M sub-vectors of 8 bits, M bytes; trained on the pool catalog's
           descriptors (woodcuts, clip art, landscapes: no record or photo of the sets), as a
           quantizer trained once, before the records come, would be
Per set, on the photos of catalogued records (bench_scale's real catalog and query sets, built by
bench_scale.py when missing): how many the right record verifies for when matched exhaustively at the
photo's two scales (the better one), and the median share of raw matching's inliers kept. `feature_kb`
is a record's stored features (points, descriptors, global vector) plus its postings at the catalog's
mean keypoints; `disk_1m_gb` is a million such records. One process, one core.

Indexing reads the stored descriptors too: a new codebook indexes every record again, and
`duplicates` looks each record's descriptors up in the index. The second table gives, for 30,000 of
the real catalog's descriptors, how often the decoded descriptor falls in the same visual word
(`same_word`) and how many of the 64 signature bits change (`signature_bits`; a match allows 16).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
from bench_scale import staging
from report import print_table, save_results

from platemark.evaluate.groundtruth import read_ground_truth
from platemark.extract.sift import QUERY_SIDE, SiftExtractor
from platemark.images import QUERY_MAX_SIDE, load_image
from platemark.index.codebook import Codebook
from platemark.index.postings import POSTING
from platemark.search.local import match_descriptors
from platemark.search.verify import verify
from platemark.store import open_catalog

COLUMNS = ("method", "set", "bytes_per_keypoint", "photos", "verified", "inliers_kept", "feature_kb", "disk_1m_gb")
INDEX_COLUMNS = ("method", "same_word", "signature_bits")
TRAINING_SAMPLE = 200_000
#: A name -> (bytes per keypoint, descriptors through the method and back).
Methods = dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]]


def square_root_4bit() -> Callable[[np.ndarray], np.ndarray]:
    """Descriptors through 16 levels spaced evenly in sqrt(value) and back."""
    step = np.sqrt(255.0) / 15

    def roundtrip(descriptors: np.ndarray) -> np.ndarray:
        return (np.rint(np.sqrt(descriptors.astype(np.float32)) / step) * step) ** 2

    return roundtrip


def product_quantizer(sub_vectors: int, training: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Descriptors through a product quantizer of `sub_vectors` bytes trained on `training`, and back."""
    quantizer = faiss.ProductQuantizer(128, sub_vectors, 8)
    quantizer.train(training)

    def roundtrip(descriptors: np.ndarray) -> np.ndarray:
        return quantizer.decode(quantizer.compute_codes(np.ascontiguousarray(descriptors, dtype=np.float32)))

    return roundtrip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-scale"))
    args = parser.parse_args()
    real, pool, sets = staging(args.bench.resolve(), args.work.resolve())
    with open_catalog(pool) as catalog:
        pooled = np.concatenate([d for _, _, d in catalog.local_features()]).astype(np.float32)
    training = pooled[np.random.default_rng(0).choice(len(pooled), min(TRAINING_SAMPLE, len(pooled)), replace=False)]
    methods: Methods = {
        "raw": (128, lambda d: d.astype(np.float32)),
        "4bit": (64, square_root_4bit()),
        **{f"pq{m}": (m, product_quantizer(m, training)) for m in (32, 16, 8)},
    }
    with open_catalog(real) as catalog:
        records = {r.record_id: r for r in catalog.browse(limit=100_000)[0]}
        features = {key: (points, descriptors) for key, points, descriptors in catalog.local_features()}
    keypoints = statistics.mean(len(points) for points, _ in features.values())
    extractors = [SiftExtractor(max_side=side, max_features=2000) for side in (QUERY_SIDE, 2 * QUERY_SIDE)]
    rows = []
    for set_name, ground_truth in sets.items():
        inliers: dict[str, list[int]] = {name: [] for name in methods}
        for query in read_ground_truth(ground_truth):
            record = next((records[r] for r in query.record_ids if r in records), None)
            if record is None:
                continue  # a photo of a print not in the catalog
            points, descriptors = features[record.key]
            photo = load_image(query.path, max_side=QUERY_MAX_SIDE)
            scales = [extractor.extract(photo) for extractor in extractors]
            for name, (_, roundtrip) in methods.items():
                reference = roundtrip(descriptors)
                best = 0
                for found in scales:
                    query_idx, reference_idx = match_descriptors(found.descriptors, reference)
                    verification = verify(
                        found.points[query_idx],
                        points[reference_idx],
                        (found.width, found.height),
                        (record.width, record.height),
                    )
                    best = max(best, verification.inliers if verification.verified else 0)
                inliers[name].append(best)
        raw = np.array(inliers["raw"], float)
        for name, (size, _) in methods.items():
            kept = np.array(inliers[name], float)
            record_bytes = keypoints * (8 + size + POSTING.itemsize) + 1280 * 4
            rows.append(
                {
                    "method": name,
                    "set": set_name,
                    "bytes_per_keypoint": size,
                    "photos": len(kept),
                    "verified": int((kept > 0).sum()),
                    "inliers_kept": round(float(np.median(kept[raw > 0] / raw[raw > 0])), 3),
                    "feature_kb": round(record_bytes / 1000, 1),
                    "disk_1m_gb": round(record_bytes * 1e6 / 1e9, 1),
                }
            )
    print(f"{len(features)} records, {keypoints:.0f} keypoints each on average")
    print_table(rows, COLUMNS)
    indexing = index_agreement(real, methods)
    print_table(indexing, INDEX_COLUMNS)
    save_results(
        "bench_descriptors",
        {"rows": rows, "indexing": indexing, "keypoints_per_record": round(keypoints)},
        ("faiss-cpu",),
        "-descriptors",
    )


def index_agreement(catalog_path: Path, methods: Methods) -> list[dict]:
    """Per method: how often a decoded descriptor keeps its word, and the signature bits it changes."""
    with open_catalog(catalog_path) as catalog:
        _, data = catalog.codebook("active")
        stored = np.concatenate([d for _, _, d in catalog.local_features()])
    codebook = Codebook.from_bytes(data)
    sample = stored[np.random.default_rng(1).choice(len(stored), min(30_000, len(stored)), replace=False)]
    words = codebook.assign(sample)[:, 0]
    signatures = codebook.signatures(sample, words)
    rows = []
    for name, (_, roundtrip) in methods.items():
        decoded = np.clip(np.rint(roundtrip(sample)), 0, 255).astype(np.uint8)
        changed = np.unpackbits((codebook.signatures(decoded, words) ^ signatures).view(np.uint8)).reshape(-1, 64)
        rows.append(
            {
                "method": name,
                "same_word": round(float(np.mean(codebook.assign(decoded)[:, 0] == words)), 3),
                "signature_bits": round(float(changed.sum(axis=1).mean()), 2),
            }
        )
    return rows


if __name__ == "__main__":
    main()
