"""Compressed descriptors: what they keep of matching a photo to its record."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from platemark.extract.sift import QUERY_SIDE, SiftExtractor
from platemark.search.local import match_descriptors
from platemark.search.verify import verify
from platemark.store.descriptors import CODE_BYTES, DescriptorCodec


@pytest.fixture(scope="module")
def references(sample_images: dict) -> dict:
    extractor = SiftExtractor()
    return {name: extractor.extract(image) for name, image in sample_images.items()}


@pytest.fixture(scope="module")
def codec(references: dict) -> DescriptorCodec:
    return DescriptorCodec.train(np.concatenate([f.descriptors for f in references.values()]))


def photo(image: np.ndarray) -> np.ndarray:
    """The image turned by 12 degrees and shrunk to 80%, as a phone might see it."""
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 12, 0.8)
    return cv2.warpAffine(image, turn, (width, height), borderValue=(255, 255, 255))


def inliers(query, points: np.ndarray, descriptors: np.ndarray, size: tuple[int, int]) -> int:
    query_idx, reference_idx = match_descriptors(query.descriptors, descriptors)
    found = verify(query.points[query_idx], points[reference_idx], (query.width, query.height), size)
    return found.inliers if found.verified else 0


@pytest.mark.parametrize("name", ["astronaut", "camera", "chelsea"])
def test_a_photo_verifies_against_its_records_decoded_descriptors(
    name: str, sample_images: dict, references: dict, codec: DescriptorCodec
) -> None:
    reference = references[name]
    query = SiftExtractor(max_side=QUERY_SIDE, max_features=2000).extract(photo(sample_images[name]))
    codes = codec.encode(reference.descriptors)
    assert len(codes) == CODE_BYTES * len(reference)
    decoded = codec.decode(codes)
    assert decoded.shape == reference.descriptors.shape and decoded.dtype == np.uint8
    size = (reference.width, reference.height)
    whole = inliers(query, reference.points, reference.descriptors, size)
    kept = inliers(query, reference.points, decoded, size)
    assert whole >= 30 and kept >= 0.7 * whole


def test_a_codec_survives_being_stored(references: dict, codec: DescriptorCodec) -> None:
    descriptors = references["coffee"].descriptors
    again = DescriptorCodec.from_bytes(codec.to_bytes())
    assert again.encode(descriptors) == codec.encode(descriptors)
    assert codec.decode(b"").shape == (0, 128) and codec.encode(descriptors[:0]) == b""
