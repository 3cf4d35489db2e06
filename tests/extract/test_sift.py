from __future__ import annotations

import faiss
import numpy as np

from platemark.extract.sift import QUERY_SIDE, SiftExtractor
from platemark.index.codebook import as_float


def test_mirrored_features_are_those_of_the_mirrored_image(sample_images: dict) -> None:
    image = sample_images["astronaut"]
    extractor = SiftExtractor(max_side=QUERY_SIDE, max_features=2000)
    derived = extractor.extract(image).mirrored()
    extracted = extractor.extract(np.ascontiguousarray(image[:, ::-1]))
    _, nearest = faiss.knn(as_float(derived.descriptors), as_float(extracted.descriptors), 1)
    moved = np.linalg.norm(extracted.points[nearest[:, 0]] - derived.points, axis=1)
    assert (moved < 3).mean() > 0.7  # keypoint selection differs a little; unpermuted descriptors: ~0.1
    assert (derived.width, derived.height) == (extracted.width, extracted.height)
