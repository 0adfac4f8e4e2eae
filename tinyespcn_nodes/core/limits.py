"""Sane bounds, checked before anything is allocated: model configs read from files, image sizes from headers.

A crafted weights file can claim any config (blocks=10^8, channels=10^6); a crafted image header can claim
any size (a decompression bomb). Both are refused here, with a message naming the file, before a single
tensor or pixel buffer is made.
"""

from __future__ import annotations

import math
from dataclasses import fields

# the largest integer any model config field may hold (channels, blocks, stem ...); real files use <= 512
MAX_CONFIG_INT = 4096
# the default pixel limit of an image decoded whole in memory (--max-pixels raises it): 16384 x 16384
DEFAULT_MAX_PIXELS = 16384 * 16384


def check_config_fields(config_cls, raw: dict) -> None:
    """Each field of `raw` has the type of `config_cls`'s default and integers are within MAX_CONFIG_INT.

    Raises ValueError naming the field; runs before the config (and any model) is built."""
    if not isinstance(raw, dict):
        raise ValueError("model config must be a JSON object")
    defaults = {f.name: f.default for f in fields(config_cls)}
    for name, value in raw.items():
        if name not in defaults:
            continue  # the config class names unknown keys itself
        kind = type(defaults[name])
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise ValueError(f"config field {name!r} must be a {kind.__name__}, got {value!r}")
        if kind in (int, float) and not -MAX_CONFIG_INT <= value <= MAX_CONFIG_INT:
            raise ValueError(f"config field {name!r} = {value!r} is outside the sane range ±{MAX_CONFIG_INT}")


def pixel_limit_reason(width: int, height: int, frames: int = 1, max_pixels: int | None = None) -> str | None:
    """Why an image whose header claims this size must not be decoded, or None (limit: DEFAULT_MAX_PIXELS)."""
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    if width <= 0 or height <= 0:
        return f"header claims an empty image ({width}x{height})"
    if int(width) * int(height) * max(1, int(frames)) > limit:
        many = f" x {frames} frames" if frames > 1 else ""
        return (
            f"{width}x{height} pixels{many} exceeds the limit of {limit} pixels (a decompression bomb?); "
            "pass --max-pixels N to allow it"
        )
    return None
