"""Elementwise and layout ops of the conv nets, written for the CPU's channels-last tensors (same values as
the torch.nn.functional ops they stand for; tests compare them bit for bit)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def prelu(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """`F.prelu`, bit for bit, run on each channels-last image row as one (W·C) vector: PyTorch's kernel falls
    back to a scalar loop when the channel count is below the SIMD width (16 bf16 channels: ~15x slower)."""
    if x.dim() == 4 and x.shape[1] > 1 and weight.numel() == x.shape[1] and not x.is_contiguous():
        if x.is_contiguous(memory_format=torch.channels_last):
            n, c, h, w = x.shape
            rows = F.prelu(x.permute(0, 2, 3, 1).reshape(n * h, w * c), weight.repeat(w))
            return rows.view(n, h, w, c).permute(0, 3, 1, 2)
    return F.prelu(x, weight)


def pixel_shuffle(x: torch.Tensor, s: int) -> torch.Tensor:
    """`F.pixel_shuffle`, bit for bit, as a contiguous NCHW result. On a channels-last input PyTorch's kernel
    gathers element by element (~3x slower than this one reshape-copy), and what follows (the tiler's store
    into the NCHW output) wants NCHW anyway."""
    if x.dim() != 4 or x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return F.pixel_shuffle(x, s)
    n, c, h, w = x.shape
    out = c // (s * s)
    return x.permute(0, 2, 3, 1).reshape(n, h, w, out, s, s).permute(0, 3, 1, 4, 2, 5).reshape(n, out, h * s, w * s)


def pixel_shuffle_skip(detail: torch.Tensor, lr: torch.Tensor, s: int) -> torch.Tensor:
    """`pixel_shuffle(detail.to(lr.dtype) + lr.repeat_interleave(s*s, 1), s)`, bit for bit (the same float adds):
    each LR value is broadcast onto its s² sub-pixels instead of being repeated into a tensor first, so the
    tail makes two passes (add, shuffle copy) instead of four."""
    n, c, h, w = detail.shape
    out = c // (s * s)
    if lr.shape != (n, out, h, w) or not detail.is_contiguous(memory_format=torch.channels_last):
        return pixel_shuffle(detail.to(lr.dtype) + lr.repeat_interleave(s * s, dim=1), s)
    sub = detail.permute(0, 2, 3, 1).reshape(n, h, w, out, s, s)
    base = lr.permute(0, 2, 3, 1).reshape(n, h, w, out, 1, 1)
    if torch.promote_types(sub.dtype, lr.dtype) != lr.dtype:
        sub = sub.to(lr.dtype)
    total = torch.add(sub, base)  # a bf16 detail is widened inside the add, as .to() would do it
    return total.permute(0, 3, 1, 4, 2, 5).reshape(n, out, h * s, w * s)


def _fusable(x: torch.Tensor, conv: nn.Module) -> bool:
    """oneDNN can run conv + activation as one call: a plain conv, CPU inference, channels-last fp32/bf16."""
    if not isinstance(conv, nn.Conv2d) or x.device.type != "cpu" or x.dim() != 4 or x.dtype not in (torch.float32, torch.bfloat16):
        return False
    if torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad):
        return False
    if not isinstance(conv.padding, tuple) or conv.padding_mode != "zeros":
        return False
    if not x.is_contiguous(memory_format=torch.channels_last):
        return False
    return torch.backends.mkldnn.is_available() and (x.dtype == torch.float32 or _mkldnn_bf16())


def _mkldnn_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def conv_leaky(x: torch.Tensor, conv: nn.Module, slope: torch.Tensor) -> torch.Tensor:
    """`F.prelu(conv(x), slope)` with ONE learned slope (a leaky ReLU): on CPU inference the activation is
    a oneDNN post-op of the conv, so the feature map is written once instead of written, read and written
    again (measured: a separate activation costs about half a conv at 32 channels). Same values up to the
    rounding of one bf16 step (the fused op rounds once)."""
    if slope.numel() == 1 and _fusable(x, conv):
        return _pointwise(x, conv, "leaky_relu", [float(slope)])
    return prelu(conv(x), slope)


def conv_hardswish(x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    """`F.hardswish(conv(x))`, the activation fused into the conv on CPU inference like `conv_leaky`."""
    if _fusable(x, conv):
        return _pointwise(x, conv, "hardswish", [])
    return F.hardswish(conv(x))


def _pointwise(x: torch.Tensor, conv: nn.Conv2d, attr: str, scalars: list) -> torch.Tensor:
    return torch.ops.mkldnn._convolution_pointwise(
        x, conv.weight, conv.bias, list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups,
        attr, scalars, "",
    )  # fmt: skip
