"""One entry point for every host: upscale (→ unsharp → anti-alias) any supported layout, tile by tile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .arch.tinyespcn import TinyESPCN
from .defaults import DEFAULT_TILE
from .devices import get_model
from .filters import blur_margin, msaa_antialias, msaa_margin, unsharp_mask
from .layout import bchw_to_numpy, check_tensor, numpy_to_bchw, to_unit_float, upscale_bchw
from .tiling import ProgressFn, StopFn, tile_count, upscale_tensor

SCALES = (2, 3, 4, 8)


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
    return {torch.uint8: 255, torch.uint16: 65535}.get(dtype)


def load_models(weights: str | Path | None, scale: int, device="auto", half: bool = False) -> list[TinyESPCN]:
    """The chain of models that reaches `scale`: one model, or x2 three times for x8 (LapSRN-style)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale}")
    if scale == 8:
        name = weights if weights not in (None, "") else "general-x2"
        return [get_model(name, 2, device, half)] * 3
    return [get_model(weights, scale, device, half)]


def progress_total(shape_bchw: tuple[int, ...], models: list[TinyESPCN], tile: int) -> int:
    b, _, h, w = shape_bchw
    total = 0
    for m in models:
        total += b * tile_count(h, w, tile, m)
        h, w = h * m.scale, w * m.scale
    return total


def upscale_bchw_tensor(
    x: torch.Tensor,
    models: list[TinyESPCN],
    *,
    tile: int = DEFAULT_TILE,
    post: PostProcess | None = None,
    on_tile: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    out_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """[B,C,H,W] (C = 1, 3, 4; uint8/uint16/float) → upscaled, same dtype unless `out_dtype`, on x's device."""
    check_tensor(x)
    scale = 1
    for m in models:
        scale *= m.scale
    total = progress_total(tuple(x.shape), models, tile)
    done = [0]

    def tick(_: int, __: int) -> None:
        done[0] += 1
        if on_tile is not None:
            on_tile(done[0], total)

    target = out_dtype or x.dtype
    post = post if post is not None and post.active else None
    if post is not None and post.levels == 255:
        post = PostProcess(**{**post.__dict__, "levels": levels_for(target)})

    def rgb_upscale(rgb: torch.Tensor, out_rgb: torch.Tensor) -> None:
        cur = rgb
        for i, m in enumerate(models):
            last = i == len(models) - 1
            dst = out_rgb if last else None
            cur = upscale_tensor(
                m,
                cur,
                tile=tile,
                out=dst,
                on_tile=tick,
                should_stop=should_stop,
                post=post if last else None,
                post_margin=post.margin if (post and last) else 0,
            )

    return upscale_bchw(x, scale, rgb_upscale, out_dtype=target)


def upscale_array(
    image: np.ndarray,
    scale: int = 2,
    weights: str | Path | None = None,
    *,
    device="auto",
    half: bool = False,
    tile: int = DEFAULT_TILE,
    post: PostProcess | None = None,
    on_tile: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """numpy HW / HWC / BHWC (uint8, uint16, float in [0,1]) → upscaled array of the same layout and dtype."""
    t, layout = numpy_to_bchw(image)
    models = load_models(weights, scale, device, half)
    out = upscale_bchw_tensor(t, models, tile=tile, post=post, on_tile=on_tile, should_stop=should_stop)
    return bchw_to_numpy(out, layout, image.dtype)


def filter_array(image: np.ndarray, post: PostProcess) -> np.ndarray:
    """Same-size unsharp / anti-alias on numpy HW / HWC / BHWC, same dtype back."""
    t, layout = numpy_to_bchw(image)
    x = to_unit_float(t)
    levels = levels_for(t.dtype)
    y = PostProcess(**{**post.__dict__, "levels": levels})(x) if post.active else x
    out = torch.empty_like(t)
    from .tiling import store

    store(out, y)
    return bchw_to_numpy(out, layout, image.dtype)
