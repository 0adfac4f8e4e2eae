"""TinyESPCN: the seed architecture (features → residual trunk → global attention gate → PixelShuffle), configurable and honestly counted."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .ops import conv_relu
from .spec import ArchConfig, ArchSpec


@dataclass(frozen=True)
class TinyESPCNConfig(ArchConfig):
    """Everything needed to rebuild the network; stored as JSON in every weights file."""

    scale: int = 2
    channels: int = 64
    blocks: int = 10
    head_kernel: int = 7
    attention: bool = True
    reduction: int = 16
    residual: bool = False  # seed code: plain stack; seed README: "residual blocks"

    def validate(self) -> None:
        super().validate()
        if self.channels < 1 or self.blocks < 0:
            raise ValueError(f"channels must be >= 1 and blocks >= 0, got {self.channels}, {self.blocks}")
        if self.head_kernel < 1 or self.head_kernel % 2 == 0:
            raise ValueError(f"head_kernel must be a positive odd number, got {self.head_kernel}")
        if self.attention and self.reduction < 1:
            raise ValueError(f"reduction must be >= 1, got {self.reduction}")


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
        if self.config.residual:  # marks the file, so a bare state dict (spandrel) rebuilds the residual trunk
            self.register_buffer("residual_trunk", torch.ones(1))

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context each output pixel depends on (besides the global attention gate)."""
        return self.config.head_kernel // 2 + self.config.blocks + 1

    def features(self, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head and trunk: (x1, x2) before attention, in the weights' dtype (fp16/bf16 models take fp32 input)."""
        x1 = conv_relu(self.feat_in, lr.to(self.feat_in.weight.dtype))
        x2 = x1
        for conv in self.trunk:
            y = conv_relu(conv, x2)
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

    @property
    def needs_statistics(self) -> bool:
        return self.attn is not None

    def statistics(self, lr: torch.Tensor, region: tuple[int, int, int, int] | None = None) -> torch.Tensor:
        """Sums [B,C] (fp64) of the trunk output over `region` (y0, y1, x0, x1) of this input: the gate's statistic."""
        _, x2 = self.features(lr)
        if region is not None:
            a, b, c, d = region
            x2 = x2[:, :, a:b, c:d]
        return x2.sum(dim=(2, 3), dtype=torch.float64)

    @property
    def statistic_channels(self) -> int:
        """Leading channels of `encode`'s code whose whole-image mean is the gate's statistic."""
        return self.config.channels

    @property
    def code_channels(self) -> int:
        return self.config.channels + 3 * self.config.scale**2

    def encode(self, lr: torch.Tensor) -> torch.Tensor:
        """Everything the output needs except the gate: [B, C + 3s², h, w] = trunk output x2 and to_sub(x1).

        to_sub is linear, so to_sub(x1 + g·x2) = to_sub(x1) + conv(x2, W·diag(g)): the tiler caches this code
        for the whole image in one pass, takes the gate's statistic from it exactly, then `decode`s per tile.
        """
        x1, x2 = self.features(lr)
        return torch.cat([x2, self.to_sub(x1)], dim=1)

    def decode(self, lr: torch.Tensor, code: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
        """`encode`'s code of this input + the whole image's trunk mean [B,C] → the same output as `forward`."""
        c = self.config.channels
        x2, head = code[:, :c], code[:, c:]
        gate = self.gate(stats.to(x2.dtype))
        if gate is None:
            detail = self.to_sub(x2) - self.to_sub.bias[None, :, None, None] + head
        else:
            weight = self.to_sub.weight * gate[0][None, :, None, None].to(self.to_sub.weight.dtype)
            detail = F.conv2d(x2, weight, None, padding=1) + head
        base = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base.add_(self.shuffle(detail))

    def forward(self, lr: torch.Tensor, stats: torch.Tensor | None = None) -> torch.Tensor:
        """`stats`: the whole image's per-channel trunk mean [B,C] (tiled inference); default: this input's own."""
        x1, x2 = self.features(lr)
        if self.attn is None:
            gate = None
        else:
            pooled = x2.mean(dim=(2, 3)) if stats is None else stats.to(x2.dtype)
            gate = self.gate(pooled)
        return self.reconstruct(lr, x1, x2, gate)


def _config_from_state(state: dict[str, torch.Tensor]) -> TinyESPCNConfig:
    """Shapes give every option; `residual_trunk` marks the residual trunk (it has no weights of its own)."""
    blocks = len({k.split(".")[1] for k in state if k.startswith("trunk.")})
    channels, _, head, _ = state["feat_in.weight"].shape
    scale = round((state["to_sub.weight"].shape[0] // 3) ** 0.5)
    attention = "attn.fc_down.weight" in state
    reduction = channels // state["attn.fc_down.weight"].shape[0] if attention else 16
    return TinyESPCNConfig(scale=scale, channels=channels, blocks=blocks, head_kernel=head, attention=attention,
                           reduction=reduction, residual="residual_trunk" in state)  # fmt: skip


def _describe(cfg: TinyESPCNConfig) -> str:
    return (
        f"TinyESPCN: {cfg.head_kernel}×{cfg.head_kernel} head 3→{cfg.channels} + ReLU, "
        f"{cfg.blocks} × 3×3 {cfg.channels}→{cfg.channels} + ReLU ({'residual' if cfg.residual else 'plain'} trunk), "
        f"{'squeeze-and-excitation attention (reduction ' + str(cfg.reduction) + '), ' if cfg.attention else ''}"
        f"head skip, 3×3 {cfg.channels}→{3 * cfg.scale**2}, PixelShuffle ×{cfg.scale}, bicubic global skip"
    )


SPEC = ArchSpec(
    id="TinyESPCN",
    name="tinyespcn",
    config_cls=TinyESPCNConfig,
    model_cls=lambda cfg: TinyESPCN(cfg),
    description="the seed network: 7x7 head, plain 3x3 trunk, global squeeze-and-excitation gate, bicubic skip",
    detect_keys=("feat_in.weight", "to_sub.weight"),
    config_from_state=_config_from_state,
    global_stats=True,
    describe=_describe,
    showcase=lambda: [("seed-faithful (plain trunk)", TinyESPCN(TinyESPCNConfig(scale=s))) for s in (2, 3, 4)],
)
