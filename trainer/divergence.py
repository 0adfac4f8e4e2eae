"""A diverged run stops with a message, and non-finite weights are never saved (checkpoint or export)."""

from __future__ import annotations

import math

import torch
from torch import nn


class Diverged(ValueError):
    """The loss or the weights became NaN/Inf; the last checkpoint on disk is the last good state."""


def _advice(step: int, lr: float) -> str:
    return (
        f"stopped at step {step}; nothing non-finite was saved, the last checkpoint is the last good state. "
        f"Lower --lr (now {lr:g}), then resume or start over with --no-resume"
    )


def require_finite_loss(loss: float, step: int, lr: float) -> None:
    if not math.isfinite(loss):
        raise Diverged(f"the training loss is {loss} (diverged); {_advice(step, lr)}")


def require_finite_weights(model: nn.Module, step: int, lr: float) -> None:
    for name, t in model.state_dict().items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise Diverged(f"weight {name} holds NaN/Inf (diverged); {_advice(step, lr)}")
