"""Device choice (CUDA → MPS → CPU) and a thread-safe model cache keyed by (weights, device, dtype)."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from .model import TinyESPCN
from .registry import resolve_weights
from .weights import load_model

_CACHE: dict[tuple, TinyESPCN] = {}
_LOCK = threading.Lock()
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


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


def pick_dtype(device: torch.device, half: bool) -> torch.dtype:
    """fp16 only where it is fast and safe: CUDA. MPS/CPU stay fp32."""
    return torch.float16 if half and device.type == "cuda" else torch.float32


def get_model(weights: str | Path, scale: int | None = None, device: str | torch.device | None = "auto",
              half: bool = False) -> TinyESPCN:
    """Load (once) and return an eval-mode model on `device`; later calls with the same key share it."""
    path = resolve_weights(weights, scale)
    dev = pick_device(device)
    dtype = pick_dtype(dev, half)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(dev), dtype)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model, _ = load_model(path, scale)
            model = model.to(device=dev, dtype=dtype)
            if dev.type == "cpu":
                model = model.to(memory_format=torch.channels_last)
            _CACHE[key] = model
        return model


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


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
