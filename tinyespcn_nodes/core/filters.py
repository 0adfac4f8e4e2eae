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

import torch

from .resize import accumulate_, pil_resize, quantize_levels_

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


def gaussian_blur(x: torch.Tensor, radius: float, levels: int | None = None) -> torch.Tensor:
    """Pillow `ImageFilter.GaussianBlur(radius)` on float [B,C,H,W] (each pass rounded to `levels` if given)."""
    _check(x, "gaussian_blur")
    if radius < 0:
        raise ValueError(f"gaussian_blur: radius must be >= 0, got {radius}")
    if radius == 0 or x.numel() == 0:
        return x.clone()
    dtype = x.dtype
    y = x.float()
    b, c, h, w = y.shape
    r = box_radius(radius)
    k = _box_kernel(r, y.device)
    pad = k.numel() // 2
    y = y.reshape(b * c, 1, h, w)
    taps = k.tolist()
    for dim in (-1, -2):  # Pillow: horizontal passes first
        for _ in range(BOX_PASSES):
            y = _shifted_sum(y, taps, dim, pad)
            if levels:
                quantize_levels_(y, levels)
    return y.reshape(b, c, h, w).to(dtype)


def _shifted_sum(x: torch.Tensor, k: list[float], dim: int, pad: int) -> torch.Tensor:
    """1-D correlation with edge replication as weighted shifted views, no padded copy (a 1-channel conv2d
    is slow): tap i reads offset i − pad; reads past an edge take the edge value."""
    size = x.shape[dim]
    out = torch.empty_like(x)
    for i, weight in enumerate(k):
        d = i - pad
        lo, hi = min(size, max(0, -d)), max(0, size - max(0, d))  # outputs whose source lies inside the image
        if hi > lo:
            accumulate_(out.narrow(dim, lo, hi - lo), x.narrow(dim, lo + d, hi - lo), weight, i == 0)
        start, length, edge = (0, lo, 0) if d < 0 else (hi, size - hi, size - 1)  # beyond an edge: its value
        if d and length > 0:
            dst = out.narrow(dim, start, length)
            accumulate_(dst, x.narrow(dim, edge, 1).expand_as(dst), weight, i == 0)
    return out


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
    color = x[:, :3].float()
    diff = color - gaussian_blur(color, radius, levels)
    mask = diff.abs() * 255.0 >= threshold - 1e-3  # threshold is in 8-bit levels whatever the data depth
    boost = diff * (percent / 100.0)
    if levels:
        boost = torch.trunc(boost * levels + torch.sign(boost) * 1e-4) / levels
    sharpened = torch.where(mask, color + boost, color).clamp_(0, 1)
    out = x.clone()
    out[:, :3] = sharpened.to(x.dtype)
    return out


def _msaa_core(x: torch.Tensor, supersample: int, blur_radius: float, levels: int | None) -> torch.Tensor:
    h, w = x.shape[-2:]
    up = pil_resize(x, (h * supersample, w * supersample), "lanczos", levels)
    if blur_radius > 0:
        up = gaussian_blur(up, blur_radius, levels)
    return pil_resize(up, (h, w), "lanczos", levels)


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
