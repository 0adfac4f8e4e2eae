"""The fixed real-photo test cases: what `trainer bench --photo` measures and `--degradation real` runs validate on.

Each case turns a clean evaluation pair into a degraded one, deterministically (noise seeded by the image
name), with the LR still the size of the MATLAB-bicubic one so every model and bicubic see the same input:

* clean: the standard MATLAB-bicubic LR;
* heavy JPEG: that LR saved as a Pillow JPEG at quality 20;
* moderate JPEG: quality 50;
* noise + JPEG: Gaussian colour noise σ = 8/255 on the LR, then JPEG quality 70;
* blur + JPEG: Gaussian blur σ = 0.5·scale HR pixels before the downscale (a soft lens or scan), then JPEG 60.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import torch

from .evaluate import Pair
from .patches import gaussian_blur
from .real_degradation import jpeg

CASES = ("clean", "heavy JPEG", "moderate JPEG", "noise + JPEG", "blur + JPEG")


@dataclass(frozen=True)
class Case:
    name: str
    quality: int = 0  # 0 = no JPEG
    noise: float = 0.0  # Gaussian std on the LR, units of full intensity
    blur: float = 0.0  # Gaussian sigma before the downscale, in units of the scale (HR px = blur · scale)


SPECS = {
    "clean": Case("clean"),
    "heavy JPEG": Case("heavy JPEG", quality=20),
    "moderate JPEG": Case("moderate JPEG", quality=50),
    "noise + JPEG": Case("noise + JPEG", quality=70, noise=8 / 255),
    "blur + JPEG": Case("blur + JPEG", quality=60, blur=0.5),
}


def degrade_pair(pair: Pair, scale: int, case: str) -> Pair:
    """The pair with its LR degraded as `case` says (the HR target untouched)."""
    from tinyespcn_nodes.core.resize import matlab_imresize

    spec = SPECS[case]
    lr = pair.lr.double()
    if spec.blur:
        lr = matlab_imresize(gaussian_blur(pair.hr.double(), spec.blur * scale), scale=1.0 / scale)
        lr = (lr.clamp(0, 1) * 255).round() / 255
    if spec.noise:
        g = torch.Generator().manual_seed(zlib.crc32(pair.name.encode()))
        lr = lr + torch.randn(lr.shape, generator=g, dtype=lr.dtype) * spec.noise
        lr = (lr.clamp(0, 1) * 255).round() / 255
    if spec.quality:
        lr = jpeg(lr.clamp(0, 1), spec.quality)
    return replace(pair, lr=lr.float())


def mixed_cases(pairs: list[Pair], scale: int) -> list[Pair]:
    """One validation set covering every case: image i gets case i mod 5 (what a `real` run picks its best by)."""
    return [degrade_pair(p, scale, CASES[i % len(CASES)]) for i, p in enumerate(pairs)]
