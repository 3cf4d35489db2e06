"""Synthetic global descriptors, for measuring search at catalog sizes no real collection here has."""

from __future__ import annotations

import numpy as np


def unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, as float32."""
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def mixed_descriptors(real: np.ndarray, count: int, rng: np.random.Generator, noise: float = 0.5) -> np.ndarray:
    """`count` unit vectors near the real ones: a random mix of two real descriptors (weight
    0.5-1 on the first) plus Gaussian noise of norm `noise`, renormalised.

    Example:
        >>> fake = mixed_descriptors(real_vectors, 100_000, np.random.default_rng(0))
    """
    first, second = real[rng.integers(len(real), size=count)], real[rng.integers(len(real), size=count)]
    weight = rng.uniform(0.5, 1.0, size=(count, 1)).astype(np.float32)
    return unit(weight * first + (1 - weight) * second + unit(rng.normal(size=(count, real.shape[1]))) * noise)
