"""Training losses, each differentiable end to end, and the seed-named presets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .features import imagenet_normalize, load_features, vgg_features

VGG_TAPS = (2, 7, 12)  # conv1_2, conv2_2, conv3_2 before their ReLU (same indices in VGG16 and VGG19)
BUNDLED_VGG = Path(__file__).resolve().parent / "assets" / "vgg16_features_conv3_2.safetensors"


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


class VGGPerceptual(nn.Module):
    """Sum of L1 distances at the pre-ReLU taps; the stack stops at the last tap (no wasted layers)."""

    def __init__(self, weights: str | Path = BUNDLED_VGG, arch: str = "vgg16", taps: tuple[int, ...] = VGG_TAPS):
        super().__init__()
        self.taps = taps
        self.net = load_features(vgg_features(arch, last_index=max(taps)), weights)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x, y = imagenet_normalize(pred.clamp(0, 1)), imagenet_normalize(target)
        total = pred.new_zeros(())
        for i, layer in enumerate(self.net):
            x, y = layer(x), layer(y)
            if i in self.taps:
                total = total + F.l1_loss(x, y)
        return total


_SOBEL_X = [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
_SOBEL_Y = [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]
_LAPLACE = [[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]


def edge_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 of Sobel-x, Sobel-y and 4-neighbour Laplacian responses, per channel, zero padding (seed §1.3)."""
    c = pred.shape[1]
    total = pred.new_zeros(())
    for k in (_SOBEL_X, _SOBEL_Y, _LAPLACE):
        w = torch.tensor(k, device=pred.device, dtype=pred.dtype).expand(c, 1, 3, 3)
        total = total + F.l1_loss(F.conv2d(pred, w, padding=1, groups=c), F.conv2d(target, w, padding=1, groups=c))
    return total


_XYZ_FROM_RGB = [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
_D65_WHITE = (0.95047, 1.0, 1.08883)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Differentiable sRGB [B,3,H,W] in [0,1] → CIE Lab (D65, 2°), same constants as `skimage.color.rgb2lab`."""
    rgb = rgb.clamp(0, 1)
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).clamp_min(1e-12) ** 2.4, rgb / 12.92)
    m = torch.tensor(_XYZ_FROM_RGB, device=rgb.device, dtype=rgb.dtype)
    xyz = torch.einsum("ij,bjhw->bihw", m, lin)
    white = torch.tensor(_D65_WHITE, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    t = xyz / white
    f = torch.where(t > 0.008856, t.clamp_min(0.008856) ** (1 / 3), 7.787 * t + 16 / 116)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 in Lab scaled by 1/100 (so L spans ~[0,1]); has a gradient, unlike the seed's detached version."""
    return F.l1_loss(rgb_to_lab(pred), rgb_to_lab(target)) / 100.0


def _gauss_window(channels: int, device, dtype, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    c = torch.arange(size, device=device, dtype=dtype) - size // 2
    g = torch.exp(-(c**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).expand(channels, 1, size, size)


def ssim_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    c = pred.shape[1]
    win = _gauss_window(c, pred.device, pred.dtype)
    mu_x, mu_y = F.conv2d(pred, win, groups=c), F.conv2d(target, win, groups=c)
    sxx = F.conv2d(pred * pred, win, groups=c) - mu_x**2
    syy = F.conv2d(target * target, win, groups=c) - mu_y**2
    sxy = F.conv2d(pred * target, win, groups=c) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))


def dssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(1 − SSIM)/2 with an 11×11 σ=1.5 Gaussian window, data range 1 (seed 004)."""
    return (1 - ssim_map(pred, target).mean()) / 2


@dataclass(frozen=True)
class LossWeights:
    l1: float = 0.0
    mse: float = 0.0
    charbonnier: float = 0.0
    vgg: float = 0.0
    edge: float = 0.0
    lab: float = 0.0
    dssim: float = 0.0


PRESETS = {
    "psnr": LossWeights(l1=1.0),
    "psnr-mse": LossWeights(mse=1.0),  # L2 fine-tune after L1: PSNR is an MSE measure
    "seed-readme": LossWeights(l1=0.6, vgg=0.2, edge=0.1, lab=0.1),
    "seed-paper": LossWeights(vgg=1.0, edge=0.2, lab=0.1),
    "dssim": LossWeights(dssim=1.0),  # seed 004: (1 − SSIM)/2 alone
}


class CombinedLoss(nn.Module):
    """Weighted sum; returns (total, {name: value tensor}) with no host sync."""

    def __init__(self, weights: LossWeights, vgg_weights: str | Path = BUNDLED_VGG, vgg_arch: str = "vgg16"):
        super().__init__()
        self.weights = weights
        if not any(getattr(weights, f) for f in weights.__dataclass_fields__):
            raise ValueError("every loss weight is zero: nothing to train")
        self.vgg = VGGPerceptual(vgg_weights, vgg_arch) if weights.vgg else None

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        w = self.weights
        parts: dict[str, torch.Tensor] = {}
        if w.l1:
            parts["l1"] = F.l1_loss(pred, target)
        if w.mse:
            parts["mse"] = F.mse_loss(pred, target)
        if w.charbonnier:
            parts["charbonnier"] = charbonnier(pred, target)
        if w.vgg:
            parts["vgg"] = self.vgg(pred, target)
        if w.edge:
            parts["edge"] = edge_loss(pred, target)
        if w.lab:
            parts["lab"] = lab_loss(pred, target)
        if w.dssim:
            parts["dssim"] = dssim_loss(pred, target)
        total = sum(getattr(w, k) * v for k, v in parts.items())
        return total, parts
