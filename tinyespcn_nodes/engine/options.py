"""What a user chose for one run: frozen, hashable and picklable (dask workers get it; zarr jobs hash it)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from ..core.defaults import AUTO_TILE
from ..core.filters import PostProcess
from ..core.intensity import MODES, Window
from ..core.tiling import STATISTICS
from .models import PRECISIONS

SCALES = (2, 3, 4, 8)


@dataclass(frozen=True)
class UpscaleOptions:
    """`scale=1`: no model, the post filters alone (same size). `factor`: any value in (1, 8], the chain that
    reaches it, then Lanczos in the tile loop. `context`: extra LR context per tile (ComfyUI's "overlap"; the
    model's own context is the floor). `levels`: the filters' rounding grid ("auto" = the input dtype's;
    ComfyUI passes 255). `statistics`: how a model with an image statistic gets it (auto: the exact code
    cache where it fits, else sampled crops)."""

    weights: str | None = None
    scale: int = 2
    factor: float | None = None
    tile: int = AUTO_TILE
    context: int = 0
    device: str = "auto"
    precision: str = "auto"
    intensity: str | Window | None = "auto"
    post: PostProcess = field(default_factory=PostProcess)
    statistics: str = "auto"
    levels: int | None | str = "auto"
    strength: float = 1.0  # photo files: 0 = the clean partner, 1 = the photo model (core/strength.py)

    def __post_init__(self) -> None:
        if isinstance(self.weights, os.PathLike):
            object.__setattr__(self, "weights", os.fspath(self.weights))
        if self.scale != 1 and self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale}")
        if self.factor is not None and not 1 < self.factor <= SCALES[-1]:
            raise ValueError(f"factor must be above 1 and at most {SCALES[-1]}, got {self.factor}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.statistics not in STATISTICS:
            raise ValueError(f"statistics must be one of {', '.join(STATISTICS)}, got {self.statistics!r}")
        if isinstance(self.intensity, str) and self.intensity not in MODES:
            raise ValueError(f"intensity must be one of {', '.join(MODES)} or a Window, got {self.intensity!r}")
        if not 0 <= self.strength <= 1:
            raise ValueError(f"strength must be between 0 and 1, got {self.strength}")
        if self.context < 0:
            raise ValueError(f"context must be 0 or more, got {self.context}")

    @property
    def target_scale(self) -> int:
        """The model scale the chain reaches: `scale`, or for a `factor` the smallest of SCALES above it."""
        if self.factor is None:
            return self.scale
        return next(s for s in SCALES if self.factor <= s)

    def fingerprint(self) -> dict:
        """JSON-ready description (zarr jobs compare it to resume only the same run)."""
        out = asdict(self)
        if isinstance(self.intensity, Window):
            out["intensity"] = [self.intensity.lo, self.intensity.hi]
        return out
