"""ESPCN (Shi et al. 2016) as seed 002 states it: 5×5 (64) tanh → 3×3 (32) tanh → 3×3 (3·s²) → PixelShuffle.

RGB in and out here (same I/O as every other architecture), so one protocol compares them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .ops import pixel_shuffle
from .spec import ArchConfig, ArchSpec


@dataclass(frozen=True)
class ESPCNConfig(ArchConfig):
    scale: int = 2


class ESPCN(nn.Module):
    def __init__(self, config: ESPCNConfig | None = None) -> None:
        super().__init__()
        self.config = config or ESPCNConfig()
        s = self.config.scale
        self.conv_a = nn.Conv2d(3, 64, 5, padding=2)
        self.conv_b = nn.Conv2d(64, 32, 3, padding=1)
        self.conv_c = nn.Conv2d(32, 3 * s * s, 3, padding=1)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def receptive_radius(self) -> int:
        return 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv_a(x.to(self.conv_a.weight.dtype)))
        x = torch.tanh(self.conv_b(x))
        return pixel_shuffle(self.conv_c(x), self.scale)


def _config_from_state(state: dict) -> ESPCNConfig:
    return ESPCNConfig(scale=round((state["conv_c.weight"].shape[0] // 3) ** 0.5))


SPEC = ArchSpec(
    id="ESPCN",
    name="espcn",
    config_cls=ESPCNConfig,
    model_cls=ESPCN,
    description="ESPCN baseline (seed 002): 5x5 64 tanh, 3x3 32 tanh, 3x3 to 3·s², PixelShuffle, no skip",
    detect_keys=("conv_a.weight", "conv_b.weight", "conv_c.weight"),
    detect_shapes=(("conv_a.weight", (64, 3, 5, 5)), ("conv_c.weight", (None, 32, 3, 3))),
    baseline=True,
    config_from_state=_config_from_state,
)
