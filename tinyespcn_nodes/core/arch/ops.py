"""Elementwise and layout ops of the conv nets, written for the CPU's channels-last tensors (same values as
the torch.nn.functional ops they stand for; tests compare them bit for bit), and conv + activation fused into
one oneDNN call at CPU inference (same values up to one rounding; tests compare them with the plain ops)."""

from __future__ import annotations

from collections.abc import Callable

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
    each LR value is broadcast onto its s² sub-pixels instead of being repeated into a tensor first, and the
    add writes the shuffled NCHW result directly: one pass instead of four."""
    n, c, h, w = detail.shape
    out = c // (s * s)
    if lr.shape != (n, out, h, w) or not detail.is_contiguous(memory_format=torch.channels_last):
        return pixel_shuffle(detail.to(lr.dtype) + lr.repeat_interleave(s * s, dim=1), s)
    sub = detail.permute(0, 2, 3, 1).reshape(n, h, w, out, s, s)
    base = lr.permute(0, 2, 3, 1).reshape(n, h, w, out, 1, 1)
    if torch.promote_types(sub.dtype, lr.dtype) != lr.dtype:
        sub = sub.to(lr.dtype)
    if torch.is_grad_enabled() and (sub.requires_grad or base.requires_grad):  # out= has no autograd
        return torch.add(sub, base).permute(0, 3, 1, 4, 2, 5).reshape(n, out, h * s, w * s)
    total = torch.empty(n, out, h * s, w * s, dtype=lr.dtype, device=lr.device)
    # the add writes straight into the shuffled layout: a bf16 detail is widened inside it, as .to() would
    torch.add(sub, base, out=total.view(n, out, h, s, w, s).permute(0, 2, 4, 1, 3, 5))
    return total


# oneDNN's conv with its activation as a post-op (what torch.compile emits on CPU): the feature map is
# written once instead of written, read and written again (a separate activation costs about half a conv at
# 32 channels). A private op, decided per dtype: bf16 only where the CPU has native bf16 convs (AVX-512
# BW/VL/DQ or AVX-NE-CONVERT; an AVX2-only CPU raises), and a failure turns off that dtype alone, for the
# process, so a bf16 failure never costs the fp32 path its fusion.
_FUSED = {"op": getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)}
_DTYPE_FUSABLE: dict[torch.dtype, bool] = {}


def _cpu_has_bf16() -> bool:
    check = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check and check())
    except RuntimeError:
        return False


def fusable_dtype(dtype: torch.dtype) -> bool:
    """Whether the fused conv is tried for `dtype` on this CPU (fp32 always, bf16 with native support)."""
    if dtype not in _DTYPE_FUSABLE:
        _DTYPE_FUSABLE[dtype] = dtype == torch.float32 or (dtype == torch.bfloat16 and _cpu_has_bf16())
    return _DTYPE_FUSABLE[dtype]


def _compiling() -> bool:
    check = getattr(getattr(torch, "compiler", None), "is_compiling", None)  # torch >= 2.3
    return bool(check and check())


def _fusable(conv: nn.Module, x: torch.Tensor) -> bool:
    from torch.nn.modules import module as hooks

    return (
        _FUSED["op"] is not None
        and isinstance(conv, nn.Conv2d)  # not a training-form block
        and x.device.type == "cpu"
        and fusable_dtype(x.dtype)
        and not torch.is_grad_enabled()
        and not torch.jit.is_tracing()  # exporters (ONNX, TorchScript) and compilers see the plain ops
        and not torch.onnx.is_in_onnx_export()
        and not _compiling()
        and conv.padding_mode == "zeros"
        and isinstance(conv.padding, tuple)
        and not conv._forward_hooks  # output hooks (MAC counting) must see the conv's own output
        and not hooks._global_forward_hooks
        and not hooks._global_forward_pre_hooks
    )


def _fused_or_plain(
    conv: nn.Module, x: torch.Tensor, fused: Callable, plain: Callable, accepts: Callable[[], bool] = lambda: True
) -> torch.Tensor:
    """`fused(x)` (a oneDNN call) at CPU inference when `accepts()` too (asked only then: it may read data
    pointers, which exporters' fake tensors lack), after the conv's pre-hooks (the tiler's stop check);
    `plain(conv(x))` otherwise or when the op fails (then fusion stays off for that dtype in the process)."""
    if _fusable(conv, x) and accepts():
        for hook in conv._forward_pre_hooks.values():
            changed = hook(conv, (x,))
            x = x if changed is None else changed[0] if isinstance(changed, tuple) else changed
        try:
            return fused(x)
        except (RuntimeError, TypeError):
            _DTYPE_FUSABLE[x.dtype] = False
        return plain(F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups))
    return plain(conv(x))


def _geometry(conv: nn.Conv2d) -> tuple[list[int], list[int], list[int], int]:
    return list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups


def conv_pointwise(
    conv: nn.Module, x: torch.Tensor, attr: str, plain: Callable, scalars: tuple[torch.Tensor, ...] = ()
) -> torch.Tensor:
    """`plain(conv(x))` with the activation as oneDNN post-op `attr` (its parameters: `scalars`, one-element
    tensors) at CPU inference in fp32/bf16; else the plain ops (autograd, CUDA, fp16, exporters)."""

    def fused(v: torch.Tensor) -> torch.Tensor:
        return _FUSED["op"](v, conv.weight, conv.bias, *_geometry(conv), attr, [float(t) for t in scalars], "")

    return _fused_or_plain(conv, x, fused, plain)


def _sum_target(conv: nn.Conv2d, x: torch.Tensor, residual: torch.Tensor) -> bool:
    """Whether oneDNN can accumulate conv(x) into `residual`: same dtype, shape and layout, not x itself."""
    channels_last = torch.channels_last
    return (
        residual.dtype == x.dtype
        and residual.shape == (x.shape[0], conv.out_channels, *x.shape[2:])
        and residual.data_ptr() != x.data_ptr()
        and residual.is_contiguous(memory_format=channels_last) == x.is_contiguous(memory_format=channels_last)
        and (residual.is_contiguous() or residual.is_contiguous(memory_format=channels_last))
    )


def conv_add_(conv: nn.Module, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """`conv(x) + residual`. At CPU inference the add is oneDNN's sum post-op and the result is written into
    `residual` (the caller gives it up), so a residual connection costs no pass of its own."""
    op = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise_", None)

    def accepts() -> bool:
        return op is not None and conv.stride == (1, 1) and _sum_target(conv, x, residual)

    def fused(v: torch.Tensor) -> torch.Tensor:
        return op.binary(residual, v, conv.weight, conv.bias, *_geometry(conv), "add", None, None, [], None)

    return _fused_or_plain(conv, x, fused, lambda y: y + residual, accepts)


def conv_relu(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """relu(conv(x)), fused at CPU inference."""
    return conv_pointwise(conv, x, "relu", lambda y: y.relu_())  # in place: a conv output is not saved


def conv_leaky(conv: nn.Module, x: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
    """`F.prelu(conv(x), slope)`; with ONE slope (a learned leaky ReLU) fused at CPU inference. Per-channel
    slopes have no oneDNN post-op: conv, then the row-wise `prelu`."""
    if slope.numel() != 1:
        return prelu(conv(x), slope)
    return conv_pointwise(conv, x, "leaky_relu", lambda y: prelu(y, slope), (slope,))


def conv_hardswish(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`F.hardswish(conv(x))`, fused at CPU inference."""
    return conv_pointwise(conv, x, "hardswish", F.hardswish)
