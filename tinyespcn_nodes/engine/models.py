"""Device choice (CUDA → MPS → CPU) and a thread-safe model cache keyed by (weights, device, dtype)."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import torch
from torch import nn

from ..core.catalog import resolve_weights
from ..core.defaults import DEFAULT_PRECISION, DEVICE_CHOICES, PRECISIONS
from ..core.strength import load_with_strength
from ..core.tiling import attach_fp32_twin
from ..core.weights import load_model

_CACHE: dict[tuple, nn.Module] = {}
_LOCK = threading.Lock()
__all__ = ["DEFAULT_PRECISION", "DEVICE_CHOICES", "PRECISIONS", "get_model", "pick_device", "pick_dtype", "release"]


def pick_device(name: str | torch.device | None = "auto") -> torch.device:
    if isinstance(name, torch.device):
        return name
    name = name or "auto"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"--device {name}: MPS is not available on this machine")
    return device


def pick_dtype(device: torch.device, precision: str | bool = "fp32") -> torch.dtype:
    """The model dtype for `precision` (PRECISIONS; True = the old `--half` = auto, False = fp32).

    auto: fp16 on CUDA, bf16 on CPUs with native bf16 (AVX-512 BF16/AMX), fp32 elsewhere. The skip path
    stays fp32 either way; `bench` prints the reduced-precision speed and its difference from fp32.
    """
    precision = {True: "auto", False: "fp32"}.get(precision, precision)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return torch.float32
    if precision == "fp16":
        if device.type not in ("cuda", "mps"):
            raise ValueError(f"precision fp16 needs a CUDA or MPS device, not {device.type} (use bf16 or auto)")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def cpu_has_fast_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def get_model(
    weights: str | Path,
    scale: int | None = None,
    device: str | torch.device | None = "auto",
    precision: str | bool = "fp32",
    strength: float = 1.0,
) -> nn.Module:
    """Load (once) and return an eval-mode model on `device` in `precision`; same key, same shared model.
    `strength` below 1 mixes a photo file with its clean partner (core/strength.py)."""
    path = resolve_weights(weights, scale)
    dev = pick_device(device)
    dtype = pick_dtype(dev, precision)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(dev), dtype, scale, float(strength))
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model, _ = load_model(path, scale) if strength == 1.0 else load_with_strength(path, strength, scale)
            exact = model.to(device=dev)
            if dtype != torch.float32:
                model = copy.deepcopy(exact).to(dtype=dtype)
                attach_fp32_twin(model, exact)  # the tiler's retry for tiles that overflow in fp16/bf16
            if dev.type == "cpu":
                model = model.to(memory_format=torch.channels_last)
            _CACHE[key] = model
        return model


def release(device: torch.device | str) -> None:
    """Drop cached models on an accelerator (ComfyUI offloads after a node runs); CPU copies stay cached."""
    dev = torch.device(device)
    if dev.type == "cpu":
        return
    with _LOCK:
        for key in [k for k in _CACHE if k[3] == str(dev)]:
            del _CACHE[key]
    if dev.type == "cuda":
        torch.cuda.empty_cache()
