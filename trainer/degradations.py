"""How LR training inputs are made from HR patches.

* `real`: photos as users bring them (blur, resize, noise, JPEG; Real-ESRGAN style): trainer/real_degradation.py.

* `bicubic` (the default): MATLAB bicubic of the HR (precomputed per image, see `patches.make_lr`).
* `microscopy`: what a widefield/confocal camera does to the true signal, drawn per patch: Gaussian PSF blur
  (a Gaussian approximates the Airy disc's core, sigma ≈ 0.21·λ/NA in HR pixels), area binning by the
  scale (the camera's larger pixels), a background offset, Poisson photon noise at a sampled gain (photons
  per unit intensity) and Gaussian read noise. The HR target carries the same background (it is part of the
  sample), but neither blur nor noise. Every range is an option and is recorded in the exported file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

DEGRADATIONS = ("bicubic", "microscopy", "real")  # real: trainer/real_degradation.py


def gaussian_psf(sigma: float, dtype=torch.float64) -> torch.Tensor:
    """Normalised 1-D Gaussian taps out to 4 sigma (energy 1: the blur keeps the total signal)."""
    radius = max(1, math.ceil(4 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=dtype)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def psf_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [B,C,H,W] with reflected borders."""
    if sigma <= 0:
        return x
    g = gaussian_psf(sigma, x.dtype).to(x.device)
    r, c = g.numel() // 2, x.shape[1]
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _uniform(rng: tuple[float, float], g: torch.Generator) -> float:
    lo, hi = rng
    return lo + (hi - lo) * float(torch.rand(1, generator=g))


@dataclass(frozen=True)
class Microscopy:
    psf_sigma: tuple[float, float] = (0.6, 1.6)  # HR pixels
    gain: tuple[float, float] = (20.0, 400.0)  # photons per unit intensity (higher = less shot noise)
    read_noise: tuple[float, float] = (0.002, 0.02)  # standard deviation, in units of full intensity
    background: tuple[float, float] = (0.0, 0.05)

    def __post_init__(self) -> None:
        for name in ("psf_sigma", "gain", "read_noise", "background"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi or (name == "gain" and lo <= 0):
                raise ValueError(f"{name} must be a range 0 <= min <= max (gain > 0), got [{lo}, {hi}]")

    def __call__(self, hr: torch.Tensor, scale: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """HR [1,C,sH,sW] in [0,1] → (LR [1,C,H,W], HR target with the same background), float64."""
        hr = hr.double()
        background = _uniform(self.background, g)
        signal = psf_blur(hr + background, _uniform(self.psf_sigma, g))
        binned = F.avg_pool2d(signal, scale)
        gain = _uniform(self.gain, g)
        photons = torch.poisson(binned.clamp_min(0) * gain, generator=g)
        read = torch.randn(binned.shape, generator=g, dtype=binned.dtype) * _uniform(self.read_noise, g)
        return photons / gain + read, hr + background
