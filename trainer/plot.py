"""A dependency-free PNG of training curves (loss and validation PSNR) drawn with Pillow."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], xs: list[float], ys: list[float], title: str):
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((x0 + 6, y0 + 4), title, fill=(0, 0, 0))
    if len(xs) < 2:
        return
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    xmin, xmax = min(xs), max(xs)
    xspan = (xmax - xmin) or 1.0
    pts = [
        (x0 + 10 + (x - xmin) / xspan * (x1 - x0 - 20), y1 - 20 - (y - lo) / span * (y1 - y0 - 40))
        for x, y in zip(xs, ys)
    ]
    draw.line(pts, fill=(200, 40, 40), width=2)
    draw.text((x0 + 6, y1 - 16), f"step {xmin:.0f}..{xmax:.0f}   min {lo:.4g}  max {hi:.4g}", fill=(60, 60, 60))


def plot_curves(path: Path, loss: list[tuple[int, float]], psnr: list[tuple[int, float]]) -> None:
    img = Image.new("RGB", (900, 360), "white")
    draw = ImageDraw.Draw(img)
    _panel(draw, (10, 10, 445, 350), [s for s, _ in loss], [v for _, v in loss], "training loss")
    _panel(draw, (455, 10, 890, 350), [s for s, _ in psnr], [v for _, v in psnr], "validation Y-PSNR (dB)")
    tmp = path.with_suffix(".tmp.png")
    img.save(tmp)
    tmp.replace(path)
