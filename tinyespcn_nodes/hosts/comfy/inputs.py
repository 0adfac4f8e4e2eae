"""ComfyUI node inputs checked before any work, each refusal naming the input: IMAGE tensors and factors."""

from __future__ import annotations

import math


def checked_image(image, name: str = "image"):
    """IMAGE as [B,H,W,C]: a 3-D [H,W,C] single image gets its batch axis; other ranks, empty sides or
    channel counts other than 1/3/4 are refused with a ValueError naming `name` and the shape."""
    import torch

    if not isinstance(image, torch.Tensor):
        raise ValueError(f"{name}: expected an IMAGE tensor, got {type(image).__name__}")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    shape = tuple(image.shape)
    if image.dim() != 4:
        raise ValueError(f"{name}: expected an IMAGE of shape [batch, height, width, channels], got {shape}")
    if min(shape[:3]) < 1:
        raise ValueError(f"{name}: empty image of shape {shape} (batch, height and width must be at least 1)")
    if shape[3] not in (1, 3, 4):
        raise ValueError(f"{name}: expected 1, 3 or 4 channels in the last axis, got shape {shape}")
    return image


def checked_factor(value, name: str) -> float:
    """A finite number, or a ValueError naming the input (NaN and inf come from hand-edited workflows)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return number
