"""Row bands: an image larger than memory upscaled from a lazy row source, its output rows yielded in order.

Each band of LR rows is read with the chain's context rows above and below (the post filters' margin
included), runs through the one pipeline, and is trimmed to its own rows, so the rows joined equal
`upscale_array` of the whole image: tile-local models are exact with their context, and a model with an
image statistic (the seed config's gate) gets it once, from the same sampled crops the in-memory path uses
for images above its code-cache budget. Memory is one band's input and output plus one tile's working set,
whatever the image height.

A source is anything with `shape` (H, W) or (H, W, C), `dtype` and numpy-style slicing that returns arrays:
a numpy array, a memmap, a zarr array or `io.tiff.TiffRows`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..core.defaults import DEFAULT_TILE
from ..core.intensity import Window, choose_window, to_model
from ..core.pixels import numpy_to_bchw, to_unit_float
from ..core.tiling import Tile, UpscaleCancelled, needs_statistics, resolve_tile, sampled_statistics, uses_code_cache
from .job import PostProcess, chain_context, upscale_array

BAND_OUT_PIXELS = 6 * 2**20
MIN_BAND_ROWS = 16


def band_rows(models: list[nn.Module], width: int, tile: int, post: PostProcess | None) -> int:
    """LR rows per band: about BAND_OUT_PIXELS output pixels, at most one tile row (the tile minus its context, so a
    band is a single row of tiles). Short bands keep both the band buffers and each tile's working set small
    (a tile is the band's height by the tile side); their extra context rows cost little (see the bench)."""
    by_tile = resolve_tile(tile, models[0]) - 2 * chain_context(models, post)
    scale = math.prod(m.scale for m in models)
    return max(MIN_BAND_ROWS, min(by_tile, BAND_OUT_PIXELS // (width * scale * scale)))


def _model_input(region: np.ndarray, window: Window | None, device: torch.device) -> torch.Tensor:
    """[1,3,h,w] float32 exactly as the tiler builds a tile of this region (windowed, RGB, unit range)."""
    t, _ = numpy_to_bchw(to_model(np.ascontiguousarray(region), window))
    t = t.expand(1, 3, *t.shape[2:]) if t.shape[1] == 1 else t[:, :3]
    x = to_unit_float(t, clamp=window is None).to(device)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cpu" else x


def _statistic(source, model: nn.Module, window: Window | None, tile: int, post: PostProcess | None) -> torch.Tensor:
    """The in-memory tiler's sampled statistic, its crops read from `source` one at a time."""
    device = next(model.parameters()).device

    def region(g: Tile) -> torch.Tensor:
        return _model_input(np.asarray(source[g.y0 : g.y1, g.x0 : g.x1]), window, device)

    h, w = source.shape[:2]
    return sampled_statistics(model, h, w, region, tile=tile, post_margin=post.margin if post is not None else 0)


def check_bandable(models: list[nn.Module], height: int, width: int) -> None:
    """Refuse what bands cannot reproduce: a statistics model in a chain, or one whose in-memory run of this
    image would use the exact code cache (bands use the sampled statistic)."""
    stat = [m for m in models if needs_statistics(m)]
    if stat and len(models) > 1:
        raise ValueError("a chain with an image-statistics model (the seed config at x8) cannot run in bands")
    if stat and uses_code_cache(stat[0], height, width):
        raise ValueError(f"{width}x{height} is small enough for the in-memory path; bands are for larger images")


def upscale_bands(
    source,
    models: list[nn.Module],
    *,
    tile: int = DEFAULT_TILE,
    post: PostProcess | None = None,
    intensity: str | Window | None = "auto",
    rows: int | None = None,
    on_band: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[np.ndarray]:
    """Output rows of `upscale_array(source, models=models, ...)`, one band at a time, top to bottom."""
    if source.ndim not in (2, 3) or (source.ndim == 3 and source.shape[2] not in (1, 3, 4)):
        raise ValueError(f"bands need an (H, W) or (H, W, C) image with C = 1, 3 or 4, got shape {source.shape}")
    if tile == 0:
        raise ValueError("tile 0 (the whole image at once) cannot run in bands")
    h, w = source.shape[:2]
    check_bandable(models, h, w)
    post = post if post is not None and post.active else None
    scale = math.prod(m.scale for m in models)
    rgb = source.ndim == 3 and source.shape[2] in (3, 4)
    window = intensity if intensity is None or isinstance(intensity, Window) else choose_window(source, intensity, rgb)
    stats = _statistic(source, models[0], window, tile, post) if needs_statistics(models[0]) else None
    ctx = chain_context(models, post)
    step = rows or band_rows(models, w, tile, post)
    starts = list(range(0, h, step))
    for i, y0 in enumerate(starts):
        if should_stop is not None and should_stop():
            raise UpscaleCancelled("upscale cancelled")
        y1 = min(h, y0 + step)
        a, b = max(0, y0 - ctx), min(h, y1 + ctx)
        band = np.asarray(source[a:b])
        out = upscale_array(band, models=models, tile=tile, post=post, intensity=window, stats=stats)
        yield out[(y0 - a) * scale : (y1 - a) * scale]
        del band, out  # before the next band is read: one band in memory at a time
        if on_band is not None:
            on_band(i + 1, len(starts))
