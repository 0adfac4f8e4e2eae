"""Row bands: an image larger than memory upscaled from a lazy row source, its output rows yielded in order.

Each band of LR rows is read with the chain's context rows above and below (the post filters' margin
included), runs through the one pipeline, and is trimmed to its own rows, so the rows joined equal
`upscale_array` of the whole image: tile-local models are exact with their context, and a model with an
image statistic (the seed config's gate) gets it once, from the same sampled crops the in-memory path uses
for images above its code-cache budget. Memory is one band's input and output plus one tile's working set,
whatever the image height. A band too wide for BAND_OUT_PIXELS is cut into column blocks the same way (each
with its context columns), so memory stays bounded whatever the width too: `upscale_blocks` yields those
blocks with their place in the output, `upscale_bands` joins each band's blocks into rows.

A source is anything with `shape` (H, W) or (H, W, C), `dtype` and numpy-style slicing that returns arrays:
a numpy array, a memmap, a zarr array or `io.tiff.TiffRows`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..core.intensity import Window, to_model
from ..core.pixels import numpy_to_bchw, to_unit_float
from ..core.progress import Progress
from ..core.tiling import Tile, needs_statistics, sampled_statistics, uses_code_cache

if TYPE_CHECKING:
    from .job import UpscaleJob

BAND_OUT_PIXELS = 6 * 2**20
MIN_BAND_ROWS = 16
MIN_BLOCK_COLS = 64


def band_rows(job: UpscaleJob, width: int) -> int:
    """LR rows per band: about BAND_OUT_PIXELS output pixels, at most one tile row (the tile minus its context, so a
    band is a single row of tiles). Short bands keep both the band buffers and each tile's working set small
    (a tile is the band's height by the tile side); their extra context rows cost little (see the bench)."""
    by_tile = job.tiles[0] - 2 * job.context()
    return max(MIN_BAND_ROWS, min(by_tile, BAND_OUT_PIXELS // (width * job.scale * job.scale)))


def block_shape(job: UpscaleJob, height: int, width: int) -> tuple[int, int]:
    """(LR rows, LR columns) of one block: whole-width bands (`band_rows`) while a band stays within
    BAND_OUT_PIXELS output pixels; a wider image gets blocks of about that many output pixels, near square and
    at most one tile row high (their context rows and columns then cost little)."""
    rows, area = band_rows(job, width), job.scale * job.scale
    if rows * width * area <= BAND_OUT_PIXELS:
        return rows, width
    rows = max(MIN_BAND_ROWS, min(job.tiles[0] - 2 * job.context(), math.isqrt(BAND_OUT_PIXELS // area), height))
    return rows, min(width, max(MIN_BLOCK_COLS, BAND_OUT_PIXELS // (rows * area)))


def _model_input(region: np.ndarray, window: Window | None, device: torch.device) -> torch.Tensor:
    """[1,3,h,w] float32 exactly as the tiler builds a tile of this region (windowed, RGB, unit range)."""
    t, _ = numpy_to_bchw(to_model(np.ascontiguousarray(region), window))
    t = t.expand(1, 3, *t.shape[2:]) if t.shape[1] == 1 else t[:, :3]
    x = to_unit_float(t, clamp=window is None).to(device)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cpu" else x


def _statistic(source, job: UpscaleJob, window: Window | None) -> torch.Tensor:
    """The in-memory tiler's sampled statistic, its crops read from `source` one at a time."""
    model = job.models[0]
    device = next(model.parameters()).device

    def region(g: Tile) -> torch.Tensor:
        return _model_input(np.asarray(source[g.y0 : g.y1, g.x0 : g.x1]), window, device)

    h, w = source.shape[:2]
    post_margin = job.post.margin if job.post is not None else 0
    return sampled_statistics(model, h, w, region, tile=job.tiles[0], post_margin=post_margin)


def check_bandable(models: list[nn.Module], height: int, width: int) -> None:
    """Refuse what bands cannot reproduce: a statistics model in a chain, or one whose in-memory run of this
    image would use the exact code cache (bands use the sampled statistic)."""
    stat = [m for m in models if needs_statistics(m)]
    if stat and len(models) > 1:
        raise ValueError("a chain with an image-statistics model (the seed config at x8) cannot run in bands")
    if stat and uses_code_cache(stat[0], height, width):
        raise ValueError(f"{width}x{height} is small enough for the in-memory path; bands are for larger images")


def upscale_bands(
    source, job: UpscaleJob, *, rows: int | None = None, progress: Progress | None = None
) -> Iterator[np.ndarray]:
    """Output rows of `job.run_array(source)`, one band at a time, top to bottom. `progress` counts blocks;
    its stop function is also checked inside every block's tiles."""
    band: list[np.ndarray] = []
    for _, x, block in upscale_blocks(source, job, rows=rows, progress=progress):
        if x == 0 and band:
            yield np.concatenate(band, axis=1) if len(band) > 1 else band[0]
            band = []
        band.append(block)
    if band:
        yield np.concatenate(band, axis=1) if len(band) > 1 else band[0]


def upscale_blocks(
    source, job: UpscaleJob, *, rows: int | None = None, cols: int | None = None, progress: Progress | None = None
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(output row, output column, block) of `job.run_array(source)`, band by band, each band left to right
    (blocks of `block_shape`, or `rows` x `cols`). `progress` counts blocks; its stop function is also checked
    inside every block's tiles."""
    if source.ndim not in (2, 3) or (source.ndim == 3 and source.shape[2] not in (1, 3, 4)):
        raise ValueError(f"bands need an (H, W) or (H, W, C) image with C = 1, 3 or 4, got shape {source.shape}")
    if job.options.tile == 0:
        raise ValueError("tile 0 (the whole image at once) cannot run in bands")
    if job.options.factor is not None:
        raise ValueError("bands run whole model scales (no factor)")
    h, w = source.shape[:2]
    check_bandable(job.models, h, w)
    progress = progress if progress is not None else Progress()
    window = job.window(source, rgb=source.ndim == 3 and source.shape[2] in (3, 4))
    band_job = type(job)(replace(job.options, intensity=window), job.models)
    stats = _statistic(source, job, window) if needs_statistics(job.models[0]) else None
    ctx, s = job.context(), job.scale
    auto_rows, auto_cols = block_shape(job, h, w)
    step, across = rows or auto_rows, cols or (w if rows else auto_cols)
    starts = [(y, x) for y in range(0, h, step) for x in range(0, w, across)]
    progress.expect(len(starts))
    for y0, x0 in starts:
        progress.check()
        y1, x1 = min(h, y0 + step), min(w, x0 + across)
        a, b = max(0, y0 - ctx), min(h, y1 + ctx)
        c, d = max(0, x0 - ctx), min(w, x1 + ctx)
        region = np.asarray(source[a:b] if (c, d) == (0, w) else source[a:b, c:d])
        out = band_job.run_array(region, Progress(stop=progress.stop), stats)
        yield y0 * s, x0 * s, out[(y0 - a) * s : (y1 - a) * s, (x0 - c) * s : (x1 - c) * s]
        del region, out  # before the next block is read: one block in memory at a time
        progress.advance()
