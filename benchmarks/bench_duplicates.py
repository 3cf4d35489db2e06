"""Which vetted pairs of real woodblock prints `platemark duplicates` finds, against PHash (issue 12).

    python benchmarks/bench_duplicates.py --bench ../shared/bench [--scale-sizes 1000]

Pairs: ../shared/bench/woodcuts/pairs.csv, 167 pairs checked by eye: `same_block` (16: the same
woodblock, other paper, inking, wear, trimming; 13 of them one panel against the whole sheet),
`other_state` (4: an etching plate reworked), `copy` (12: the composition re-cut or redrawn) and
`different` (135, many of them same-titled prints). The folder is ingested as one collection.

Most same_block pairs are two images of one sheet (a record's second photo of a panel, a digital
derivative); four are other impressions (OTHER_IMPRESSIONS, from the notes and by eye). "One sheet"
counts how many pairs platemark claims as the sheet (identical, rescan or detail) and how many of those
are one sheet: a claim on another impression or state is the error a curator would merge records on.

Per vetted relation: how many pairs `update_duplicates` reports, and as which relation; beside it, how
many each peer a user would try first finds (PEERS: OpenCV img_hash PHash, the hash ingest computes,
and imagededup's four CNN-free hashes, each calling a pair within imagededup's default 10 of 64 bits a
duplicate). "Same print" counts same_block and other_state as positives, copy and different as
negatives; platemark claims "same print" with identical, rescan, detail and same_plate (not `mirror`,
a reversed copy or counterproof, nor `overlap`, a shared part only): precision and recall of that, for
every method.

Synthetic pairs: 40 prints of the bench collections (20 woodcuts not in any vetted pair, 10 AIC
paintings, 10 museum artworks), each ingested with five variants made here: an exact file copy
(`identical`), a rescan (margins cropped, resized to 60-80%, colours shifted, JPEG 60-80: `rescan`), a
detail (35-55% of the sheet, enlarged: `detail`), a mirrored rescan (`mirror`), and another impression
(`platemark.simulate.impressions.another_impression`: the ink alone, the source sheet's stains and
grain left behind, lines a pixel fatter or thinner, mottled and broken ink, on other paper stretched by
up to 0.3%, and a third or more of the sheet coloured by another hand: `same_plate`).
Two variants of one print are expected to be related as the stronger change says (mirror, then
same_plate, then detail, then rescan); prints of different sources as nothing. Per relation:
precision and recall, and how many of the expected pairs each peer finds; and how many pairs of
different prints each method reports.

imagededup is installed by `make bench`, without its dependencies: they pull a torchvision built for
CUDA, which this CPU build of torch cannot load, and only its CNN needs it.

With --scale-sizes, also the time a first `update_duplicates` run (2 worker processes on 2 cores) takes
over bench_scale.py's catalogs of those sizes (in its --work folder, built as it builds them when
missing; their distractors share pool images, so they pair among themselves as `overlap`); the pairs
stored are forgotten first (`again=True`).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import logging
import shutil
import sys
import types
import warnings
from collections import Counter
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from report import print_table, save_results

from platemark.images import load_image
from platemark.ingest.pipeline import ingest, perceptual_hash
from platemark.search.duplicates import duplicate_pairs, update_duplicates
from platemark.simulate.impressions import another_impression
from platemark.store import open_catalog

#: The peers a user would try first: OpenCV img_hash PHash and imagededup's hashing methods.
PEERS = ("opencv_phash", "imagededup_phash", "imagededup_ahash", "imagededup_dhash", "imagededup_whash")
COLUMNS = ("vetted", "pairs", "platemark_found", "platemark_as", *PEERS)
SCALE_COLUMNS = ("records", "seconds", "ms_per_record", "growth", "pairs", "pairs_per_record", "relations")
SYNTHETIC_COLUMNS = ("relation", "expected", "reported", "correct", "precision", "recall", *PEERS)
VARIANTS = ("copy", "rescan", "detail", "mirror", "impression")
#: How the variants are made; a --work folder whose synthetic catalog was made otherwise (or with
#: another --seed) is made again. Bump it when `variants` changes.
SYNTHETIC_VARIANTS = "impression pulled again on another sheet (simulate.impressions), 2026-11-27"
#: imagededup's default Hamming threshold (`find_duplicates(max_distance_threshold=10)`), of 64 bits.
HASH_THRESHOLD = 10
POSITIVE = {"same_block", "other_state"}
#: Relations that claim the two records show the same print (one sheet, or one plate).
SAME_PRINT = {"identical", "rescan", "detail", "same_plate"}
#: Relations that claim the two records show one sheet.
ONE_SHEET = {"identical", "rescan", "detail"}
#: Vetted same_block pairs that are other impressions, not two images of one sheet: "another impression,
#: photographed behind glass"; a "faded print" on other paper with a torn edge (looked at); a key-block
#: pull against the colour print, and against its panel. Every other same_block pair is one sheet.
OTHER_IMPRESSIONS = {
    frozenset(pair)
    for pair in (
        ("pingyang_main102_092", "pingyang_main102_092_p2"),
        ("pingyang_reg20_016", "pingyang_reg20_016_p2"),
        ("pingyang_main102_093", "pingyang_reg42_002"),
        ("pingyang_main102_093_p2", "pingyang_reg42_002"),
    )
}


def vetted_pairs(bench: Path) -> list[tuple[str, str, str]]:
    with open(bench / "woodcuts" / "pairs.csv", newline="", encoding="utf-8") as handle:
        return [(row["record_id_a"], row["record_id_b"], row["relation"]) for row in csv.DictReader(handle)]


def platemark_relations(bench: Path, work: Path) -> tuple[dict[frozenset[str], str], float, int]:
    """{pair of record ids: relation} as a first `update_duplicates` run reports them, its seconds, and
    the records."""
    catalog_dir = work / "woodcuts-catalog"
    if not catalog_dir.exists():
        report = ingest(bench / "woodcuts" / "images", catalog_dir, collection="woodcuts", progress=False)
        if not report.ok:
            raise SystemExit(f"ingest of the woodcuts failed: {report.failed[:3]}")
    with open_catalog(catalog_dir) as catalog:
        took = update_duplicates(catalog, again=True).seconds
        pairs = duplicate_pairs(catalog)
        records = catalog.count()
    return {frozenset((p.a.record_id, p.b.record_id)): p.relation for p in pairs}, took, records


def one_sheet(vetted: list[tuple[str, str, str]], found: dict[frozenset[str], str]) -> dict[str, float]:
    """Of the vetted pairs platemark claims as one sheet, how many are (same_block, not another impression)."""
    sheets = {frozenset((a, b)) for a, b, r in vetted if r == "same_block"} - OTHER_IMPRESSIONS
    claims = {frozenset((a, b)) for a, b, _ in vetted if found.get(frozenset((a, b))) in ONE_SHEET}
    return {
        "pairs": len(sheets),
        "claimed": len(claims),
        "correct": len(claims & sheets),
        "precision": round(len(claims & sheets) / max(1, len(claims)), 3),
        "recall": round(len(claims & sheets) / len(sheets), 3),
    }


def peer_pairs(folder: Path, ids: set[str]) -> dict[str, set[frozenset[str]]]:
    """Per peer (PEERS), the pairs of these records (images `folder/<id>.jpg`) it calls duplicates."""
    names = sorted(ids)
    bits = np.array([np.unpackbits(perceptual_hash(load_image(folder / f"{n}.jpg"))) for n in names])
    distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    close = np.nonzero(distances <= HASH_THRESHOLD)
    found = {"opencv_phash": {frozenset((names[i], names[j])) for i, j in zip(*close, strict=True) if i < j}}
    for method, hasher in imagededup_hashers().items():
        encodings = hasher.encode_images(image_dir=folder)
        encodings = {file: code for file, code in encodings.items() if Path(file).stem in ids}
        duplicates = hasher.find_duplicates(encoding_map=encodings, max_distance_threshold=HASH_THRESHOLD)
        found[method] = {frozenset((Path(a).stem, Path(b).stem)) for a, others in duplicates.items() for b in others}
    return found


def imagededup_hashers() -> dict[str, object]:
    """imagededup's PHash, AHash, DHash and WHash. Its packages' `__init__` modules import its CNN,
    which needs torchvision; the hashing modules do not, so the packages are entered without them."""
    spec = importlib.util.find_spec("imagededup")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("imagededup is not installed: run `make bench` once (it installs the peers)")
    root = Path(spec.submodule_search_locations[0])
    for package in ("methods", "utils"):
        entered = types.ModuleType(f"imagededup.{package}")
        entered.__path__ = [str(root / package)]
        sys.modules.setdefault(f"imagededup.{package}", entered)
    from imagededup.methods.hashing import AHash, DHash, PHash, WHash

    for name in [name for name in logging.root.manager.loggerDict if name.startswith("imagededup")]:
        logging.getLogger(name).setLevel(logging.WARNING)  # each module's logger says INFO per call
    warnings.filterwarnings("ignore", "Parameter num_enc_workers has no effect", RuntimeWarning)
    return {f"imagededup_{h.__name__.lower()}": h(verbose=False) for h in (PHash, AHash, DHash, WHash)}


def variants(rgb: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The synthetic variants of one print (the copy is written as the same file)."""
    height, width = rgb.shape[:2]

    def rescan(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        m = rng.uniform(0.01, 0.04, 4) * [h, w, h, w]
        cropped = image[int(m[0]) : h - int(m[2]), int(m[1]) : w - int(m[3])]
        scaled = cv2.resize(cropped, None, fx=(f := rng.uniform(0.6, 0.8)), fy=f, interpolation=cv2.INTER_AREA)
        shifted = scaled.astype(np.float32) * rng.uniform(0.92, 1.08, 3) + rng.uniform(-10, 10)
        return np.clip(shifted, 0, 255).astype(np.uint8)

    side = rng.uniform(0.35, 0.55)
    y, x = int(rng.uniform(0, 1 - side) * height), int(rng.uniform(0, 1 - side) * width)
    detail = rgb[y : y + int(side * height), x : x + int(side * width)]
    detail = cv2.resize(detail, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    return {
        "rescan": rescan(rgb),
        "detail": detail,
        "mirror": rescan(np.ascontiguousarray(rgb[:, ::-1])),
        "impression": another_impression(rgb, rng),
    }


def expected_relation(x: str, y: str) -> str:
    """How two variants of one print are related: the stronger change decides."""
    kinds = {x, y}
    if "mirror" in kinds:
        return "mirror"
    if "impression" in kinds:
        return "same_plate"
    if "detail" in kinds:
        return "detail"
    return "identical" if kinds <= {"original", "copy"} else "rescan"


def synthetic_sources(bench: Path, vetted: list[tuple[str, str, str]], rng: np.random.Generator) -> list[Path]:
    paired = {record for a, b, _ in vetted for record in (a, b)}
    woodcuts = [p for p in sorted((bench / "woodcuts" / "images").glob("*.jpg")) if p.stem not in paired]
    aic = sorted((bench / "aic" / "images").glob("*.jpg"))
    museum = sorted((bench / "museum" / "collection" / "images").glob("*.jpg"))
    return [
        *rng.choice(woodcuts, 20, replace=False),
        *rng.choice(aic, 10, replace=False),
        *rng.choice(museum, 10, replace=False),
    ]


def synthetic_rows(bench: Path, work: Path, vetted: list[tuple[str, str, str]], seed: int) -> list[dict]:
    """Precision and recall per relation on the synthetic pairs, and PHash's finds among them."""
    rng = np.random.default_rng(seed)
    folder = work / "synthetic" / "images"
    catalog_dir = work / "synthetic-catalog"
    made_by = work / "synthetic" / "made-by.txt"
    wanted = f"{SYNTHETIC_VARIANTS} seed {seed}\n"
    if catalog_dir.exists() and (not made_by.exists() or made_by.read_text() != wanted):
        shutil.rmtree(catalog_dir)  # made with other variants or another seed: made again
        shutil.rmtree(folder.parent, ignore_errors=True)
    if not catalog_dir.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for number, source in enumerate(synthetic_sources(bench, vetted, rng)):
            stem = f"p{number:02d}"
            shutil.copy(source, folder / f"{stem}__original.jpg")
            shutil.copy(source, folder / f"{stem}__copy.jpg")
            for kind, image in variants(load_image(source), rng).items():
                quality = int(rng.integers(60, 81)) if kind in ("rescan", "mirror") else 92
                Image.fromarray(image).save(folder / f"{stem}__{kind}.jpg", quality=quality)
        report = ingest(folder.parent, catalog_dir, collection="synthetic", progress=False)
        if not report.ok:
            raise SystemExit(f"ingest of the synthetic pairs failed: {report.failed[:3]}")
        made_by.write_text(wanted)
    with open_catalog(catalog_dir) as catalog:
        update_duplicates(catalog, again=True)
        found = {frozenset((p.a.record_id, p.b.record_id)): p.relation for p in duplicate_pairs(catalog)}
        names = sorted(r.record_id for r in catalog.browse(limit=10_000)[0])
    expected = {
        frozenset((x, y)): expected_relation(x.split("__")[1], y.split("__")[1])
        for i, x in enumerate(names)
        for y in names[i + 1 :]
        if x.split("__")[0] == y.split("__")[0]
    }
    peers = peer_pairs(folder, set(names))
    rows = []
    for relation in ("identical", "rescan", "detail", "same_plate", "mirror"):
        wanted = {pair for pair, r in expected.items() if r == relation}
        reported = {pair for pair, r in found.items() if r == relation}
        correct = wanted & reported
        rows.append(
            {
                "relation": relation,
                "expected": len(wanted),
                "reported": len(reported),
                "correct": len(correct),
                "precision": round(len(correct) / max(1, len(reported)), 3),
                "recall": round(len(correct) / max(1, len(wanted)), 3),
                **{peer: len(wanted & pairs) for peer, pairs in peers.items()},
            }
        )
    rows.append(
        {
            "relation": "different prints",
            "expected": 0,
            "reported": sum(pair not in expected for pair in found),
            "correct": 0,
            **{peer: len(pairs - expected.keys()) for peer, pairs in peers.items()},
        }
    )
    return rows


def scale_catalog(bench: Path, work: Path, size: int) -> Path:
    """bench_scale.py's catalog of this size in its --work folder, built the way it builds them if missing."""
    location = work / f"catalog-{size}"
    if not (location / "catalog.db").exists():
        import bench_scale

        real, pool_location, _ = bench_scale.staging(bench, work)
        bench_scale.build(str(location), None, real, bench_scale.load_pool(pool_location), size, seed=0)
    return location


def scale_row(location: Path) -> dict:
    with open_catalog(location) as catalog:
        records = catalog.count()
        took = update_duplicates(catalog, again=True).seconds
        pairs = duplicate_pairs(catalog, across_collections=True)
    return {
        "records": records,
        "seconds": round(took),
        "ms_per_record": round(1000 * took / records, 1),
        "pairs": len(pairs),
        "pairs_per_record": round(len(pairs) / records, 2),
        "relations": dict(Counter(p.relation for p in pairs)),
    }


def with_growth(rows: list[dict]) -> list[dict]:
    """Each row with the exponent k of time ~ records^k from the row before (1: linear)."""
    for before, row in pairwise(rows):
        growth = np.log(row["seconds"] / before["seconds"]) / np.log(row["records"] / before["records"])
        row["growth"] = round(float(growth), 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("../shared/bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/platemark-bench-duplicates"))
    parser.add_argument("--scale-work", type=Path, default=Path("/tmp/platemark-bench-scale"))
    parser.add_argument("--scale-sizes", default="", help="comma-separated sizes of bench_scale catalogs to time")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    vetted = vetted_pairs(args.bench)
    found, took, records = platemark_relations(args.bench, args.work)
    peers = peer_pairs(args.bench / "woodcuts" / "images", {record for a, b, _ in vetted for record in (a, b)})
    rows = []
    for relation in ("same_block", "other_state", "copy", "different"):
        pairs = [frozenset((a, b)) for a, b, r in vetted if r == relation]
        reported = [found[p] for p in pairs if p in found]
        rows.append(
            {
                "vetted": relation,
                "pairs": len(pairs),
                "platemark_found": len(reported),
                "platemark_as": dict(Counter(reported)),
                **{peer: sum(p in found_by for p in pairs) for peer, found_by in peers.items()},
            }
        )
    print_table(rows, COLUMNS)
    summary = {}
    claimed = {pair for pair, relation in found.items() if relation in SAME_PRINT}
    for method, hits in {"platemark": claimed, **peers}.items():
        positives = [frozenset((a, b)) in hits for a, b, r in vetted if r in POSITIVE]
        negatives = [frozenset((a, b)) in hits for a, b, r in vetted if r not in POSITIVE]
        true = sum(positives)
        summary[method] = {
            "same_print_precision": round(true / max(1, true + sum(negatives)), 3),
            "same_print_recall": round(true / len(positives), 3),
        }
        print(
            f"{method}: same print (same_block + other_state) precision {summary[method]['same_print_precision']}"
            f", recall {summary[method]['same_print_recall']}"
        )
    summary["one_sheet"] = one_sheet(vetted, found)
    print(
        f"one sheet: {summary['one_sheet']['claimed']} vetted pairs claimed as one sheet, "
        f"{summary['one_sheet']['correct']} of them are (precision {summary['one_sheet']['precision']}, "
        f"recall {summary['one_sheet']['recall']} of {summary['one_sheet']['pairs']})"
    )
    print(f"update_duplicates over the woodcut catalog ({records} records) took {took:.1f} s")
    synthetic = synthetic_rows(args.bench, args.work, vetted, args.seed)
    print_table(synthetic, SYNTHETIC_COLUMNS)
    sizes = [int(size) for size in args.scale_sizes.split(",") if size]
    scale = with_growth([scale_row(scale_catalog(args.bench, args.scale_work, size)) for size in sizes])
    if scale:
        print_table(scale, SCALE_COLUMNS)
    save_results(
        "bench_duplicates",
        {"rows": rows, "summary": summary, "woodcuts_seconds": round(took, 1), "synthetic": synthetic, "scale": scale},
        ("faiss-cpu", "numpy", "opencv-contrib-python-headless"),
        "-duplicates",
    )


if __name__ == "__main__":
    main()
