"""TinyESPCN: the seed architecture (docs/seed-projects.md §1.1), configurable and honestly counted."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

ARCH_ID = "TinyESPCN"
SUPPORTED_SCALES = (2, 3, 4)


@dataclass(frozen=True)
class TinyESPCNConfig:
    """Everything needed to rebuild the network; stored as JSON in every weights file."""

    scale: int = 2
    channels: int = 64
    blocks: int = 10
    head_kernel: int = 7
    attention: bool = True
    reduction: int = 16
    residual: bool = False  # seed code: plain stack; seed README: "residual blocks"

    def __post_init__(self) -> None:
        if self.scale not in SUPPORTED_SCALES:
            raise ValueError(f"scale must be one of {SUPPORTED_SCALES}, got {self.scale!r}")
        if self.channels < 1 or self.blocks < 0:
            raise ValueError(f"channels must be >= 1 and blocks >= 0, got {self.channels}, {self.blocks}")
        if self.head_kernel < 1 or self.head_kernel % 2 == 0:
            raise ValueError(f"head_kernel must be a positive odd number, got {self.head_kernel}")
        if self.attention and self.reduction < 1:
            raise ValueError(f"reduction must be >= 1, got {self.reduction}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TinyESPCNConfig:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("model config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**raw)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: global average pool → FC → ReLU → FC → sigmoid gate."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc_down = nn.Linear(channels, hidden, bias=False)
        self.fc_up = nn.Linear(hidden, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = x.mean(dim=(2, 3))
        gate = torch.sigmoid(self.fc_up(F.relu(self.fc_down(gate))))
        return x * gate[:, :, None, None]


class TinyESPCN(nn.Module):
    """RGB [B,3,h,w] in [0,1] → RGB [B,3,s·h,s·w]. Unclamped: clamp at inference only (see `upscale_tensor`).

    Tensor names (`feat_in`, `trunk`, `attn`, `to_sub`) match no spandrel architecture.
    """

    def __init__(self, config: TinyESPCNConfig | None = None) -> None:
        super().__init__()
        self.config = config or TinyESPCNConfig()
        c, s = self.config.channels, self.config.scale
        k = self.config.head_kernel
        self.feat_in = nn.Conv2d(3, c, k, padding=k // 2)
        self.trunk = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(self.config.blocks))
        self.attn = ChannelAttention(c, self.config.reduction) if self.config.attention else None
        self.to_sub = nn.Conv2d(c, 3 * s * s, 3, padding=1)
        self.shuffle = nn.PixelShuffle(s)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context each output pixel depends on (besides the global attention gate)."""
        return self.config.head_kernel // 2 + self.config.blocks + 1

    def features(self, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head and trunk: (x1, x2) before attention, in the weights' dtype (fp16/bf16 models take fp32 input)."""
        x1 = self.feat_in(
            lr.to(self.feat_in.weight.dtype)
        ).relu_()  # in place: a conv output is not needed by its own backward
        x2 = x1
        for conv in self.trunk:
            y = conv(x2).relu_()
            x2 = x2 + y if self.config.residual else y
        return x1, x2

    def gate(self, pooled: torch.Tensor) -> torch.Tensor | None:
        """Attention gate [B,C] from the global mean of x2 [B,C]; None when attention is off."""
        if self.attn is None:
            return None
        return torch.sigmoid(self.attn.fc_up(F.relu(self.attn.fc_down(pooled))))

    def reconstruct(
        self, lr: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor, gate: torch.Tensor | None
    ) -> torch.Tensor:
        # inference reuses x2's buffer (tile memory stays a handful of activations); training needs x2 intact.
        # The skip stays in the input's precision (fp32): a bf16/fp16 model only rounds the detail.
        inplace = not torch.is_grad_enabled() and x2 is not x1
        if gate is not None:
            g = gate[:, :, None, None].to(x2.dtype)
            x2 = x2.mul_(g) if inplace else x2 * g
        detail = self.shuffle(self.to_sub(x2.add_(x1) if inplace else x1 + x2))
        base = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base.add_(detail) if inplace else base + detail

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.features(lr)
        return self.reconstruct(lr, x1, x2, self.gate(x2.mean(dim=(2, 3))))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_lr_pixel(config: TinyESPCNConfig) -> int:
    """Multiply-accumulates per LR pixel of the convolutions (the SE gate is per image, its multiply per pixel)."""
    c, s, k = config.channels, config.scale, config.head_kernel
    convs = k * k * 3 * c + config.blocks * 9 * c * c + 9 * c * 3 * s * s
    gate = c if config.attention else 0
    return convs + gate


def bicubic_skip_macs_per_hr_pixel() -> int:
    """16 taps × 3 channels for the separable-in-spirit bicubic global skip."""
    return 16 * 3
