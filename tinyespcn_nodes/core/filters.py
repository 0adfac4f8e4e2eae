"""Post-processing filters as pure torch ops on [B,C,H,W] with Pillow semantics.

* `gaussian_blur`: Pillow's `GaussianBlur(radius)` = 3 passes of an extended box blur (Gwosdek et al.),
  edge-replicated, horizontal passes first. `radius` is the Gaussian's standard deviation, as in Pillow.
* `unsharp_mask`: `PIL.ImageFilter.UnsharpMask(radius, percent, threshold)`; threshold in 8-bit levels.
* `msaa_antialias`: Lanczos ×k up → Gaussian blur → Lanczos down, the seed's MSAA pass, in tiles.

All compute in float32 and return the input dtype and device; values are clamped to [0,1]. The fourth
channel of an RGBA tensor (alpha) passes through untouched. `levels` is the integer grid Pillow's 8-bit
arithmetic rounds to between stages (255, the default, gives Pillow parity on 8-bit images); pass 65535
for 16-bit data or None for pure float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .resize import pil_resize, quantize_levels_, round_grid_, rows_conv, transposed

BOX_PASSES = 3


def _check(x: torch.Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name}: expected [B,C,H,W], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating tensor in [0,1], got {x.dtype}")


def box_radius(sigma: float, passes: int = BOX_PASSES) -> float:
    """Pillow's `_gaussian_blur_radius`: extended-box radius whose `passes`-fold repetition has variance sigma²."""
    sigma2 = sigma * sigma / passes
    length = math.sqrt(12.0 * sigma2 + 1.0)
    whole = math.floor((length - 1.0) / 2.0)
    frac = (2 * whole + 1) * (whole * (whole + 1) - 3 * sigma2)
    frac /= 6 * (sigma2 - (whole + 1) * (whole + 1))
    return whole + frac


def _box_kernel(radius: float, device, dtype=torch.float32) -> torch.Tensor:
    whole = int(radius)
    frac = radius - whole
    k = torch.ones(2 * whole + 3, device=device, dtype=dtype)
    k[0] = k[-1] = frac
    return k / (2 * radius + 1)


def blur_margin(sigma: float) -> int:
    """Pixels of context one Pillow Gaussian blur needs on each side."""
    return (int(box_radius(sigma)) + 1) * BOX_PASSES if sigma > 0 else 0


def gaussian_blur(x: torch.Tensor, radius: float, levels: int | None = None, grid_units: bool = False) -> torch.Tensor:
    """Pillow `ImageFilter.GaussianBlur(radius)` on float [B,C,H,W] (each pass rounded to `levels` if given).

    `grid_units`: `x` is scaled to 0..levels, as in `pil_resize`.
    """
    _check(x, "gaussian_blur")
    if radius < 0:
        raise ValueError(f"gaussian_blur: radius must be >= 0, got {radius}")
    if radius == 0 or x.numel() == 0:
        return x.clone()
    dtype = x.dtype
    b, c, h, w = x.shape
    r = box_radius(radius)
    k = _box_kernel(r, x.device)
    pad = k.numel() // 2
    # Pillow's horizontal passes come first: run them along H of the transpose, where the conv is fast
    y = transposed(x.float().reshape(b * c, h, w))
    for i in range(2 * BOX_PASSES):
        if i == BOX_PASSES:
            y = transposed(y)
        y = _box_pass(y, k, pad)
        if levels and not grid_units:
            quantize_levels_(y, levels)
        elif levels:  # box weights are positive: after the first clamp every pass stays on 0..levels
            round_grid_(y, levels) if i == 0 else y.round_()
    return y.reshape(b, c, h, w).to(dtype)


def _box_pass(x: torch.Tensor, k: torch.Tensor, pad: int) -> torch.Tensor:
    """1-D correlation along H of a [N, H, W] float32 tensor with edge replication (Pillow's box blur): one
    zero-padded depthwise conv, then the few edge rows get the taps that fell outside, times the edge row."""
    size = x.shape[-2]
    y = rows_conv(x, k, 0, size, pad=pad)
    taps = k.tolist()
    for r in sorted({*range(min(pad, size)), *range(max(0, size - pad), size)}):
        above = sum(taps[: max(0, pad - r)])  # taps j with r + j − pad < 0
        below = sum(taps[max(0, size - 1 - r + pad + 1) :])  # taps j with r + j − pad > size − 1
        if above:
            y[:, r].add_(x[:, 0], alpha=above)
        if below:
            y[:, r].add_(x[:, size - 1], alpha=below)
    return y


def unsharp_mask(
    x: torch.Tensor, radius: float = 1.2, percent: float = 100, threshold: int = 1, levels: int | None = 255
) -> torch.Tensor:
    """Pillow `UnsharpMask`: where |x − blur| ≥ threshold/255, x + (x − blur)·percent/100, clipped.

    With `levels`, the blur is rounded per pass and the amplified difference truncated toward zero on that
    grid, reproducing Pillow's integer arithmetic (`in + diff * percent / 100` in C).
    """
    _check(x, "unsharp_mask")
    if radius < 0:
        raise ValueError(f"unsharp_mask: radius must be >= 0, got {radius}")
    if percent < 0:
        raise ValueError(f"unsharp_mask: percent must be >= 0, got {percent}")
    if threshold < 0:
        raise ValueError(f"unsharp_mask: threshold must be >= 0, got {threshold}")
    if x.numel() == 0:
        return x.clone()
    top = levels or 1  # the value of white: work in grid units when rounding to a grid, as Pillow's integers do
    color = x[:, :3].float() * top  # a new tensor: the steps below work in place
    diff = color - gaussian_blur(color, radius, levels, grid_units=True)
    mask = diff.abs() >= (threshold - 1e-3) * top / 255.0  # threshold is in 8-bit levels whatever the data depth
    boost = diff.mul_(percent / 100.0)
    if levels:  # C's integer division truncates toward zero
        boost.add_(torch.sign(boost), alpha=1e-4).trunc_()
    sharpened = color.add_(boost.mul_(mask))
    out = x.clone()
    out[:, :3] = sharpened.clamp_(0, top).div_(top).to(x.dtype)
    return out


def _msaa_core(x: torch.Tensor, supersample: int, blur_radius: float, levels: int | None) -> torch.Tensor:
    h, w = x.shape[-2:]
    top = levels or 1  # grid units between the stages: each rounding is two passes, not four
    up = pil_resize(x * top, (h * supersample, w * supersample), "lanczos", levels, grid_units=True)
    if blur_radius > 0:
        up = gaussian_blur(up, blur_radius, levels, grid_units=True)
    return pil_resize(up, (h, w), "lanczos", levels, grid_units=True).div_(top)


def msaa_margin(supersample: int, blur_radius: float) -> int:
    """Input pixels of context one MSAA tile needs: Lanczos up (3) + blur at ×k + Lanczos down (3) + 1."""
    return 3 + math.ceil(blur_margin(blur_radius) / supersample) + 3 + 1


def msaa_antialias(
    x: torch.Tensor, supersample: int = 2, blur_radius: float = 0.5, tile: int = 512, levels: int | None = 255
) -> torch.Tensor:
    """Seed MSAA post-process: Pillow LANCZOS ×k → GaussianBlur(r) → LANCZOS back, tile by tile.

    Each tile carries `msaa_margin` pixels of real context, so the result equals the untiled pipeline while
    the supersampled buffer is only (tile·k)² per channel, never (H·k)×(W·k).
    """
    _check(x, "msaa_antialias")
    if not isinstance(supersample, int) or not 1 <= supersample <= 4:
        raise ValueError(f"msaa_antialias: supersample must be an integer in 1..4, got {supersample!r}")
    if blur_radius < 0:
        raise ValueError(f"msaa_antialias: blur_radius must be >= 0, got {blur_radius}")
    if tile < 16:
        raise ValueError(f"msaa_antialias: tile must be >= 16, got {tile}")
    if x.numel() == 0:
        return x.clone()
    out = x.clone()
    color = x[:, :3]
    h, w = color.shape[-2:]
    m = msaa_margin(supersample, blur_radius)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
            a0, a1, b0, b1 = max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)
            res = _msaa_core(color[:, :, a0:a1, b0:b1].float(), supersample, blur_radius, levels).clamp_(0, 1)
            out[:, :3, y0:y1, x0:x1] = res[:, :, y0 - a0 : y1 - a0, x0 - b0 : x1 - b0].to(x.dtype)
    return out


@dataclass(frozen=True)
class PostProcess:
    """The seed's post-processing chain with Pillow's defaults."""

    sharpen: bool = False
    radius: float = 1.2
    percent: float = 100.0
    threshold: int = 1
    antialias: bool = False
    supersample: int = 2
    blur_radius: float = 0.5
    levels: int | None = 255

    @property
    def active(self) -> bool:
        return self.sharpen or self.antialias

    @property
    def margin(self) -> int:
        m = blur_margin(self.radius) + 2 if self.sharpen else 0
        return m + (msaa_margin(self.supersample, self.blur_radius) if self.antialias else 0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.sharpen:
            x = unsharp_mask(x, self.radius, self.percent, self.threshold, self.levels)
        if self.antialias:
            x = msaa_antialias(x, self.supersample, self.blur_radius, levels=self.levels)
        return x
