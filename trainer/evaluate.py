"""Standard-protocol evaluation: mod-crop HR, MATLAB-bicubic LR, Y-channel PSNR/SSIM with border = scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinyespcn_nodes.core.metrics import psnr, rgb_to_y, ssim

from .patches import make_lr
from .sources import ImageRef, centre_square, decode_rgb, list_images


@dataclass
class Pair:
    name: str
    hr: torch.Tensor  # float [1,3,H,W] in [0,1]
    lr: torch.Tensor  # float [1,3,H/s,W/s] in [0,1], quantised to 8 bit like a saved PNG
    gray: bool = False  # the HR file is single-channel: scored on its intensity, as MATLAB scripts do


def default_val_folder() -> Path:
    """Set5 HR in the shared folder: what runs validate on, and exports measure, by default."""
    from tinyespcn_nodes.core.shared import shared_path

    return shared_path("data", "benchmarks", "Set5", "HR")


def default_val_sets() -> list[str]:
    """The default validation folder when it is there."""
    folder = default_val_folder()
    return [str(folder)] if folder.is_dir() else []


def load_pairs(folder: str | Path, scale: int, limit: int = 0, resize_to: int | None = None) -> list[Pair]:
    """Benchmark pairs from a folder of HR images (sorted; the first `limit` if given)."""
    folder = Path(folder)
    files = list_images(folder)
    if not files:
        raise FileNotFoundError(f"no images in benchmark folder {folder}")
    return [make_pair(f.stem, Image.open(f), scale, resize_to) for f in files[: limit or None]]


def pairs_from_refs(refs: list[ImageRef], scale: int, resize_to: int | None = None) -> list[Pair]:
    """Pairs from training-style refs (held-out faces), centre-cropped square first when resized."""
    pairs = []
    for ref in refs:
        img = decode_rgb(ref.read_bytes())
        if resize_to:
            img = centre_square(img)
        pairs.append(
            make_pair(Path(ref.path).stem if ref.row < 0 else f"{Path(ref.path).stem}-{ref.row}", img, scale, resize_to)
        )
    return pairs


def validation_sets(
    scale: int,
    held_out: list[ImageRef],
    face_size: int | None,
    folders: list[str],
    limit: int = 0,
    skip_missing: bool = False,
) -> dict[str, list[Pair]]:
    """A run's validation sets by name: held-out faces first (they pick a fine-tune's best checkpoint), then
    each HR folder (`Set5/HR` is named `Set5`)."""
    sets = {"faces": pairs_from_refs(held_out, scale, face_size)} if held_out else {}
    for folder in folders:
        path = Path(folder)
        if skip_missing and not path.is_dir():
            continue
        sets[path.parent.name if path.name == "HR" else path.name] = load_pairs(path, scale, limit)
    return sets


def make_pair(name: str, img: Image.Image, scale: int, resize_to: int | None = None) -> Pair:
    """HR (optionally resized to a square, Pillow bicubic), mod-cropped to the scale; LR by MATLAB bicubic."""
    gray = img.mode in ("L", "I", "I;16")
    img = img.convert("RGB")
    if resize_to:
        img = img.resize((resize_to, resize_to), Image.BICUBIC)
    hr8 = torch.from_numpy(np.array(img)).permute(2, 0, 1)
    h, w = hr8.shape[1] - hr8.shape[1] % scale, hr8.shape[2] - hr8.shape[2] % scale
    hr8 = hr8[:, :h, :w].contiguous()
    lr8 = make_lr(hr8, scale)
    return Pair(name, hr8[None].float() / 255, lr8[None].float() / 255, gray)


def scored_channel(x: torch.Tensor, gray: bool) -> torch.Tensor:
    """What the standard protocol compares: BT.601 Y of colour images, the intensity of single-channel ones.

    The MATLAB evaluation scripts behind the published tables only convert 3-channel files to Y, so a
    grey HR stored as one channel (Set14 `bridge`) is scored in full range; this reproduces their bicubic rows.
    """
    if gray:
        return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).double()
    return rgb_to_y(x.double())


def pair_metrics(sr: torch.Tensor, pair: Pair, scale: int, with_ssim: bool = True) -> tuple[float, float | None]:
    a, b = scored_channel(sr, pair.gray), scored_channel(pair.hr, pair.gray)
    return psnr(a, b, border=scale), (ssim(a, b, border=scale) if with_ssim else None)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp and round to 8-bit levels, as a saved PNG would be (the protocol scores saved images)."""
    return (x.clamp(0, 1) * 255).round() / 255


@torch.inference_mode()
def score(
    upscale: Callable[[torch.Tensor], torch.Tensor], pairs: list[Pair], scale: int, with_ssim: bool = True
) -> dict:
    ps, ss = [], []
    for p in pairs:
        sr = quantize(upscale(p.lr).float().cpu())
        value, structure = pair_metrics(sr, p, scale, with_ssim)
        ps.append(value)
        ss.append(structure)
    out = {"psnr": float(np.mean(ps)), "n": len(pairs)}
    if with_ssim:
        out["ssim"] = float(np.mean(ss))
    return out
