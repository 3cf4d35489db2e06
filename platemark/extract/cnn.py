"""Global image descriptor: ImageNet EfficientNet-Lite0 features, GeM-pooled.

The global descriptor only builds a shortlist; the local stage decides what matches.
"""

from __future__ import annotations

import contextlib
import io
from functools import cached_property
from typing import TYPE_CHECKING

import cv2
import numpy as np

from platemark.extract.weights import WEIGHTS

if TYPE_CHECKING:
    import torch


class CNNExtractor:
    """Turn an RGB image into an L2-normalised float32 vector (1280 values).

    The image is resized so its short side is `short_side` pixels (aspect kept), its long side
    at most `MAX_ASPECT` times that (a long strip would otherwise make a huge input), and the
    last convolution map is pooled with generalised mean (p=3). Mirrored scans
    are the local stage's job (it retries with the flipped photo).

    Example:
        >>> vector = CNNExtractor().extract(load_image("print.jpg"))
    """

    name = "efficientnet-lite0-gem"
    version = 1
    dim = 1280
    #: Longest input side, in multiples of `short_side`: bounds the network's memory and time.
    MAX_ASPECT = 4

    def __init__(self, short_side: int = 224, gem_p: float = 3.0, threads: int | None = None) -> None:
        self.short_side = short_side
        self.gem_p = gem_p
        self.threads = threads

    @cached_property
    def _model(self) -> torch.nn.Module:
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        if self.threads:
            torch.set_num_threads(self.threads)
        weights = WEIGHTS["efficientnet-lite0"]
        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a banner
            model = EfficientNet.from_pretrained(weights.model_name, weights_path=str(weights.path()))
        return model.eval()

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        import torch

        height, width = rgb.shape[:2]
        scale = min(self.short_side / min(height, width), self.MAX_ASPECT * self.short_side / max(height, width))
        size = (max(32, round(width * scale)), max(32, round(height * scale)))
        resized = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        array = (resized.astype(np.float32) - 127.5) / 127.5
        return torch.from_numpy(array.transpose(2, 0, 1)).unsqueeze(0)

    def extract(self, rgb: np.ndarray) -> np.ndarray:
        """Global descriptor of one RGB image, shape (dim,), unit length."""
        import torch

        with torch.inference_mode():
            fmap = self._model.extract_features(self._tensor(rgb)).clamp(min=1e-6)
            pooled = fmap.pow(self.gem_p).mean(dim=(2, 3)).pow(1.0 / self.gem_p)
        vector = pooled[0].numpy().astype(np.float32)
        return vector / (np.linalg.norm(vector) + 1e-12)
