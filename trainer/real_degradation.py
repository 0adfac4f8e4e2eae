"""`--degradation real`: photos as users bring them, in the style of Real-ESRGAN / BSRGAN, drawn per patch.

A plan is drawn first (every random choice, from the step's generator, so a patch is a pure function of
seed and step) and then applied to the HR patch:

* a share `clean_share` of patches is the plain MATLAB-bicubic pair (clean inputs must stay good);
* otherwise one or two rounds (the second with probability `second_round`), each: a blur with a kernel drawn
  among isotropic / anisotropic Gaussian, generalised Gaussian, plateau and sinc (ringing), a random resize
  (up, down or kept, with area / bilinear / bicubic), noise (Gaussian colour or grey, or Poisson at a sampled
  gain) and a JPEG pass at a random quality;
* then the final resize to the LR size (MATLAB bicubic half of the time, as most files are made, else area /
  bilinear / bicubic), an optional sinc filter, LR-domain noise (what a sensor adds) and
  the final JPEG at the LR size, whose block grid is therefore aligned with the LR pixels as in a real file.

JPEG is Pillow's encoder (real bytes, real quantisation tables), not a re-implementation.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tinyespcn_nodes.core.resize import matlab_imresize

KERNELS = ("iso", "aniso", "generalized", "plateau", "sinc")
RESIZE_MODES = ("area", "bilinear", "bicubic")
FINAL_MODES = ("matlab", *RESIZE_MODES)  # the final downscale: mostly the MATLAB bicubic files are made with
Range = tuple[float, float]


# ---- kernels ---------------------------------------------------------------------------------------------
def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.arange(size, dtype=torch.float64) - size // 2
    return torch.meshgrid(r, r, indexing="ij")


def _mahalanobis(size: int, sx: float, sy: float, theta: float) -> torch.Tensor:
    """x^T Σ^-1 x on a size² grid for Σ = R diag(sx², sy²) R^T."""
    yy, xx = _grid(size)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    return (u / sx) ** 2 + (v / sy) ** 2


def gaussian_kernel(size: int, sx: float, sy: float, theta: float, beta: float = 1.0) -> torch.Tensor:
    """(Generalised, for beta != 1) anisotropic Gaussian exp(-½ d^β), normalised to sum 1."""
    k = torch.exp(-0.5 * _mahalanobis(size, sx, sy, theta) ** beta)
    return k / k.sum()


def plateau_kernel(size: int, sx: float, sy: float, theta: float, beta: float) -> torch.Tensor:
    """Plateau-shaped 1 / (1 + d^β), normalised to sum 1."""
    k = 1.0 / (1.0 + _mahalanobis(size, sx, sy, theta) ** beta)
    return k / k.sum()


def sinc_kernel(size: int, cutoff: float) -> torch.Tensor:
    """Circular low-pass (2-D sinc, cutoff in radians per pixel): ringing/overshoot as sharpened files have."""
    yy, xx = _grid(size)
    r = torch.sqrt(xx**2 + yy**2)
    safe = torch.where(r == 0, torch.ones_like(r), r)
    k = cutoff * torch.special.bessel_j1(cutoff * safe) / (2 * math.pi * safe)
    k = torch.where(r == 0, torch.full_like(r, cutoff**2 / (4 * math.pi)), k)
    return k / k.sum()


def filter2d(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """2-D filter (correlation, as conv2d) of every channel of [B,C,H,W] with reflected borders, by FFT (exact in
    float64 and ~50x faster than a 21² depthwise conv on CPU); a kernel larger than the image is cut to it."""
    r = min(k.shape[-1] // 2, x.shape[-1] - 1, x.shape[-2] - 1)
    c0 = k.shape[-1] // 2
    k = k[c0 - r : c0 + r + 1, c0 - r : c0 + r + 1].to(x.dtype)
    k = k / k.sum()
    xp = F.pad(x, (r, r, r, r), mode="reflect")
    size = xp.shape[-2:]
    spectrum = torch.fft.rfft2(xp) * torch.fft.rfft2(k.flip(0, 1), s=size)
    return torch.fft.irfft2(spectrum, s=size)[..., 2 * r :, 2 * r :]


# ---- the pieces applied ----------------------------------------------------------------------------------
def jpeg_bytes(x: torch.Tensor, quality: int) -> bytes:
    """[1,3,H,W] in [0,1] → the bytes of a Pillow JPEG at this quality (4:2:0, as cameras and the web save)."""
    from PIL import Image

    arr = (x[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, "JPEG", quality=int(quality))
    return buf.getvalue()


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """x through a real JPEG encode/decode at `quality`."""
    from PIL import Image

    img = Image.open(io.BytesIO(jpeg_bytes(x, quality))).convert("RGB")
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].to(x.dtype) / 255.0


def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(size) == tuple(x.shape[-2:]):
        return x
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    down = size[0] < x.shape[-2]
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=down)


def add_noise(x: torch.Tensor, kind: str, level: float, grey: bool, g: torch.Generator) -> torch.Tensor:
    """Gaussian (level = std, units of full intensity) or Poisson (level = photons per unit intensity)."""
    if kind == "gaussian":
        shape = (x.shape[0], 1, *x.shape[2:]) if grey else x.shape
        return x + torch.randn(shape, generator=g, dtype=x.dtype) * level
    if grey:  # luminance shot noise, the same on every channel
        y = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True).clamp_min(0)
        return x + torch.poisson(y * level, generator=g) / level - y
    return torch.poisson(x.clamp_min(0) * level, generator=g) / level


# ---- the preset ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealDegradation:
    """Every range of the `real` preset (recorded in the exported file's training metadata)."""

    clean_share: float = 0.15  # plain bicubic pairs
    second_round: float = 0.1  # probability of a second degradation round
    kernel_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.08, 0.10)  # KERNELS
    blur_prob: tuple[float, float] = (0.5, 0.3)  # round 1, round 2
    blur_sigma: tuple[Range, Range] = ((0.2, 1.5), (0.2, 1.0))  # in pixels of the round's input (×scale/2)
    kernel_size: tuple[int, int] = (7, 21)  # odd sizes
    beta_generalized: Range = (0.5, 4.0)
    beta_plateau: Range = (1.0, 2.0)
    resize_probs: tuple[float, float, float] = (0.1, 0.3, 0.6)  # up, down, keep
    resize_range: tuple[Range, Range] = ((0.7, 1.2), (0.8, 1.1))
    noise_prob: tuple[float, float, float] = (0.1, 0.2, 0.4)  # round 1, round 2, final (LR)
    gaussian_sigma: Range = (1 / 255, 15 / 255)
    poisson_gain: Range = (200.0, 3000.0)  # photons per unit intensity, log-uniform
    poisson_share: float = 0.3
    grey_noise: float = 0.3
    jpeg_prob: tuple[float, float, float] = (0.1, 0.2, 0.9)  # round 1, round 2, final
    jpeg_quality: Range = (15, 90)
    final_modes: tuple[float, ...] = (3, 1, 1, 1)  # FINAL_MODES: MATLAB bicubic, area, bilinear, bicubic
    final_sinc: float = 0.1
    sinc_cutoff: Range = (math.pi / 3, math.pi)

    def __post_init__(self) -> None:
        probs = [self.clean_share, self.second_round, *self.blur_prob, *self.noise_prob, *self.jpeg_prob]
        probs += [self.poisson_share, self.grey_noise, self.final_sinc]
        if any(not 0 <= p <= 1 for p in probs):
            raise ValueError("real degradation: every probability must be within 0-1")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError(f"real degradation: jpeg_quality must be within 1-100, got {self.jpeg_quality}")
        lo, hi = self.kernel_size
        if lo % 2 == 0 or hi % 2 == 0 or not 3 <= lo <= hi:
            raise ValueError(f"real degradation: kernel_size must be odd sizes 3 <= min <= max, got {self.kernel_size}")

    # -- drawing
    def plan(self, scale: int, g: torch.Generator) -> list[tuple[str, dict]]:
        """Every random choice for one patch, as a list of (operation, parameters)."""
        u = lambda: float(torch.rand(1, generator=g, dtype=torch.float64))  # noqa: E731
        if u() < self.clean_share:
            return [("bicubic", {})]
        ops: list[tuple[str, dict]] = []
        rounds = 2 if u() < self.second_round else 1
        for r in range(rounds):
            if u() < self.blur_prob[r]:
                ops.append(("blur", self._kernel(r, scale, u)))
            ops.append(("resize", self._resize(r, u)))
            if u() < self.noise_prob[r]:
                ops.append(("noise", self._noise(u)))
            if u() < self.jpeg_prob[r]:
                ops.append(("jpeg", {"quality": self._quality(u)}))
        ops.append(("final", {"mode": FINAL_MODES[_pick(u(), self.final_modes)]}))
        if u() < self.final_sinc:
            size = 2 * round(_lerp(self.kernel_size, u()) / 2 - 0.5) + 1
            ops.append(("blur", {"kind": "sinc", "size": size, "cutoff": _lerp(self.sinc_cutoff, u())}))
        if u() < self.noise_prob[2]:
            ops.append(("noise", self._noise(u)))
        if u() < self.jpeg_prob[2]:
            ops.append(("jpeg", {"quality": self._quality(u)}))
        return ops

    def _kernel(self, r: int, scale: int, u) -> dict:
        kind = KERNELS[_pick(u(), self.kernel_probs)]
        size = 2 * round(_lerp(self.kernel_size, u()) / 2 - 0.5) + 1
        if kind == "sinc":
            return {"kind": kind, "size": size, "cutoff": _lerp(self.sinc_cutoff, u())}
        stretch = max(1.0, scale / 2) if r == 0 else 1.0  # x4 inputs see a wider blur than x2 ones
        sx = _lerp(self.blur_sigma[r], u()) * stretch
        sy = sx if kind == "iso" else _lerp(self.blur_sigma[r], u()) * stretch
        params = {"kind": kind, "size": size, "sx": sx, "sy": sy, "theta": u() * math.pi if kind != "iso" else 0.0}
        if kind in ("generalized", "plateau"):
            params["beta"] = _lerp(self.beta_generalized if kind == "generalized" else self.beta_plateau, u())
        return params

    def _resize(self, r: int, u) -> dict:
        lo, hi = self.resize_range[r]
        way = _pick(u(), self.resize_probs)
        factor = (_lerp((1.0, hi), u()), _lerp((lo, 1.0), u()), 1.0)[way]
        return {"factor": factor, "mode": RESIZE_MODES[_pick(u(), (1, 1, 1))]}

    def _noise(self, u) -> dict:
        grey = u() < self.grey_noise
        if u() < self.poisson_share:
            lo, hi = map(math.log, self.poisson_gain)
            return {"kind": "poisson", "level": math.exp(lo + (hi - lo) * u()), "grey": grey}
        return {"kind": "gaussian", "level": _lerp(self.gaussian_sigma, u()), "grey": grey}

    def _quality(self, u) -> int:
        lo, hi = self.jpeg_quality
        return int(min(hi, lo + math.floor((hi - lo + 1) * u())))

    # -- applying
    def apply(self, hr: torch.Tensor, scale: int, ops: list[tuple[str, dict]], g: torch.Generator) -> torch.Tensor:
        """HR [1,3,sH,sW] in [0,1] → LR [1,3,H,W] in [0,1], quantised to 8 bit, float64."""
        hr = hr.double()
        out = (hr.shape[-2] // scale, hr.shape[-1] // scale)
        x = hr
        for name, p in ops:
            if name == "bicubic":
                x = matlab_imresize(hr, scale=1.0 / scale)
            elif name == "blur":
                x = filter2d(x, _make_kernel(p))
            elif name == "resize":
                size = (max(out[0], round(x.shape[-2] * p["factor"])), max(out[1], round(x.shape[-1] * p["factor"])))
                x = resize(x, size, p["mode"])
            elif name == "noise":
                x = add_noise(x, p["kind"], p["level"], p["grey"], g)
            elif name == "jpeg":
                x = jpeg(x, p["quality"])
            elif name == "final" and x.shape[-2:] != out:
                if p["mode"] == "matlab":
                    x = matlab_imresize(x, size=out)
                else:
                    x = resize(x, out, p["mode"])
            x = x.clamp(0, 1)
        return (x * 255).round() / 255

    def __call__(self, hr: torch.Tensor, scale: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """HR [1,3,sH,sW] in [0,1] → (LR, the HR target unchanged), float64; the same (hr, g state) → the same LR."""
        return self.apply(hr, scale, self.plan(scale, g), g), hr.double()


def _make_kernel(p: dict) -> torch.Tensor:
    if p["kind"] == "sinc":
        return sinc_kernel(p["size"], p["cutoff"])
    if p["kind"] == "plateau":
        return plateau_kernel(p["size"], p["sx"], p["sy"], p["theta"], p["beta"])
    return gaussian_kernel(p["size"], p["sx"], p["sy"], p["theta"], p.get("beta", 1.0))


def _lerp(rng, t: float) -> float:
    return rng[0] + (rng[1] - rng[0]) * t


def _pick(t: float, weights) -> int:
    total, acc = sum(weights), 0.0
    for i, w in enumerate(weights):
        acc += w / total
        if t < acc:
            return i
    return len(weights) - 1
