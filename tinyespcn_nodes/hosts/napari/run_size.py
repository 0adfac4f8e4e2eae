"""How big a widget run is before it starts: output bytes from the layer's shape and dtype (no pixel is read),
seconds from a measured rate, and whether the run needs a confirmation (in memory) or cannot fit (on disk).

Pure numpy/stdlib; imports no Qt, so the rules are testable without a viewer.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEMORY_LIMIT = 2 * 1024**3  # an in-memory result above this (or half the free RAM) asks before it starts
PROBE_SIDE = 192  # side of the random plane a rate probe upscales (twice; the second run is timed)


@dataclass(frozen=True)
class RunSize:
    planes: int
    in_pixels: int  # input pixels the model reads (all planes, spatial only)
    out_bytes: int
    out_shape: tuple[int, ...]
    dtype: np.dtype

    def seconds(self, rate: float | None) -> float | None:
        """Seconds at `rate` input pixels per second (None: no rate measured yet)."""
        return None if not rate else self.in_pixels / rate

    def text(self, rate: float | None) -> str:
        shape = "×".join(str(n) for n in self.out_shape)
        t = self.seconds(rate)
        when = "time: measured on the first run" if t is None else f"≈ {duration(t)} at {rate / 1e6:.2f} Mpx/s"
        return f"output {size_text(self.out_bytes)} ({shape} {self.dtype}); {when}"


def run_size(shape: tuple[int, ...], dtype, rgb: bool, factor: int, current_only: bool = False) -> RunSize:
    """The size of a run over a layer of `shape`: every plane over the leading axes, or one (`current_only`)."""
    spatial = 3 if rgb else 2
    lead, plane = tuple(shape[: len(shape) - spatial]), tuple(shape[len(shape) - spatial :])
    planes = 1 if current_only else math.prod(lead)
    out_plane = (plane[0] * factor, plane[1] * factor, *plane[2:])
    out_shape = out_plane if current_only else (*lead, *out_plane)
    dtype = np.dtype(dtype)
    return RunSize(planes, planes * plane[0] * plane[1], math.prod(out_shape) * dtype.itemsize, out_shape, dtype)


def memory_limit() -> int:
    """Bytes an in-memory result may take without a confirmation: MEMORY_LIMIT or half the available RAM."""
    try:
        import psutil

        return min(MEMORY_LIMIT, psutil.virtual_memory().available // 2)
    except ImportError:
        return MEMORY_LIMIT


def free_bytes(target: str | Path) -> int:
    """Free bytes on the disk `target` (a store that may not exist yet) would be written to."""
    p = Path(target).expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def confirmation(size: RunSize, rate: float | None, limit: int) -> str | None:
    """The question to ask before an in-memory run above `limit` bytes, or None when it may just start."""
    if size.out_bytes <= limit:
        return None
    return (
        f"The result is {size.text(rate)}, held in memory (the limit is {size_text(limit)}).\n\n"
        "Set 'zarr output' to write it to disk as OME-Zarr chunk by chunk instead (opened lazily, resumable).\n\n"
        "Run in memory anyway?"
    )


def disk_refusal(size: RunSize, target: str | Path, free: int) -> str | None:
    """Why the result cannot be written to `target` (not enough free disk), or None."""
    if size.out_bytes <= free:
        return None
    return f"{target}: the result needs {size_text(size.out_bytes)} but the disk has {size_text(free)} free"


def size_text(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


_LEAD_AXES = {0: [], 1: [("z", "space")], 2: [("t", "time"), ("z", "space")],
              3: [("t", "time"), ("c", "channel"), ("z", "space")]}  # fmt: skip


def ome_zarr_entry(name: str, ndim: int, rgb: bool, scale, translate) -> tuple[dict | None, list | None]:
    """OME-Zarr (NGFF 0.4) multiscales entry and level-0 transforms for a layer of `ndim` axes with napari's
    `scale`/`translate`; (None, None) where NGFF has no place for it (RGB last axis, more than 5 axes)."""
    lead = ndim - 2
    if rgb or lead not in _LEAD_AXES:
        return None, None
    axes = [{"name": n, "type": t} for n, t in _LEAD_AXES[lead]] + [
        {"name": "y", "type": "space"},
        {"name": "x", "type": "space"},
    ]
    transforms = [
        {"type": "scale", "scale": [float(v) for v in scale]},
        {"type": "translation", "translation": [float(v) for v in translate]},
    ]
    return {"version": "0.4", "name": name, "axes": axes}, transforms
