"""napari layer ↔ core: planes over leading axes and world-aligned output metadata (intensity: core.intensity).

Pure numpy; imports no Qt, so the geometry rules are testable without a viewer.
"""

from __future__ import annotations

import itertools


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
