"""Standard-protocol evaluation: mod-crop HR, MATLAB-bicubic LR, Y-channel PSNR/SSIM with border = scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinyespcn_nodes.metrics import psnr, ssim

from .patches import make_lr
from .sources import list_images


@dataclass
class Pair:
    name: str
    hr: torch.Tensor  # float [1,3,H,W] in [0,1]
    lr: torch.Tensor  # float [1,3,H/s,W/s] in [0,1], quantised to 8 bit like a saved PNG


def load_pairs(folder: str | Path, scale: int, limit: int = 0, resize_to: int | None = None) -> list[Pair]:
    folder = Path(folder)
    files = list_images(folder)
    if not files:
        raise FileNotFoundError(f"no images in benchmark folder {folder}")
    pairs = []
    for f in files[: limit or None]:
        img = Image.open(f).convert("RGB")
        if resize_to:
            img = img.resize((resize_to, resize_to), Image.BICUBIC)
        hr8 = torch.from_numpy(np.array(img)).permute(2, 0, 1)
        h, w = hr8.shape[1] - hr8.shape[1] % scale, hr8.shape[2] - hr8.shape[2] % scale
        hr8 = hr8[:, :h, :w].contiguous()
        lr8 = make_lr(hr8, scale)
        pairs.append(Pair(f.stem, hr8[None].float() / 255, lr8[None].float() / 255))
    return pairs


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp and round to 8-bit levels, as a saved PNG would be (the protocol scores saved images)."""
    return (x.clamp(0, 1) * 255).round() / 255


@torch.inference_mode()
def score(upscale: Callable[[torch.Tensor], torch.Tensor], pairs: list[Pair], scale: int, with_ssim: bool = True) -> dict:
    ps, ss = [], []
    for p in pairs:
        sr = quantize(upscale(p.lr).float().cpu())
        ps.append(psnr(sr, p.hr, border=scale))
        if with_ssim:
            ss.append(ssim(sr, p.hr, border=scale))
    out = {"psnr": float(np.mean(ps)), "n": len(pairs)}
    if with_ssim:
        out["ssim"] = float(np.mean(ss))
    return out
