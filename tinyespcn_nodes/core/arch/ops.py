"""Elementwise and layout ops of the conv nets, written for the CPU's channels-last tensors (same values as
the torch.nn.functional ops they stand for; tests compare them bit for bit)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
