"""SRCNN (Dong et al.) 9-5-5 with 64/32 filters on the bicubic-upscaled input, as seed 003 describes it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .spec import ArchConfig, ArchSpec


@dataclass(frozen=True)
class SRCNNConfig(ArchConfig):
    scale: int = 2


class SRCNN(nn.Module):
    def __init__(self, config: SRCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or SRCNNConfig()
        self.conv_a = nn.Conv2d(3, 64, 9, padding=4)
        self.conv_b = nn.Conv2d(64, 32, 5, padding=2)
        self.conv_c = nn.Conv2d(32, 3, 5, padding=2)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def receptive_radius(self) -> int:
        return math.ceil(8 / self.scale) + 2  # 8 HR pixels of convs, plus the bicubic's 2 LR taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        y = F.relu(self.conv_a(up.to(self.conv_a.weight.dtype)))
        return self.conv_c(F.relu(self.conv_b(y)))


SPEC = ArchSpec(
    id="SRCNN",
    name="srcnn",
    config_cls=SRCNNConfig,
    model_cls=SRCNN,
    description="SRCNN baseline (seed 003): 9-5-5, 64/32 filters, on the bicubic-upscaled image",
    detect_keys=("conv_a.weight", "conv_b.weight", "conv_c.weight"),
    detect_shapes=(("conv_a.weight", (64, 3, 9, 9)), ("conv_c.weight", (3, 32, 5, 5))),
    baseline=True,
    config_from_state=None,  # the scale is not in the tensors: files must record it
    runs_at_hr=True,
)
