"""napari layer ↔ core: planes over leading axes, dtype normalisation, world-aligned output metadata.

Pure numpy; imports no Qt, so the geometry rules are testable without a viewer.
"""

from __future__ import annotations

import itertools

import numpy as np


def upscaled_geometry(scale, translate, ndim_world: int, factor: int) -> tuple[tuple, tuple]:
    """scale' = scale/s and translate' = translate + scale·(1/s − 1)/2 on Y and X only (pixel centres)."""
    scale, translate = list(scale), list(translate)
    for ax in (ndim_world - 2, ndim_world - 1):
        translate[ax] = translate[ax] + scale[ax] * (1 / factor - 1) / 2
        scale[ax] = scale[ax] / factor
    return tuple(scale), tuple(translate)


def plane_indices(shape: tuple[int, ...], rgb: bool, current: tuple[int, ...] | None = None) -> list[tuple]:
    """Index tuples over the leading (non-spatial) axes; `current` restricts to one plane."""
    lead = shape[: len(shape) - (3 if rgb else 2)]
    if current is not None:
        return [tuple(current[: len(lead)])]
    return list(itertools.product(*(range(n) for n in lead)))


def float_range(data) -> tuple[float, float]:
    """Exact min/max of a float layer (its normalisation range; integers use their dtype range instead).

    A subsample would clip any value it missed; for dask/zarr data numpy dispatches to a chunked reduction.
    """
    lo, hi = float(np.asarray(np.nanmin(data))), float(np.asarray(np.nanmax(data)))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("the layer has no finite values to normalise")
    return lo, (hi if hi > lo else lo + 1.0)


def to_model_plane(plane: np.ndarray, dtype: np.dtype, rng: tuple[float, float] | None) -> np.ndarray:
    """A plane as the core accepts it: ints unchanged (dtype range), floats mapped to [0,1] by `rng`."""
    if np.issubdtype(dtype, np.integer):
        if dtype not in (np.uint8, np.uint16):
            return (np.clip(plane.astype(np.float64) / np.iinfo(dtype).max, 0, 1)).astype(np.float32)
        return np.ascontiguousarray(plane)
    lo, hi = rng
    return np.clip((plane.astype(np.float32) - lo) / (hi - lo), 0, 1)


def from_model_plane(plane: np.ndarray, dtype: np.dtype, rng: tuple[float, float] | None) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        if plane.dtype == dtype:
            return plane
        return np.clip(np.round(plane * np.iinfo(dtype).max), 0, np.iinfo(dtype).max).astype(dtype)
    lo, hi = rng
    return (plane.astype(np.float32) * (hi - lo) + lo).astype(dtype)
