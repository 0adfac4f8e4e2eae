"""The one chain rule: which models, in which order, reach a scale or a factor."""

from __future__ import annotations

import math
from pathlib import Path

from torch import nn

from ..core.catalog import default_name, resolve_weights
from ..core.filters import PostProcess
from ..core.tiling import context_margin
from ..core.weights import WeightsError, offered_scales
from .models import DEFAULT_PRECISION, get_model
from .options import SCALES, UpscaleOptions


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


def _weights_file(weights: str | None) -> Path | None:
    if weights in (None, ""):
        return None
    path = Path(weights)
    return path if path.is_file() else None


def plan_chain(options: UpscaleOptions) -> list[nn.Module]:
    """The models for `options`: none for scale 1 (filters only); a bundled name or family gets its file of
    the target scale (`load_models`); a single file that offers no file of that scale reaches a factor with
    the smallest of its own scales above it, else its scale repeated as often as needed."""
    if options.scale == 1 and options.factor is None:
        return []
    target = options.target_scale
    path = _weights_file(options.weights)
    dev, prec = options.device, options.precision
    if path is None or options.factor is None:
        return load_models(options.weights, target, dev, prec, options.strength)
    offered = offered_scales(path)
    if target in offered or (target == 8 and 2 in offered):
        return load_models(path, target, dev, prec, options.strength)
    above = [s for s in offered if s >= options.factor]
    net = get_model(path, min(above) if above else None, dev, prec, options.strength)
    passes = max(1, math.ceil(math.log(options.factor) / math.log(net.scale) - 1e-9))
    return [net] * passes


def chain_context(models: list[nn.Module], post: PostProcess | None = None) -> int:
    """LR pixels of context a part of the image needs for its core to equal the whole image's result: each
    model's context at the input's scale (later models run on the earlier ones' output), the post filters'
    margin, and one pixel of slack."""
    margin = sum(context_margin(m) / math.prod(n.scale for n in models[:i]) for i, m in enumerate(models))
    total = math.prod(m.scale for m in models)
    post_margin = post.margin if post is not None and post.active else 0
    return math.ceil(margin + post_margin / total) + 1
