"""Standard SR metrics: BT.601 Y (MATLAB rgb2ycbcr), PSNR and SSIM with a `border`-pixel shave."""

from __future__ import annotations

import math

import torch


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] RGB in [0,1] → [..., 1, H, W] Y in [0,1] (16..235 studio range, MATLAB rgb2ycbcr)."""
    r, g, b = rgb.unbind(dim=-3)
    y = (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return y.unsqueeze(-3)


def _shave(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border : x.shape[-2] - border, border : x.shape[-1] - border] if border else x


def psnr(pred: torch.Tensor, target: torch.Tensor, border: int = 0, y_channel: bool = True) -> float:
    """PSNR in dB over a single image pair [C,H,W] or [1,C,H,W] in [0,1], computed in float64."""
    if pred.shape != target.shape:
        raise ValueError(f"psnr: shapes differ {tuple(pred.shape)} vs {tuple(target.shape)}")
    p, t = pred.double(), target.double()
    if y_channel and p.shape[-3] == 3:
        p, t = rgb_to_y(p), rgb_to_y(t)
    mse = torch.mean((_shave(p, border) - _shave(t, border)) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _gaussian_filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """'valid' 2-D Gaussian as two 1-D passes of unfold @ g (float64 depthwise conv2d is very slow on CPU)."""
    return x.unfold(-1, g.numel(), 1).matmul(g).unfold(-2, g.numel(), 1).matmul(g)


def ssim(pred: torch.Tensor, target: torch.Tensor, border: int = 0, y_channel: bool = True) -> float:
    """Wang et al. SSIM (11×11 Gaussian σ=1.5, valid window, data range 255) as in BasicSR `calculate_ssim`."""
    p, t = pred.double(), target.double()
    if p.dim() == 3:
        p, t = p[None], t[None]
    if y_channel and p.shape[-3] == 3:
        p, t = rgb_to_y(p), rgb_to_y(t)
    p, t = _shave(p, border) * 255.0, _shave(t, border) * 255.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gaussian_1d().to(p)
    mu_p = _gaussian_filter_valid(p, g)
    mu_t = _gaussian_filter_valid(t, g)
    var_p = _gaussian_filter_valid(p * p, g) - mu_p**2
    var_t = _gaussian_filter_valid(t * t, g) - mu_t**2
    cov = _gaussian_filter_valid(p * t, g) - mu_p * mu_t
    num = (2 * mu_p * mu_t + c1) * (2 * cov + c2)
    den = (mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2)
    return float((num / den).mean().item())
