"""Default job: upscale the bundled public-domain portrait and write a captioned side-by-side PNG."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ...core.defaults import DEFAULT_TILE
from ...core.metrics import psnr
from ...core.resize import matlab_imresize
from ...engine.job import PostProcess, prepare
from ...engine.options import UpscaleOptions
from ...io.imagefiles import write_image

PORTRAIT = Path(__file__).resolve().parents[2] / "data" / "astronaut.png"  # NASA, public domain (scikit-image copy)
SCALE = 2


def _caption(img: np.ndarray, text: str) -> Image.Image:
    panel = Image.new("RGB", (img.shape[1], img.shape[0] + 22), "white")
    panel.paste(Image.fromarray(img), (0, 22))
    ImageDraw.Draw(panel).text((6, 5), text, fill=(0, 0, 0))
    return panel


def run_demo(out_dir: Path, weights: str | None = None, device: str = "auto", tile: int = DEFAULT_TILE) -> Path:
    hr8 = np.array(Image.open(PORTRAIT).convert("RGB"))
    hr = torch.from_numpy(hr8).permute(2, 0, 1)[None].float() / 255
    lr = (matlab_imresize(hr.double(), scale=1 / SCALE).clamp(0, 1) * 255).round() / 255
    lr8 = (lr * 255).round().to(torch.uint8)
    options = UpscaleOptions(weights, SCALE, tile=tile, device=device)
    bicubic = (matlab_imresize(lr, scale=SCALE).clamp(0, 1) * 255).round().to(torch.uint8)
    sr = prepare(options).run_tensor(lr8)
    sr_post = prepare(replace(options, post=PostProcess(sharpen=True, antialias=True))).run_tensor(lr8)
    crop = _busiest_crop(bicubic, sr)
    panels = []
    for name, t in (("bicubic", bicubic), ("TinyESPCN", sr), ("TinyESPCN + unsharp + MSAA", sr_post)):
        score = psnr(t.float() / 255, hr, border=SCALE)
        print(f"{name:28s} x{SCALE}  Y-PSNR {score:.2f} dB")
        img = t[0].permute(1, 2, 0).numpy()
        panels.append(
            _caption(
                np.concatenate([img, _zoom(img, crop, img.shape[1])], axis=0),
                f"{name}  x{SCALE}  Y-PSNR {score:.2f} dB",
            )
        )
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 8 * (len(panels) - 1), panels[0].height), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 8
    return write_image(out_dir / "demo_side_by_side.png", np.array(sheet))


def _busiest_crop(a: torch.Tensor, b: torch.Tensor, size: int = 64) -> tuple[int, int, int]:
    """(y, x, size) of the square where the two images differ most: where the zoom shows the difference."""
    diff = (a.float() - b.float()).abs().mean(dim=1, keepdim=True)
    pooled = torch.nn.functional.avg_pool2d(diff, size, stride=size // 4)
    idx = int(pooled.flatten().argmax())
    gy, gx = divmod(idx, pooled.shape[-1])
    return gy * (size // 4), gx * (size // 4), size


def _zoom(img: np.ndarray, crop: tuple[int, int, int], width: int) -> np.ndarray:
    y, x, size = crop
    patch = Image.fromarray(np.ascontiguousarray(img[y : y + size, x : x + size]))
    return np.array(patch.resize((width, width), Image.NEAREST))
