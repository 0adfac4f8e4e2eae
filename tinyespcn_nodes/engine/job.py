"""`prepare(options) -> UpscaleJob`: everything a run needs resolved once (model chain, tile per model,
context, post filters, statistics mode), then `run_tensor / run_array / run_bands / run_dask` on any input.

Every host builds an `UpscaleOptions` and calls the job, so the same input gives the same bytes everywhere.
The legacy functions below (`process_bchw`, `upscale_array`, `filter_array`) build a job from given models.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import astuple, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.defaults import DEFAULT_TILE
from ..core.filters import PostProcess
from ..core.intensity import Window, choose_window, from_model, to_model
from ..core.pixels import bchw_to_numpy, check_tensor, numpy_to_bchw, store, to_unit_float, upscale_bchw
from ..core.progress import Progress, UpscaleCancelled
from ..core.tiling import (
    ProgressFn,
    StopFn,
    TileOptions,
    check_tile,
    context_margin,
    plan_tiles,
    resolve_tile,
    statistics_mode,
    tile_count,
    upscale_tensor,
)
from .chain import chain_context, load_models, plan_chain, scale_for_factor
from .models import DEFAULT_PRECISION
from .options import SCALES, UpscaleOptions

__all__ = [
    "SCALES", "PostProcess", "Progress", "UpscaleCancelled", "UpscaleJob", "UpscaleOptions", "chain_context",
    "filter_array", "load_models", "prepare", "process_bchw", "scale_for_factor", "upscale_array",
]  # fmt: skip
FILTER_TILE = 512  # side of the tiles the same-size filters run on (MSAA's supersampled copy is 4x that)


def levels_for(dtype: torch.dtype) -> int | None:
    """The integer grid the filters round to: the dtype's, or None (no rounding) for float data."""
    return {torch.uint8: 255, torch.uint16: 65535}.get(dtype)


def filter_tile(tile: int) -> int:
    return FILTER_TILE if tile < 0 else tile


def prepare(options: UpscaleOptions, tile_name: str = "tile") -> UpscaleJob:
    """Load the chain and check the tile for every model (the error names the host's `tile_name`)."""
    return UpscaleJob.from_options(options, tile_name)


class UpscaleJob:
    """A prepared run: `models` (empty = the post filters alone) and each model's resolved `tiles`."""

    def __init__(self, options: UpscaleOptions, models: list[nn.Module], margin: int | None = None) -> None:
        self.options, self.models = options, list(models)
        self.tiles = [resolve_tile(options.tile, m) for m in self.models]  # measured once, used by count and run
        self.margins = [max(options.context, context_margin(m)) if margin is None else margin for m in self.models]
        self.post = options.post if options.post.active else None
        self.scale = math.prod(m.scale for m in self.models)

    @classmethod
    def from_options(cls, options: UpscaleOptions, tile_name: str = "tile") -> UpscaleJob:
        models = plan_chain(options)
        for m in models:
            check_tile(options.tile, m, tile_name)
        return cls(options, models)

    def steps(self, shape_bchw: tuple[int, ...], given_stats: bool = False) -> int:
        """Progress steps for one [B,C,H,W] input (the statistics pass included where one runs)."""
        b, _, h, w = shape_bchw
        if not self.models:
            return b * len(plan_tiles(h, w, filter_tile(self.options.tile)))
        mode = "given" if given_stats else self.options.statistics
        total = 0
        for m, tile in zip(self.models, self.tiles):
            total += b * tile_count(h, w, tile, m, mode)
            h, w = h * m.scale, w * m.scale
        return total

    def context(self) -> int:
        """LR context a part of an image needs for its core to equal the whole image's result."""
        return chain_context(self.models, self.post)

    def _size(self, h: int, w: int) -> tuple[int, int] | None:
        factor = self.options.factor
        if factor is None:
            return None
        if not 1 < factor <= self.scale:
            raise ValueError(f"factor must be > 1 and at most the models' scale x{self.scale}, got {factor}")
        return max(1, round(h * factor)), max(1, round(w * factor))

    def run_tensor(
        self,
        x: torch.Tensor,
        progress: Progress | None = None,
        *,
        layout: str = "BCHW",
        out_dtype: torch.dtype | None = None,
        clamp: bool = True,
        stats: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B,C,H,W] (or [B,H,W,C] with layout="BHWC"; C = 1, 3, 4; uint8/uint16/float) → model chain → post
        filters, in `out_dtype` (default: x's) on x's device; x is never modified. `clamp=False` keeps float
        values outside [0,1] (intensity-windowed data). `stats`: a one-model chain's image statistic, given by
        a caller that runs a larger image part by part (bands)."""
        if layout == "BHWC":
            return self.run_tensor(x.movedim(-1, 1), progress, out_dtype=out_dtype, clamp=clamp, stats=stats).movedim(
                1, -1
            )
        check_tensor(x)
        if stats is not None and len(self.models) != 1:
            raise ValueError("a given image statistic needs a chain of exactly one model")
        progress = progress if progress is not None else Progress()
        progress.expect(self.steps(tuple(x.shape), stats is not None))
        target = out_dtype or x.dtype
        levels = self.options.levels
        post = self.post
        if post is not None:
            post = replace(post, levels=levels_for(x.dtype) if levels == "auto" else levels)
        if not self.models:
            out = torch.empty_like(x, dtype=target)
            _filter_tiles(x, out, post, filter_tile(self.options.tile), progress)
            return out
        size = self._size(x.shape[-2], x.shape[-1])
        last = len(self.models) - 1

        def rgb_upscale(rgb: torch.Tensor, out_rgb: torch.Tensor) -> None:
            cur = rgb
            for i, (m, tile, margin) in enumerate(zip(self.models, self.tiles, self.margins)):
                end = i == last
                opts = TileOptions(
                    margin=margin, post=post if end else None, post_margin=post.margin if (post and end) else 0,
                    exact=self.options.statistics, size=size if end else None, clamp=clamp, stats=stats,
                )  # fmt: skip
                cur = upscale_tensor(m, cur, tile=tile, out=out_rgb if end else None, opts=opts, progress=progress)

        return upscale_bchw(x, self.scale, rgb_upscale, out_dtype=target, size=size, clamp=clamp)

    def window(self, image, rgb: bool | None = None) -> Window | None:
        """The intensity window for `image` (None: the dtype path). Filters alone never window."""
        intensity = self.options.intensity
        if not self.models or intensity is None or isinstance(intensity, Window):
            return intensity if self.models else None
        return choose_window(image, intensity, rgb=image.ndim >= 3 if rgb is None else rgb)

    def run_array(
        self, image: np.ndarray, progress: Progress | None = None, stats: torch.Tensor | None = None
    ) -> np.ndarray:
        """numpy HW / HWC / BHWC (uint8, uint16, float) → the upscaled array, same layout and dtype."""
        window = self.window(image)
        if window is None:
            t, layout = numpy_to_bchw(image)
            return bchw_to_numpy(self.run_tensor(t, progress, stats=stats), layout, image.dtype)
        t, layout = numpy_to_bchw(to_model(image, window))
        out = self.run_tensor(t, progress, out_dtype=torch.float32, clamp=False, stats=stats)
        return from_model(bchw_to_numpy(out, layout, np.float32), image.dtype, window)

    def run_bands(self, source, progress: Progress | None = None, rows: int | None = None) -> Iterator[np.ndarray]:
        """Output rows of `run_array(source)`, one band at a time, from a lazy row source (see `bands`)."""
        from .bands import upscale_bands

        return upscale_bands(source, self, rows=rows, progress=progress)

    def run_dask(self, array, rgb: bool | None = None):
        """A dask array upscaled lazily, chunk by chunk with its context (see `blocks`)."""
        from .blocks import run_dask

        return run_dask(array, self, rgb)


def _filter_tiles(x: torch.Tensor, out: torch.Tensor, post: PostProcess | None, tile: int, progress: Progress) -> None:
    """Same-size filters tile by tile, each tile with the filters' own context band, so the result equals
    filtering the whole image, the working set stays one tile's, and progress/Cancel come every tile."""
    _, _, h, w = x.shape
    m = post.margin if post is not None else 0
    for t in plan_tiles(h, w, tile):
        progress.check()
        y0, y1, x0, x1 = astuple(t.grown(m, h, w))
        y = to_unit_float(x[:, :, y0:y1, x0:x1])
        if post is not None:
            y = post(y)  # the filters pass an RGBA alpha through untouched
        core = y[:, :, t.y0 - y0 : t.y1 - y0, t.x0 - x0 : t.x1 - x0]
        store(out[:, :, t.y0 : t.y1, t.x0 : t.x1], core)
        progress.advance()


def _job_of(models: list[nn.Module], options: dict) -> tuple[UpscaleJob, dict]:
    """A job from already loaded models and the legacy keyword options; returns the run-time keywords left."""
    scale = math.prod(m.scale for m in models) if models else 1
    settings = UpscaleOptions(
        scale=scale if scale in SCALES else 1,
        factor=options.pop("factor", None),
        tile=options.pop("tile", DEFAULT_TILE),
        intensity=options.pop("intensity", "auto"),
        post=options.pop("post", None) or PostProcess(),
        statistics=statistics_mode(options.pop("exact", False)),
        levels=options.pop("levels", "auto"),
    )
    return UpscaleJob(settings, models, options.pop("margin", None)), options


def _legacy_progress(options: dict) -> Progress:
    on_tile: ProgressFn | None = options.pop("on_tile", None)
    should_stop: StopFn | None = options.pop("should_stop", None)
    return Progress(on_tile, should_stop)


def process_bchw(x: torch.Tensor, models: list[nn.Module], **options) -> torch.Tensor:
    """`UpscaleJob.run_tensor` with given models (tile, post, on_tile, should_stop, out_dtype, levels, margin,
    exact, factor, clamp, stats as keywords): for callers that hold models, tests and the bench."""
    job, rest = _job_of(models, options)
    return job.run_tensor(x, _legacy_progress(rest), **rest)


def upscale_bchw_tensor(x: torch.Tensor, models: list[nn.Module], **options) -> torch.Tensor:
    """`process_bchw` with at least one model (kept for callers of the earlier API)."""
    if not models:
        raise ValueError("upscale_bchw_tensor needs at least one model")
    return process_bchw(x, models, **options)


def upscale_array(
    image: np.ndarray,
    scale: int = 2,
    weights: str | Path | None = None,
    *,
    device="auto",
    precision: str | bool = DEFAULT_PRECISION,
    models: list[nn.Module] | None = None,
    **options,
) -> np.ndarray:
    """numpy HW / HWC / BHWC → upscaled array of the same layout and dtype (`UpscaleJob.run_array`).

    `models` (from `load_models`) replaces scale/weights/device/precision, for callers that run many images.
    `intensity`: how values map to the model's range (`intensity.MODES`, a `Window`, or None = no window).
    """
    models = models or load_models(weights, scale, device, precision)
    job, rest = _job_of(models, options)
    progress, stats = _legacy_progress(rest), rest.pop("stats", None)
    if rest:
        raise TypeError(f"upscale_array got unexpected options: {', '.join(sorted(rest))}")
    return job.run_array(image, progress, stats)


def upscale_dask(array, options: UpscaleOptions | int = 2, weights: str | None = None, *, rgb: bool | None = None):
    """dask array (Y, X), (Y, X, C) or with leading stack axes → lazily upscaled dask array of the same dtype
    (`prepare(options).run_dask(array)`; weights and tile are checked here, on the client). `options` may be
    a bare scale, with `weights` (`upscale_dask(array, 2, weights)`: every other option at its default)."""
    if not isinstance(options, UpscaleOptions):
        options = UpscaleOptions(weights, options)
    return prepare(options).run_dask(array, rgb)


def filter_array(image: np.ndarray, post: PostProcess, **options) -> np.ndarray:
    """Same-size unsharp / anti-alias on numpy HW / HWC / BHWC, same dtype back."""
    job, rest = _job_of([], {**options, "post": post, "intensity": None})
    return job.run_array(image, _legacy_progress(rest))
