"""The seed baselines, re-stated so one protocol compares them: ESPCN (seed 002) and SRCNN (seed 003).

Both work on RGB here (same I/O as TinyESPCN) so that every row of the benchmark sees identical data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ESPCN(nn.Module):
    """Shi et al. 2016 as in seed 002: 5×5 (64) tanh → 3×3 (32) tanh → 3×3 (3·s²) → PixelShuffle."""

    runs_at_hr = False

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.conv_a = nn.Conv2d(3, 64, 5, padding=2)
        self.conv_b = nn.Conv2d(64, 32, 3, padding=1)
        self.conv_c = nn.Conv2d(32, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv_a(x))
        x = torch.tanh(self.conv_b(x))
        return self.shuffle(self.conv_c(x))


class SRCNN(nn.Module):
    """Dong et al. 9-5-5 (64/32) on the bicubic-upsampled input, as seed 003 describes it."""

    runs_at_hr = True

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.conv_a = nn.Conv2d(3, 64, 9, padding=4)
        self.conv_b = nn.Conv2d(64, 32, 5, padding=2)
        self.conv_c = nn.Conv2d(32, 3, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return self.conv_c(F.relu(self.conv_b(F.relu(self.conv_a(up)))))
