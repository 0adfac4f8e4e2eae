"""One entry point for every host: upscale (→ unsharp → anti-alias) any supported layout, tile by tile."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .catalog import default_name, resolve_weights
from .defaults import DEFAULT_TILE
from .devices import DEFAULT_PRECISION, get_model
from .filters import blur_margin, msaa_antialias, msaa_margin, unsharp_mask
from .intensity import Window, choose_window, from_model, to_model
from .layout import bchw_to_numpy, check_tensor, numpy_to_bchw, to_unit_float, upscale_bchw
from .tiling import (
    ProgressFn,
    StopFn,
    UpscaleCancelled,
    context_margin,
    plan_tiles,
    store,
    tile_count,
    upscale_tensor,
)
from .weights import WeightsError, offered_scales

SCALES = (2, 3, 4, 8)
FILTER_TILE = 512  # side of the tiles the same-size filters run on (MSAA's supersampled copy is 4x that)


@dataclass(frozen=True)
class PostProcess:
    """The seed's post-processing chain with Pillow's defaults."""

    sharpen: bool = False
    radius: float = 1.2
    percent: float = 100.0
    threshold: int = 1
    antialias: bool = False
    supersample: int = 2
    blur_radius: float = 0.5
    levels: int | None = 255

    @property
    def active(self) -> bool:
        return self.sharpen or self.antialias

    @property
    def margin(self) -> int:
        m = blur_margin(self.radius) + 2 if self.sharpen else 0
        return m + (msaa_margin(self.supersample, self.blur_radius) if self.antialias else 0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.sharpen:
            x = unsharp_mask(x, self.radius, self.percent, self.threshold, self.levels)
        if self.antialias:
            x = msaa_antialias(x, self.supersample, self.blur_radius, levels=self.levels)
        return x


def levels_for(dtype: torch.dtype) -> int | None:
    """The integer grid the filters round to: the dtype's, or None (no rounding) for float data."""
    return {torch.uint8: 255, torch.uint16: 65535}.get(dtype)


def scale_for_factor(factor: float) -> int:
    """The smallest model scale (x2, x3, x4, or x8 = three x2 passes) that reaches `factor`."""
    for s in SCALES:
        if factor <= s:
            return s
    raise ValueError(f"factor must be at most {SCALES[-1]}, got {factor}")


def load_models(
    weights: str | Path | None,
    scale: int,
    device="auto",
    precision: str | bool = DEFAULT_PRECISION,
    strength: float = 1.0,
) -> list[nn.Module]:
    """The chain of models that reaches `scale`: one model; at x8 an x8 file, or an x2 file three times.
    `strength` (0-1) is the restoration strength of photo files (core/strength.py)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale}")
    if scale == 8:
        name = weights if weights not in (None, "") else default_name(8)
        try:
            path = resolve_weights(name, 8)
        except FileNotFoundError:  # a family without an x8 file (`general`): its x2 file
            path = resolve_weights(name, 2)
        offered = offered_scales(path)
        if 8 in offered:
            return [get_model(path, 8, device, precision, strength)]
        if 2 not in offered:
            shown = "/".join(f"x{s}" for s in offered) or "no scale"
            raise WeightsError(path, f"x8 needs an x8 file or an x2 file (run three times); this one is {shown}")
        return [get_model(path, 2, device, precision, strength)] * 3
    return [get_model(weights, scale, device, precision, strength)]


def filter_tile(tile: int) -> int:
    return FILTER_TILE if tile < 0 else tile


def progress_total(shape_bchw: tuple[int, ...], models: list[nn.Module], tile: int, exact: bool = False) -> int:
    b, _, h, w = shape_bchw
    if not models:
        return b * len(plan_tiles(h, w, filter_tile(tile)))
    total = 0
    for m in models:
        total += b * tile_count(h, w, tile, m, exact)
        h, w = h * m.scale, w * m.scale
    return total if models else b


def process_bchw(
    x: torch.Tensor,
    models: list[nn.Module],
    *,
    tile: int = DEFAULT_TILE,
    post: PostProcess | None = None,
    on_tile: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    out_dtype: torch.dtype | None = None,
    levels: int | None | str = "auto",
    margin: int | None = None,
    exact: bool = False,
    factor: float | None = None,
    clamp: bool = True,
    stats: torch.Tensor | None = None,
) -> torch.Tensor:
    """The one pipeline every host calls: [B,C,H,W] (C = 1, 3, 4; uint8/uint16/float) → model chain → post filters.

    No models = filters only (same size). The result comes back in `out_dtype` (default: x's), on x's device;
    x itself is never modified. `levels`: the integer grid the post filters round to between their stages
    (Pillow semantics), "auto" = that of x's dtype. Hosts whose float images come from 8-bit files (ComfyUI)
    pass 255, so the same picture gives the same 8-bit result in every host. `factor` (any value up to the
    chain's scale, e.g. 1.5 or 2.5): the chain's output is Lanczos-resized to round(H·factor) × round(W·factor)
    inside the last model's tile loop. `clamp=False` keeps float values outside [0,1] (intensity-windowed
    data: see `intensity`); the post filters still work within [0,1]. `stats`: a one-model chain's image
    statistic, given by a caller that runs a larger image part by part (`banded`).
    """
    check_tensor(x)
    if stats is not None and len(models) != 1:
        raise ValueError("a given image statistic needs a chain of exactly one model")
    total = progress_total(tuple(x.shape), models, tile, exact)
    done = [0]

    def tick(_: int = 0, __: int = 0) -> None:
        done[0] += 1
        if on_tile is not None:
            on_tile(done[0], total)

    target = out_dtype or x.dtype
    grid = levels_for(x.dtype) if levels == "auto" else levels
    post = post if post is not None and post.active else None
    if post is not None:
        post = PostProcess(**{**post.__dict__, "levels": grid})
    if not models:
        out = torch.empty_like(x, dtype=target)
        filter_tiles(x, out, post, filter_tile(tile), tick, should_stop)
        return out
    scale = 1
    for m in models:
        scale *= m.scale
    size = None
    if factor is not None:
        if not 1 < factor <= scale:
            raise ValueError(f"factor must be > 1 and at most the models' scale x{scale}, got {factor}")
        size = (max(1, round(x.shape[-2] * factor)), max(1, round(x.shape[-1] * factor)))

    def rgb_upscale(rgb: torch.Tensor, out_rgb: torch.Tensor) -> None:
        cur = rgb
        for i, m in enumerate(models):
            last = i == len(models) - 1
            cur = upscale_tensor(
                m, cur, tile=tile, out=out_rgb if last else None, on_tile=tick, should_stop=should_stop,
                post=post if last else None, post_margin=post.margin if (post and last) else 0,
                margin=margin, exact=exact, size=size if last else None, clamp=clamp, stats=stats,
            )  # fmt: skip

    return upscale_bchw(x, scale, rgb_upscale, out_dtype=target, size=size, clamp=clamp)


def chain_context(models: list[nn.Module], post: PostProcess | None = None) -> int:
    """LR pixels of context a part of the image needs for its core to equal the whole image's result: each
    model's context at the input's scale (later models run on the earlier ones' output), the post filters'
    margin, and one pixel of slack."""
    margin = sum(context_margin(m) / math.prod(n.scale for n in models[:i]) for i, m in enumerate(models))
    total = math.prod(m.scale for m in models)
    post_margin = post.margin if post is not None and post.active else 0
    return math.ceil(margin + post_margin / total) + 1


def filter_tiles(
    x: torch.Tensor,
    out: torch.Tensor,
    post: PostProcess | None,
    tile: int,
    on_tile: Callable[[], None],
    should_stop: StopFn | None,
) -> None:
    """Same-size filters tile by tile, each tile with the filters' own context band, so the result equals
    filtering the whole image, the working set stays one tile's, and progress/Cancel come every tile."""
    _, _, h, w = x.shape
    m = post.margin if post is not None else 0
    for t in plan_tiles(h, w, tile):
        if should_stop is not None and should_stop():
            raise UpscaleCancelled("cancelled")
        y0, y1, x0, x1 = astuple(t.grown(m, h, w))
        y = to_unit_float(x[:, :, y0:y1, x0:x1])
        if post is not None:
            y = post(y)  # the filters pass an RGBA alpha through untouched
        core = y[:, :, t.y0 - y0 : t.y1 - y0, t.x0 - x0 : t.x1 - x0]
        store(out[:, :, t.y0 : t.y1, t.x0 : t.x1], core)
        on_tile()


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
    intensity: str | Window | None = "auto",
    **options,
) -> np.ndarray:
    """numpy HW / HWC / BHWC (uint8, uint16, float in [0,1]) → upscaled array of the same layout and dtype.

    `models` (from `load_models`) replaces scale/weights/device/precision, for callers that run many images.
    `intensity`: how values map to the model's range (`intensity.MODES`, or a `Window` computed by the
    caller, e.g. once for a whole stack or from napari's contrast limits; None = no window).
    """
    models = models or load_models(weights, scale, device, precision)
    if intensity is None or isinstance(intensity, Window):  # None: the dtype path, no window
        window = intensity
    else:
        window = choose_window(image, intensity, rgb=image.ndim >= 3)
    if window is None:
        t, layout = numpy_to_bchw(image)
        return bchw_to_numpy(process_bchw(t, models, **options), layout, image.dtype)
    t, layout = numpy_to_bchw(to_model(image, window))
    out = process_bchw(t, models, **{**options, "out_dtype": torch.float32, "clamp": False})
    return from_model(bchw_to_numpy(out, layout, np.float32), image.dtype, window)


def filter_array(image: np.ndarray, post: PostProcess, **options) -> np.ndarray:
    """Same-size unsharp / anti-alias on numpy HW / HWC / BHWC, same dtype back."""
    t, layout = numpy_to_bchw(image)
    return bchw_to_numpy(process_bchw(t, [], post=post, **options), layout, image.dtype)
