"""Benchmark output: a Markdown table per scale, one JSON file, and a PNG grid of crops per scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .checkpoint import write_text_atomic
from .quality_bench import ScaleResult

CROP = 96  # HR pixels per crop side
ZOOM = 2  # nearest-neighbour enlargement so pixels stay visible


def _cell(score) -> str:
    if score is None:
        return "–"
    lp = f" / {score.lpips:.4f}" if score.lpips is not None else ""
    return f"{score.psnr:.2f} / {score.ssim:.4f}{lp}"


def markdown(results: list[ScaleResult], protocol: str) -> str:
    lines = [protocol, ""]
    for res in results:
        has_lpips = any(s.lpips is not None for row in res.scores.values() for s in row.values())
        metric = "PSNR / SSIM / LPIPS" if has_lpips else "PSNR / SSIM"
        lines += [f"### x{res.scale} ({metric})", ""]
        sizes = {s: next(iter(res.scores.values()))[s].n for s in res.sets}
        head = ["Model", "Params", "MACs/LR px", *[f"{s} ({sizes[s]})" for s in res.sets], f"ms @{256}² LR"]
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        for row in res.rows:
            cells = [
                row.name,
                f"{row.params:,}" if row.params else "–",
                f"{row.macs_per_lr_px:,}" if row.macs_per_lr_px else "–",
                *[_cell(res.scores[row.name].get(s)) for s in res.sets],
                f"{res.timings_ms[row.name]:.0f}" if row.name in res.timings_ms else "–",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def to_json(results: list[ScaleResult], protocol: str, machine: str) -> dict:
    out = {"protocol": protocol, "machine": machine, "scales": {}}
    for res in results:
        out["scales"][str(res.scale)] = [
            {
                "name": row.name, "kind": row.kind, "source": Path(row.source).name if row.kind != "bicubic" else row.source,
                "params": row.params, "macs_per_lr_px": row.macs_per_lr_px,
                "ms_256_lr": round(res.timings_ms[row.name], 2) if row.name in res.timings_ms else None,
                "sets": {s: {"psnr": round(v.psnr, 4), "ssim": round(v.ssim, 5),
                             "lpips": None if v.lpips is None else round(v.lpips, 5), "n": v.n}
                         for s, v in res.scores[row.name].items()},
            }
            for row in res.rows
        ]  # fmt: skip
    return out


def _busiest_window(hr: torch.Tensor, size: int) -> tuple[int, int]:
    """Top-left of the size² window with the most gradient energy: where upscalers differ visibly."""
    y = hr[0].mean(0)
    g = (y[1:, :-1] - y[:-1, :-1]).abs() + (y[:-1, 1:] - y[:-1, :-1]).abs()
    energy = torch.nn.functional.avg_pool2d(g[None, None], size, stride=max(1, size // 4))[0, 0]
    idx = int(energy.argmax())
    stride = max(1, size // 4)
    return (idx // energy.shape[1]) * stride, (idx % energy.shape[1]) * stride


def _wrap(draw: ImageDraw.ImageDraw, text: str, width: int, lines: int = 2) -> str:
    """Greedy word wrap to `width` pixels; whatever still does not fit in `lines` lines is cut."""
    out = [""]
    for word in text.split():
        candidate = f"{out[-1]} {word}".strip()
        if draw.textlength(candidate) <= width or not out[-1]:
            out[-1] = candidate
        else:
            out.append(word)
    return "\n".join(out[:lines])


def crop_grid(res: ScaleResult, path: Path) -> Path | None:
    """Rows = images, columns = HR | each row of the table; crops at the same place in every column."""
    if not res.crops:
        return None
    names = ["HR", *[r.name for r in res.rows]]
    side, label_h, gap = CROP * ZOOM, 30, 4
    width = len(names) * (side + gap) + 120
    height = label_h + len(res.crops) * (side + gap)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for j, n in enumerate(names):
        draw.multiline_text((120 + j * (side + gap) + 2, 3), _wrap(draw, n, side - 4), fill="black", spacing=2)
    for i, (img_name, images) in enumerate(res.crops.items()):
        top = label_h + i * (side + gap)
        draw.text((4, top + side // 2 - 6), img_name[:18], fill="black")
        hr = images["HR"]
        size = min(CROP, hr.shape[-2], hr.shape[-1])
        y0, x0 = _busiest_window(hr, size)
        for j, n in enumerate(names):
            if n not in images:
                continue
            c = images[n][0, :, y0 : y0 + size, x0 : x0 + size]
            arr = (c.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            tile = Image.fromarray(np.ascontiguousarray(arr)).resize((size * ZOOM, size * ZOOM), Image.NEAREST)
            canvas.paste(tile, (120 + j * (side + gap), top))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    canvas.save(tmp, format="PNG")
    tmp.replace(path)
    return path


def write_outputs(results: list[ScaleResult], out_dir: Path, protocol: str, machine: str) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"markdown": out_dir / "results.md", "json": out_dir / "results.json"}
    write_text_atomic(written["markdown"], markdown(results, protocol) + "\n")
    write_text_atomic(written["json"], json.dumps(to_json(results, protocol, machine), indent=1) + "\n")
    for res in results:
        grid = crop_grid(res, out_dir / f"crops_x{res.scale}.png")
        if grid:
            written[f"crops_x{res.scale}"] = grid
    return written
