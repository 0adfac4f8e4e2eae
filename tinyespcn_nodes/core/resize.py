"""Separable resampling in torch with two reference semantics.

* `matlab_imresize`: MATLAB `imresize(..., 'bicubic')` (Keys a=-0.5, antialiased when shrinking,
  symmetric borders). The standard SR degradation and the bicubic baseline.
* `pil_resize`: Pillow's `Image.resize` convolution resampler (Lanczos a=3 or bicubic a=-0.5,
  antialiased when shrinking, taps clipped to the image and renormalised).

Both build per-axis (index, weight) tables and apply them as K gathers, so cost and memory scale
with the output size times the kernel width, never with a dense in×out matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch


def cubic_kernel(x: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (a + 2) * ax3 - (a + 3) * ax2 + 1
    far = a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a
    return torch.where(ax <= 1, near, torch.where(ax < 2, far, torch.zeros_like(x)))


def lanczos_kernel(x: torch.Tensor, a: int = 3) -> torch.Tensor:
    inside = x.abs() < a
    return torch.where(inside, torch.sinc(x) * torch.sinc(x / a), torch.zeros_like(x))


Kernel = Callable[[torch.Tensor], torch.Tensor]
_KERNELS: dict[str, tuple[Kernel, float]] = {
    "bicubic": (cubic_kernel, 2.0),
    "lanczos": (lanczos_kernel, 3.0),
}


@lru_cache(maxsize=64)
def _matlab_taps(in_size: int, out_size: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Port of MATLAB's `contributions` (imresize.m) with symmetric border indices, in float64."""
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    x = torch.arange(1, out_size + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = u[:, None] - idx
    w = scale * cubic_kernel(scale * dist) if scale < 1 else cubic_kernel(dist)
    w = w / w.sum(dim=1, keepdim=True)
    idx0 = idx.long() - 1  # to 0-based
    idx0 = torch.where(idx0 < 0, -idx0 - 1, idx0)
    idx0 = torch.where(idx0 >= in_size, 2 * in_size - 1 - idx0, idx0)
    keep = (w != 0).any(dim=0)
    return idx0[:, keep].clamp_(0, in_size - 1).contiguous(), w[:, keep].contiguous()


@lru_cache(maxsize=64)
def _pil_taps(in_size: int, out_size: int, filter_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Port of Pillow's `precompute_coeffs` (libImaging/Resample.c)."""
    kernel, support0 = _KERNELS[filter_name]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = support0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    center = (torch.arange(out_size, dtype=torch.float64) + 0.5) * scale
    xmin = torch.clamp((center - support + 0.5).trunc(), min=0)
    xmax = torch.clamp((center + support + 0.5).trunc(), max=in_size)
    idx = xmin[:, None] + torch.arange(ksize, dtype=torch.float64)[None, :]
    w = kernel((idx - center[:, None] + 0.5) / filterscale)
    w = torch.where(idx < xmax[:, None], w, torch.zeros_like(w))
    total = w.sum(dim=1, keepdim=True)
    w = torch.where(total != 0, w / total, w)
    return idx.long().clamp_(0, in_size - 1).contiguous(), w.contiguous()


def _apply_taps(x: torch.Tensor, dim: int, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Resample `x` along `dim` with the (idx, w) tap table."""
    dim = dim % x.dim()
    w = w.to(device=x.device, dtype=x.dtype)
    plan = _periodic_run(x.shape[dim], idx, w)
    if _conv_ready(x):
        x = x.contiguous()  # one copy of a strided image (HWC arrays, channels-last) beats shifted strided sums
    if dim == x.dim() - 1 and x.dim() >= 2 and (plan is None or _conv_ready(x)):
        # rows are cheaper than columns: gathering whole rows beats gathering single elements, and the
        # depthwise conv runs along H with the columns as its channels; resample along H of the transpose
        return transposed(_taps_along(transposed(x), dim - 1, idx, w, plan))
    return _taps_along(x, dim, idx, w, plan)


def _taps_along(x: torch.Tensor, dim: int, idx: torch.Tensor, w: torch.Tensor, plan) -> torch.Tensor:
    """`_apply_taps` once the orientation is chosen: the periodic interior by one filter per phase (a
    depthwise conv along H in float32), the rest by gathers."""
    conv = dim == x.dim() - 2 and _conv_ready(x)
    if plan is None:
        return _gather_taps(x, dim, idx.to(x.device), w)
    a, b, period, step = plan
    shape = list(x.shape)
    shape[dim] = idx.shape[0]
    out = x.new_empty(shape)
    for p in range(min(period, b - a)):  # the periodic interior: one filter per phase, no gather
        o0 = a + p
        n = len(range(o0, b, period))
        dst = out.narrow(dim, o0, b - o0)[_every(dim, period)]
        start = int(idx[o0, 0])
        if conv and bool((idx[o0] == start + torch.arange(idx.shape[1])).all()):
            dst.copy_(rows_conv(x, w[o0], start, n, step))
            continue
        for k, weight in enumerate(w[o0].tolist()):
            accumulate_(dst, x.narrow(dim, int(idx[o0, k]), (n - 1) * step + 1)[_every(dim, step)], weight, k == 0)
    edges = torch.cat([torch.arange(0, a), torch.arange(b, idx.shape[0])])
    if edges.numel():
        e = edges.to(x.device)
        out.index_copy_(dim, e, _gather_taps(x, dim, idx[edges].to(x.device), w[e]))
    return out


def transposed(x: torch.Tensor) -> torch.Tensor:
    """`x.transpose(-1, -2).contiguous()`, without the cache-set thrashing of reading columns whose stride is
    a multiple of 512 bytes (widths 512, 1024, 2048: 5-10x slower): such rows are first copied to a padded buffer."""
    w = x.shape[-1]
    if w % 128 == 0 and x.dim() >= 2:
        padded = x.new_empty(*x.shape[:-1], w + 16)[..., :w]
        x = padded.copy_(x)
    elif not x.is_contiguous():
        x = x.contiguous()  # a row-major copy first: transposing a channels-last view directly is as slow
    return x.transpose(-1, -2).contiguous()


def _conv_ready(x: torch.Tensor) -> bool:
    """float32 [..., H, W]: `rows_conv` applies (float64 depthwise convs are ~10x slower than shifted sums)."""
    return x.dtype == torch.float32 and x.dim() >= 2


def rows_conv(
    x: torch.Tensor, kernel: torch.Tensor, start: int, count: int, stride: int = 1, pad: int = 0
) -> torch.Tensor:
    """`out[..., m, :] = Σ_k kernel[k] · x[..., start + stride·m + k − pad, :]` for m < count, on a contiguous
    [..., H, W]; rows outside the image (only with `pad`) read zero.

    One depthwise conv with the W columns as its channels: a row-major image already is that conv's
    channels-last input, so nothing is copied and the kernel vectorises over W, several times faster than one
    pass per tap. The conv runs over all rows (slicing the input would make oneDNN copy it); `start` is
    reached by leading zero taps and a narrow of the output.
    """
    h, w = x.shape[-2:]
    lead = start % stride
    kernel = torch.cat([kernel.new_zeros(lead), kernel]) if lead else kernel
    k = kernel.numel()
    v = x.reshape(-1, h, 1, w).permute(0, 3, 1, 2)
    weight = kernel.to(x).reshape(1, 1, k, 1).expand(w, 1, k, 1).contiguous()
    y = torch.nn.functional.conv2d(v, weight, stride=(stride, 1), padding=(pad, 0), groups=w)  # channels-last
    y = y.permute(0, 2, 3, 1).reshape(*x.shape[:-2], -1, w)
    return y.narrow(-2, (start - lead) // stride, count)


def accumulate_(dst: torch.Tensor, src: torch.Tensor, weight: float, first: bool) -> None:
    """dst = src·weight on the first tap, dst += src·weight after: one fused pass, no temporary."""
    torch.mul(src, weight, out=dst) if first else dst.add_(src, alpha=weight)


def _every(dim: int, step: int) -> tuple:
    return (slice(None),) * dim + (slice(None, None, step),)


def _gather_taps(x: torch.Tensor, dim: int, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    shape = [1] * x.dim()
    shape[dim] = idx.shape[0]
    out = None
    for k in range(idx.shape[1]):
        term = x.index_select(dim, idx[:, k]) * w[:, k].reshape(shape)
        out = term if out is None else out.add_(term)
    return out


def _periodic_run(in_size: int, idx: torch.Tensor, w: torch.Tensor) -> tuple[int, int, int, int] | None:
    """(a, b, period, step): outputs a..b-1 repeat the taps of a..a+period-1 shifted by `step` inputs per
    period, with bit-identical weights (integer-ratio resizes away from the borders), or None."""
    out_size = idx.shape[0]
    g = math.gcd(out_size, in_size)
    period, step = out_size // g, in_size // g
    if period > 4 or out_size < 4 * period:
        return None
    wc = w.cpu()
    same = (idx[period:] == idx[:-period] + step).all(dim=1) & (wc[period:] == wc[:-period]).all(dim=1)
    best, run_start, a, b = 0, None, 0, 0
    for o, ok in enumerate([*same.tolist(), False]):  # `same[o]`: output o + period repeats output o
        if ok and run_start is None:
            run_start = o
        elif not ok and run_start is not None:
            if o - run_start > best:
                best, a, b = o - run_start, run_start, o + period
            run_start = None
    return (a, b, period, step) if best >= 2 * period else None


def _check_resize_input(x: torch.Tensor, out_h: int, out_w: int) -> None:
    if x.dim() < 2:
        raise ValueError(f"resize needs a tensor [..., H, W], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"resize needs a floating tensor, got {x.dtype}")
    if out_h < 1 or out_w < 1 or x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ValueError(f"cannot resize {tuple(x.shape[-2:])} to {(out_h, out_w)}")


def matlab_imresize(x: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None) -> torch.Tensor:
    """MATLAB `imresize(x, scale, 'bicubic')` on [..., H, W] float (computed in float64, returned in x.dtype)."""
    h, w = x.shape[-2:]
    if size is None:
        if scale is None:
            raise ValueError("give scale or size")
        size = (math.ceil(h * scale), math.ceil(w * scale))
    out_h, out_w = size
    _check_resize_input(x, out_h, out_w)
    sh = scale if scale is not None else out_h / h
    sw = scale if scale is not None else out_w / w
    y = x.to(torch.float64)
    y = _apply_taps(y, -2, *_matlab_taps(h, out_h, float(sh)))
    y = _apply_taps(y, -1, *_matlab_taps(w, out_w, float(sw)))
    return y.to(x.dtype)


def quantize_levels(x: torch.Tensor, levels: int | None) -> torch.Tensor:
    """Clamp to [0,1] and, when `levels` is set, round to that integer grid (Pillow's 8-bit stores: 255)."""
    x = x.clamp(0, 1)
    return x.mul(levels).round_().div_(levels) if levels else x


def quantize_levels_(x: torch.Tensor, levels: int) -> torch.Tensor:
    """`quantize_levels` in place, for a temporary the caller owns."""
    return x.clamp_(0, 1).mul_(levels).round_().div_(levels)


def round_grid_(x: torch.Tensor, levels: int) -> torch.Tensor:
    """`quantize_levels_` for data held in grid units (0..levels): clamp and round, two passes instead of four."""
    return x.clamp_(0, levels).round_()


def pil_resize(
    x: torch.Tensor,
    size: tuple[int, int],
    filter_name: str = "lanczos",
    levels: int | None = None,
    grid_units: bool = False,
) -> torch.Tensor:
    """Pillow-semantics resize of [..., H, W] float to `size` = (out_h, out_w); horizontal pass first, like Pillow.

    With `levels` (e.g. 255) each pass is clamped and rounded to that grid, as Pillow does for 8-bit images.
    `grid_units`: `x` is already scaled to 0..levels (as Pillow's integers are), so each pass rounds without
    rescaling; filter chains scale once at their start and end.
    """
    if filter_name not in _KERNELS:
        raise ValueError(f"filter must be one of {sorted(_KERNELS)}, got {filter_name!r}")
    out_h, out_w = size
    _check_resize_input(x, out_h, out_w)
    h, w = x.shape[-2:]
    quantize_ = round_grid_ if grid_units else quantize_levels_
    y = x
    if out_w != w:
        y = _apply_taps(y, -1, *_pil_taps(w, out_w, filter_name))  # a new tensor: quantized in place
        y = quantize_(y, levels) if levels else y
    if out_h != h:
        y = _apply_taps(y, -2, *_pil_taps(h, out_h, filter_name))
        y = quantize_(y, levels) if levels else y
    return y if y is not x else x.clone()


class TiledResize:
    """`pil_resize` of a large image computed tile by tile, equal to resizing the whole image at once.

    Each output pixel belongs to the tile whose core holds its centre; a tile must carry `margin` input
    pixels of context on every side so that all of that pixel's taps lie inside it. Used to reach any
    factor (x1.5, x2.5, a target size) inside the upscaler's tile loop without a full-size float buffer.
    """

    def __init__(self, in_size: tuple[int, int], out_size: tuple[int, int], filter_name: str = "lanczos"):
        if filter_name not in _KERNELS:
            raise ValueError(f"filter must be one of {sorted(_KERNELS)}, got {filter_name!r}")
        (self.in_h, self.in_w), (self.out_h, self.out_w) = in_size, out_size
        if min(self.in_h, self.in_w, self.out_h, self.out_w) < 1:
            raise ValueError(f"cannot resize {in_size} to {out_size}")
        self.taps_h = _pil_taps(self.in_h, self.out_h, filter_name) if self.out_h != self.in_h else None
        self.taps_w = _pil_taps(self.in_w, self.out_w, filter_name) if self.out_w != self.in_w else None
        support = _KERNELS[filter_name][1]
        scale = max(self.in_h / self.out_h, self.in_w / self.out_w, 1.0)
        self.margin = int(math.ceil(support * scale)) + 2

    def _span(self, core0: int, core1: int, n_in: int, n_out: int) -> tuple[int, int]:
        """Output indices [j0, j1) whose centre (j + 0.5)·in/out lies in [core0, core1) of the input."""
        ratio = n_in / n_out
        j0 = max(0, math.ceil(core0 / ratio - 0.5))
        j1 = min(n_out, math.ceil(core1 / ratio - 0.5)) if core1 < n_in else n_out
        return j0, max(j0, j1)

    def spans(self, y0: int, y1: int, x0: int, x1: int) -> tuple[int, int, int, int]:
        return (*self._span(y0, y1, self.in_h, self.out_h), *self._span(x0, x1, self.in_w, self.out_w))

    def apply(self, tile: torch.Tensor, origin: tuple[int, int], spans: tuple[int, int, int, int], levels=None):
        """Resize `tile` (input rows/cols starting at `origin`) to the output block `spans` = (j0, j1, i0, i1)."""
        j0, j1, i0, i1 = spans
        oy, ox = origin
        y = tile
        if self.taps_w is not None:
            idx, w = self.taps_w
            y = _apply_taps(y, -1, self._local(idx[i0:i1], w[i0:i1], ox, tile.shape[-1]), w[i0:i1])
            y = quantize_levels(y, levels) if levels else y
        else:
            y = y[..., i0 - ox : i1 - ox]
        if self.taps_h is not None:
            idx, w = self.taps_h
            y = _apply_taps(y, -2, self._local(idx[j0:j1], w[j0:j1], oy, tile.shape[-2]), w[j0:j1])
            y = quantize_levels(y, levels) if levels else y
        else:
            y = y[..., j0 - oy : j1 - oy, :]
        return y

    @staticmethod
    def _local(idx: torch.Tensor, w: torch.Tensor, origin: int, extent: int) -> torch.Tensor:
        local = idx - origin
        outside = (local < 0) | (local >= extent)
        if (outside & (w != 0)).any():
            raise ValueError("tile too small for the resize taps (context margin below TiledResize.margin)")
        return local.clamp(0, extent - 1)  # zero-weight taps may point anywhere
