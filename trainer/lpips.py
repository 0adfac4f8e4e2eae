"""LPIPS v0.1 (AlexNet) in plain torch: torchvision-format AlexNet features + the published linear heads.

Zhang et al. 2018, richzhang/PerceptualSimilarity `lpips/lpips.py`: inputs in [-1, 1] go through the
ScalingLayer, the five ReLU outputs are unit-normalised over channels, their squared difference is
weighted by a 1×1 conv (no bias), averaged over space and summed over layers. Lower is more similar.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tinyespcn_nodes.core.shared import shared_path

from .features import alexnet_features, load_features

SHARED_WEIGHTS = shared_path("weights")
ALEX_TAPS = (1, 4, 7, 9, 11)  # relu1 … relu5 in torchvision's alexnet.features
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


class LPIPS(nn.Module):
    def __init__(self, features_path: str | Path, heads_path: str | Path) -> None:
        super().__init__()
        from safetensors.torch import load_file

        self.features = load_features(alexnet_features(), features_path)
        heads_path = Path(heads_path)
        if not heads_path.is_file():
            raise FileNotFoundError(f"LPIPS heads not found: {heads_path}")
        heads = load_file(str(heads_path))
        self.heads = nn.ParameterList()
        for i, channels in enumerate((64, 192, 384, 256, 256)):
            key = f"lin{i}.model.1.weight"
            if key not in heads or tuple(heads[key].shape) != (1, channels, 1, 1):
                raise ValueError(f"{heads_path}: expected tensor {key} of shape (1, {channels}, 1, 1)")
            self.heads.append(nn.Parameter(heads[key].float(), requires_grad=False))
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in ALEX_TAPS:
                out.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a, b: [B,3,H,W] RGB in [0, 1]; returns [B] distances."""
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(
                f"LPIPS needs two [B,3,H,W] images of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
            )
        return self.compare(self.embed(a), self.embed(b))

    def embed(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised AlexNet taps of an RGB batch in [0, 1]."""
        return self._taps(((x * 2 - 1) - self.shift) / self.scale)

    def compare(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        """[B] distances between two images' `embed`dings."""
        total = torch.zeros(fa[0].shape[0], device=fa[0].device)
        for w, x, y in zip(self.heads, fa, fb):
            total = total + torch.nn.functional.conv2d((x - y).pow(2), w).mean(dim=(1, 2, 3))
        return total


class TargetCache:
    """LPIPS(a, b) with the features of each target `b` computed once: a bench compares many outputs with the
    same HR image, so this halves its LPIPS time. Targets are recognised by identity (the same tensor object);
    the `limit` most recent are kept."""

    def __init__(self, lpips: LPIPS, limit: int = 64) -> None:
        self.lpips, self.limit = lpips, limit
        self._cache: dict[int, tuple[torch.Tensor, list[torch.Tensor]]] = {}

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape:
            return self.lpips(a, b)  # the one clear shape error
        entry = self._cache.pop(id(b), None)
        if entry is None or entry[0] is not b:
            entry = (b, self.lpips.embed(b))
        self._cache[id(b)] = entry  # most recent last
        while len(self._cache) > self.limit:
            self._cache.pop(next(iter(self._cache)))
        return self.lpips.compare(self.lpips.embed(a), entry[1])


def shared_lpips(root: Path = SHARED_WEIGHTS) -> LPIPS | None:
    """LPIPS from `../shared/weights` when both files are there, else None (the column is then left out)."""
    features, heads = root / "alexnet_features.safetensors", root / "lpips_v0.1_alex_linear.safetensors"
    if not (features.is_file() and heads.is_file()):
        return None
    return LPIPS(features, heads)
