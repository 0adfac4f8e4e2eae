"""How long a fine-tune may run on this machine: steps from a measured step time, previews at a fixed pace.

The fine-tune widget measures a few real training steps (the trainer's own `train_step` on random patches
of the chosen size, so model, loss and optimiser are the ones the run uses), then sizes the run to finish
within `BUDGET_S` and to show a preview every `PREVIEW_S` seconds, the first one well inside 30 s.
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

    def text(self, steps: int | None = None) -> str:
        n = self.steps if steps is None else steps
        total = n * self.step_seconds
        return (
            f"measured {self.step_seconds:.2f} s/step: {n} steps ≈ {_duration(total)}, "
            f"a preview every {self.preview_every} steps (≈ {_duration(self.preview_every * self.step_seconds)})"
        )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def plan_for(step_seconds: float, budget: float = BUDGET_S, preview: float = PREVIEW_S) -> Plan:
    """Steps that fit `budget` seconds (clamped to [MIN_STEPS, MAX_STEPS]) and the preview interval."""
    step_seconds = max(step_seconds, 1e-4)
    steps = int(min(MAX_STEPS, max(MIN_STEPS, budget // step_seconds)))
    every = max(1, min(steps, math.floor(preview / step_seconds)))
    return Plan(step_seconds, steps, every)


def measure_step_seconds(cfg, repeats: int = 2) -> float:
    """Seconds per training step of `cfg` (the trainer's own step, on random patches)."""
    from trainer.api import measure_step_seconds as measure

    return measure(cfg, repeats)


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
