"""How long a fine-tune may run on this machine: steps from a measured step time, previews at a fixed pace.

The fine-tune widget measures a few real training steps (the trainer's own `train_step` on random patches
of the chosen size, so model, loss and optimiser are the ones the run uses), then sizes the run to finish
within `BUDGET_S` and to show a preview every `PREVIEW_S` seconds, the first one well inside 30 s. Previews
cost time too (each upscales the whole plane with the weights so far): the plan measures one on a crop, scales it
to the plane and counts every preview in the budget, so a slow laptop trains fewer steps instead of overrunning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BUDGET_S = 150.0  # training time of a default run (plus preview and export overhead: ~3 min in all)
PREVIEW_S = 15.0  # seconds of training between preview layers
PATCH, BATCH = 32, 8  # LR patch side and batch of a CPU fine-tune (halves the 48² step of the trainer default)
MIN_STEPS, MAX_STEPS = 10, 2000


@dataclass(frozen=True)
class Plan:
    step_seconds: float
    steps: int
    preview_every: int
    preview_seconds: float = 0.0  # measured cost of one preview layer

    def total_seconds(self, steps: int | None = None) -> float:
        n = self.steps if steps is None else steps
        return n * self.step_seconds + (n // self.preview_every) * self.preview_seconds

    def text(self, steps: int | None = None) -> str:
        n = self.steps if steps is None else steps
        return (
            f"measured {self.step_seconds:.2f} s/step: {n} steps ≈ {_duration(self.total_seconds(n))} with previews, "
            f"a preview every {self.preview_every} steps (≈ {_duration(self.preview_every * self.step_seconds)}"
            f" + {self.preview_seconds:.1f} s to draw it)"
        )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def plan_for(
    step_seconds: float, budget: float = BUDGET_S, preview: float = PREVIEW_S, preview_seconds: float = 0.0
) -> Plan:
    """Steps that fit `budget` seconds with every preview's `preview_seconds` counted (clamped to
    [MIN_STEPS, MAX_STEPS]), and the preview interval (`preview` seconds of training)."""
    step_seconds, preview_seconds = max(step_seconds, 1e-4), max(preview_seconds, 0.0)
    every = max(1, math.floor(preview / step_seconds))
    steps = int(min(MAX_STEPS, max(MIN_STEPS, budget // (step_seconds + preview_seconds / every))))
    return Plan(step_seconds, steps, max(1, min(steps, every)), preview_seconds)


def measure_step_seconds(cfg, repeats: int = 2) -> float:
    """Seconds per training step of `cfg` (the trainer's own step, on random patches)."""
    from trainer.api import measure_step_seconds as measure

    return measure(cfg, repeats)


def measure_costs(cfg, plane_pixels: int, crop: int = 96) -> tuple[float, float]:
    """(seconds per training step, seconds per preview): a preview is timed on a `crop`² input with the start
    weights (load included, as each preview loads its file) and scaled to the plane's pixel count."""
    import time

    import torch

    from ...engine.job import load_models

    step = measure_step_seconds(cfg)
    t0 = time.perf_counter()
    model = load_models(str(cfg.init), cfg.scale, "cpu", "fp32")[0]
    loaded = time.perf_counter()
    with torch.inference_mode():
        model(torch.rand(1, 3, crop, crop))
    run = time.perf_counter() - loaded
    return step, (loaded - t0) + run * plane_pixels / (crop * crop)


def offered_pairs() -> dict[str, list[int]]:
    """family → the scales it has a bundled file for (aliases and multi-scale files included)."""
    from ...core.catalog import bundled, resolve_weights

    families = sorted({n.rsplit("-x", 1)[0] for n in bundled()})
    pairs = {}
    for fam in families:
        scales = []
        for s in (2, 3, 4):
            try:
                resolve_weights(fam, s)
            except FileNotFoundError:
                continue
            scales.append(s)
        if scales:
            pairs[fam] = scales
    return pairs
