"""napari layer ↔ core: planes over leading axes and world-aligned output metadata (intensity: core.intensity).

Pure numpy; imports no Qt, so the geometry rules are testable without a viewer.
"""

from __future__ import annotations

import itertools

from ...core.pixels import upscaled_geometry

__all__ = ["plane_indices", "upscaled_geometry"]


def plane_indices(shape: tuple[int, ...], rgb: bool, current: tuple[int, ...] | None = None) -> list[tuple]:
    """Index tuples over the leading (non-spatial) axes; `current` restricts to one plane."""
    lead = shape[: len(shape) - (3 if rgb else 2)]
    if current is not None:
        return [tuple(current[: len(lead)])]
    return list(itertools.product(*(range(n) for n in lead)))
