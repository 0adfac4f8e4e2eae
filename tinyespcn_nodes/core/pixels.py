"""Host layouts in, host layouts out: normalisation around the core for numpy HWC/HW and torch BCHW.

* dtype: uint8 / uint16 are scaled by their range; float16/32/64 are taken as [0,1]; the result comes back
  in the input dtype, clipped (and rounded for integers).
* channels: 1 (or 2-D) → replicated to RGB, the model's RGB averaged back to one channel;
  3 → RGB; 4 → RGB through the model, alpha resized with Pillow-style bicubic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .resize import pil_resize

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
_TORCH_DTYPES = {
    torch.uint8: 255.0,
    torch.uint16: 65535.0,
    torch.float16: 1.0,
    torch.bfloat16: 1.0,
    torch.float32: 1.0,
    torch.float64: 1.0,
}


def check_tensor(x: torch.Tensor, name: str = "image") -> None:
    """Reject what no host should hand us: wrong rank, empty, unsupported dtype, NaN/Inf."""
    if x.dim() != 4:
        raise ValueError(f"{name}: expected 4 dimensions [B,C,H,W], got shape {tuple(x.shape)}")
    if x.shape[1] not in (1, 3, 4):
        raise ValueError(f"{name}: expected 1, 3 or 4 channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if x.shape[0] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{name}: empty image of shape {tuple(x.shape)}")
    if x.dtype not in _TORCH_DTYPES:
        raise TypeError(f"{name}: unsupported dtype {x.dtype} (use uint8, uint16 or float)")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or Inf values")


def to_unit_float(x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Any supported dtype → float32 in [0,1] (floats unclamped with `clamp=False`)."""
    scale = _TORCH_DTYPES[x.dtype]
    y = x.detach()
    y = y.to(torch.int32) if y.dtype == torch.uint16 else y  # uint16 has few CPU kernels
    y = y.float()
    if scale != 1.0:
        return y.div_(scale) if y is not x else y / scale
    return y.clamp(0, 1) if clamp else y.clone()  # never in place: y may be the caller's own tensor


def upscale_bchw(
    x: torch.Tensor,
    scale: int,
    rgb_upscale: Callable[[torch.Tensor, torch.Tensor], None],
    *,
    out_dtype: torch.dtype | None = None,
    size: tuple[int, int] | None = None,
    clamp: bool = True,
) -> torch.Tensor:
    """Upscale [B,C,H,W] (C = 1, 3, 4) of any supported dtype; `rgb_upscale(rgb_float, out_rgb)` fills the RGB part
    (for C = 1, `out_rgb` is the 1-channel output: the mean of the RGB result goes there).

    The output is `size` (out_h, out_w) when given, else `scale` times the input.
    """
    check_tensor(x)
    b, c, h, w = x.shape
    out_h, out_w = size or (h * scale, w * scale)
    out_dtype = out_dtype or x.dtype
    out = torch.empty((b, c, out_h, out_w), dtype=out_dtype, device=x.device)
    # integers go to the tiler as they are (it converts each tile); floats are clamped here once
    src = x.detach() if x.dtype in (torch.uint8, torch.uint16) else to_unit_float(x, clamp)
    if c == 1:  # gray through the RGB model; the tiler averages each tile's channels into `out`
        rgb_upscale(src.expand(b, 3, h, w), out)
        return out
    rgb_upscale(src[:, :3], out[:, :3])
    if c == 4:
        alpha = pil_resize(to_unit_float(x[:, 3:4]), (out_h, out_w), "bicubic")
        _store(out[:, 3:4], alpha)
    return out


def _store(out: torch.Tensor, value: torch.Tensor, clamp: bool = True) -> None:
    from .tiling import store

    store(out, value, clamp)


def numpy_to_bchw(arr: np.ndarray, name: str = "image") -> tuple[torch.Tensor, str]:
    """HW, HWC (C = 1, 3, 4) or BHWC numpy → (BCHW tensor sharing dtype, layout tag)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype.type not in SUPPORTED_DTYPES:
        raise TypeError(f"{name}: unsupported dtype {arr.dtype} (use uint8, uint16, float16/32/64)")
    if arr.ndim == 2:
        layout, arr4 = "HW", arr[None, :, :, None]
    elif arr.ndim == 3:
        layout, arr4 = "HWC", arr[None]
    elif arr.ndim == 4:
        layout, arr4 = "BHWC", arr
    else:
        raise ValueError(f"{name}: expected 2-4 dimensions (HW, HWC or BHWC), got shape {arr.shape}")
    if arr4.dtype == np.float64:
        arr4 = arr4.astype(np.float32)
    arr4 = np.ascontiguousarray(arr4)
    if not arr4.flags.writeable:  # torch cannot share a read-only buffer without warning: copy it
        arr4 = arr4.copy()
    t = torch.from_numpy(arr4).permute(0, 3, 1, 2)
    check_tensor(t, name)
    return t, layout


def bchw_to_numpy(t: torch.Tensor, layout: str, dtype: np.dtype) -> np.ndarray:
    arr = t.permute(0, 2, 3, 1).cpu().numpy()
    if layout == "HW":
        arr = arr[0, :, :, 0]
    elif layout == "HWC":
        arr = arr[0]
    return arr.astype(dtype, copy=False)


def upscaled_geometry(scale, translate, ndim_world: int, factor: int) -> tuple[tuple, tuple]:
    """scale' = scale/s and translate' = translate + scale·(1/s − 1)/2 on Y and X only (pixel centres)."""
    scale, translate = list(scale), list(translate)
    for ax in (ndim_world - 2, ndim_world - 1):
        translate[ax] = translate[ax] + scale[ax] * (1 / factor - 1) / 2
        scale[ax] = scale[ax] / factor
    return tuple(scale), tuple(translate)
