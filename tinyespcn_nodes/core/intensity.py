"""Intensity windows: how a host's values map to the model's [0, 1] and back.

* `range`: the dtype's range for 8/16-bit integers (photos), [0, max] for wider integers, [0, 1] for float
  data already inside it, else the data's min/max;
* `percentile`: the 0.1 / 99.9 % percentiles of the whole array (CSBDeep's convention), so dim 12/16-bit
  micrographs that fill a small part of their dtype reach the model as a normally exposed image;
* `auto`: range for uint8 and for float data inside [0, 1], percentile for other integers and floats.

The map is linear and never clips on the way in: values outside the window reach the model (and survive
it) as values outside [0, 1]; the way back clips only to the dtype's own range. Statistics come from the
whole array (plane or stack) so tiles and planes share one window; arrays above `SAMPLE_LIMIT` values are
read on a regular grid of rows and columns (every plane), a deterministic sample that also works lazily
on dask/zarr arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MODES = ("auto", "range", "percentile")
PERCENTILES = (0.1, 99.9)
SAMPLE_LIMIT = 4_000_000
_BLOCK_VALUES = 2**20  # values per block of the way back (its float64 working copy: 8 MB)


@dataclass(frozen=True)
class Window:
    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.hi <= self.lo:
            raise ValueError(f"intensity window needs finite lo < hi, got [{self.lo}, {self.hi}]")


def _sample(data, spatial_axes: int = 2) -> np.ndarray:
    """All values, or a strided grid of rows/columns when the array holds more than SAMPLE_LIMIT values."""
    size = math.prod(data.shape)
    if size <= SAMPLE_LIMIT:
        return np.asarray(data)
    step = math.ceil(math.sqrt(size / SAMPLE_LIMIT))
    index = [slice(None)] * data.ndim
    for ax in range(data.ndim - spatial_axes, data.ndim):
        index[ax] = slice(None, None, step)
    return np.asarray(data[tuple(index)])


def percentile_window(data, percentiles: tuple[float, float] = PERCENTILES, rgb: bool = False) -> Window:
    return _percentiles_of(_sample(data, 3 if rgb else 2), percentiles)


def _percentiles_of(values: np.ndarray, percentiles: tuple[float, float] = PERCENTILES) -> Window:
    values = values.astype(np.float64, copy=False)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("the image has no finite values to normalise (all NaN or Inf)")
    lo, hi = np.percentile(values, percentiles)
    if hi <= lo:  # a (nearly) constant image: fall back to its min/max, then to a unit window
        lo, hi = float(values.min()), float(values.max())
        hi = hi if hi > lo else lo + 1.0
    return Window(float(lo), float(hi))


def choose_window(data, mode: str = "auto", rgb: bool = False) -> Window | None:
    """The window for `data` (numpy, dask or zarr), or None: the dtype path (uint8/uint16 by their range,
    float data already in [0, 1]) that every photo takes."""
    if mode not in MODES:
        raise ValueError(f"intensity mode must be one of {', '.join(MODES)}, got {mode!r}")
    dtype = np.dtype(data.dtype)
    if dtype.kind in "ui":
        if mode == "percentile" or (mode == "auto" and dtype != np.uint8):
            return percentile_window(data, rgb=rgb)
        if dtype in (np.uint8, np.uint16):
            return None
        return Window(0.0, float(np.iinfo(dtype).max))
    if dtype.kind != "f":
        raise TypeError(f"unsupported dtype {dtype} (use integers or floats)")
    if mode == "percentile":
        return percentile_window(data, rgb=rgb)
    values = _sample(data, 3 if rgb else 2)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("the image has no finite values to normalise (all NaN or Inf)")
    if lo >= 0 and hi <= 1:
        return None
    return _percentiles_of(values) if mode == "auto" else Window(lo, hi if hi > lo else lo + 1.0)


def to_model(plane: np.ndarray, window: Window | None) -> np.ndarray:
    """float32 (x − lo)/(hi − lo), unclipped; the plane itself when there is no window."""
    if window is None:
        return plane
    return ((plane.astype(np.float32) - np.float32(window.lo)) / np.float32(window.hi - window.lo)).astype(
        np.float32, copy=False
    )


def from_model(plane: np.ndarray, dtype: np.dtype, window: Window | None) -> np.ndarray:
    """Back to `dtype`: the inverse map, clipped only to the dtype's range (and rounded for integers)."""
    dtype = np.dtype(dtype)
    if window is None:
        return plane.astype(dtype, copy=False)
    if plane.ndim == 0:
        return from_model(plane[None], dtype, window)[0]
    out = np.empty(plane.shape, dtype)
    step = max(1, _BLOCK_VALUES // max(1, math.prod(plane.shape[1:])))  # row blocks: small float64 copies
    for i in range(0, plane.shape[0], step):
        y = plane[i : i + step].astype(np.float64)
        y *= window.hi - window.lo
        y += window.lo
        if dtype.kind in "ui":
            info = np.iinfo(dtype)
            np.clip(np.round(y, out=y), info.min, info.max, out=y)
        out[i : i + step] = y
    return out
