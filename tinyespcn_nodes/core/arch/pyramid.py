"""Seed 004's Laplacian-pyramid network, made tile-local and progressive: x2, x4 and x8 from one forward pass.

What seed 004 describes (see `../shared/docs/seed-projects.md` §4): a stem (3x3 conv to 512 channels, then
two 3x3 convs to 128), 12 blocks over the x2/x4/x8 branches (6/4/2), each branch's block outputs concatenated
and compressed by a 3x3 conv, skip connections, squeeze-excitation, DSSIM loss. Built here as LapSRN
describes the pyramid (Lai et al. 2017), coarse to fine, so every level is an output:

    stem (LR) → level 1 [blocks, concat → 3x3 compress, + skip] → x2 image = bicubic x2 of LR + residual
              → features x2 (conv + PixelShuffle) → level 2 ... → x4 image = bicubic x2 of the x2 image + residual
              → ... → x8 image

Deviations from the seed code, each because it is wrong or unusable there: the seed's blocks feed the same
input to every copy (bit-equal outputs) and tie one conv 3x; here every block is its own residual block.
Its squeeze-excitation is a global statistic; here each block ends in pixel attention (1x1 conv → sigmoid
gate, PAN), so tiles are exact with a context band. Its pyramid runs top-down at x8 resolution (52M MACs
per LR pixel); here each level runs at its input resolution and upsamples with sub-pixel convs.

A file stores the top scale (`scale`, 2/4/8) and offers every power of two up to it; a host asks for one
(`at_scale`), and only the levels up to that one run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .spec import ArchConfig, ArchSpec

PYRAMID_SCALES = (2, 4, 8)


@dataclass(frozen=True)
class PyramidConfig(ArchConfig):
    """The seed's widths by default (`stem` 512, `channels` 128, 12 `blocks`); the bundled file is smaller."""

    scale: int = 8  # the top output; the file also offers every smaller power of two
    stem: int = 512
    channels: int = 128
    blocks: int = 12  # split over the levels 3:2:1 (x2 level first), the seed's 6/4/2

    def validate(self) -> None:
        if self.scale not in PYRAMID_SCALES:
            raise ValueError(f"scale must be one of {PYRAMID_SCALES}, got {self.scale!r}")
        if self.stem < 1 or self.channels < 1 or self.blocks < 0:
            raise ValueError(f"stem/channels >= 1 and blocks >= 0 required, got {self}")

    @property
    def levels(self) -> int:
        return int(math.log2(self.scale))

    def offered_scales(self) -> tuple[int, ...]:
        """Every scale a file of this config serves: x2 up to `scale` in powers of two."""
        return tuple(2 ** (k + 1) for k in range(self.levels))

    def level_blocks(self) -> list[int]:
        """Blocks per level, x2 level first: `blocks` split L:L-1:...:1, rounding down, remainder to level 1."""
        weights = list(range(self.levels, 0, -1))
        split = [self.blocks * w // sum(weights) for w in weights]
        split[0] += self.blocks - sum(split)
        return split


class PixelAttentionBlock(nn.Module):
    """conv3x3 → ReLU → conv3x3, gated per pixel and channel by sigmoid(1x1 conv), plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_b = nn.Conv2d(channels, channels, 3, padding=1)
        self.gate = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_b(F.relu(self.conv_a(x)))
        return x + y * torch.sigmoid(self.gate(y))


class PyramidLevel(nn.Module):
    """One x2 step: blocks, their outputs and the input concatenated → 3x3 compress + skip, then sub-pixel heads."""

    def __init__(self, channels: int, blocks: int, last: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(PixelAttentionBlock(channels) for _ in range(blocks))
        self.compress = nn.Conv2d(channels * (blocks + 1), channels, 3, padding=1) if blocks else None
        self.to_residual = nn.Conv2d(channels, 3 * 4, 3, padding=1)
        self.to_next = None if last else nn.Conv2d(channels, channels * 4, 3, padding=1)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features at this level's input size → (image residual at 2x, features at 2x or None on the last)."""
        if self.compress is not None:
            outs = [f]
            for block in self.blocks:
                outs.append(block(outs[-1]))
            f = f + self.compress(torch.cat(outs, dim=1))
        residual = F.pixel_shuffle(self.to_residual(f), 2)
        nxt = F.relu(F.pixel_shuffle(self.to_next(f), 2)) if self.to_next is not None else None
        return residual, nxt


def _up2(image: torch.Tensor) -> torch.Tensor:
    return F.interpolate(image, scale_factor=2, mode="bicubic", align_corners=False)


class LapPyramidSR(nn.Module):
    """RGB [B,3,h,w] in [0,1] → RGB at `scale` (the chosen output); `pyramid(x)` returns every level."""

    def __init__(self, config: PyramidConfig | None = None) -> None:
        super().__init__()
        self.config = config or PyramidConfig()
        c = self.config.channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, self.config.stem, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(self.config.stem, c, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        split = self.config.level_blocks()
        self.levels = nn.ModuleList(PyramidLevel(c, b, last=i == len(split) - 1) for i, b in enumerate(split))
        self.output_scale = self.config.scale
        self.deep_supervision = False  # the trainer sets it: forward() then returns every level in training

    @property
    def scale(self) -> int:
        return self.output_scale

    def at_scale(self, scale: int) -> LapPyramidSR:
        """This model, answering `scale` (one of the config's offered scales); only the levels up to it run."""
        offered = self.config.offered_scales()
        if scale not in offered:
            raise ValueError(f"this pyramid offers x{'/x'.join(map(str, offered))}, not x{scale}")
        self.output_scale = scale
        return self

    def _active_levels(self) -> nn.ModuleList:
        return self.levels[: int(math.log2(self.output_scale))]

    @property
    def receptive_radius(self) -> int:
        """Context in LR pixels of the levels up to the chosen output (the tests measure it by perturbation)."""
        radius = 3.0  # the stem's three 3x3 convs
        for k, level in enumerate(self._active_levels()):
            convs = 2 * len(level.blocks) + (1 if level.compress is not None else 0) + 1
            radius += convs / 2**k  # level k runs at 2^k x the LR size
        return math.ceil(radius) + 1  # + the sub-pixel steps and the bicubic image path (2 taps, in parallel)

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every level up to the chosen output: [x2, x4, ...]."""
        x = x.to(self.stem[0].weight.dtype)
        f = self.stem(x)
        image, outs = x, []
        for level in self._active_levels():
            residual, f = level(f)
            image = _up2(image) + residual
            outs.append(image)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        outs = self.pyramid(x)
        return outs if self.deep_supervision and self.training else outs[-1]


def _config_from_state(state: dict[str, torch.Tensor]) -> PyramidConfig:
    levels = len({k.split(".")[1] for k in state if k.startswith("levels.")})
    blocks = len({tuple(k.split(".")[1:4]) for k in state if k.startswith("levels.") and ".blocks." in k})
    return PyramidConfig(
        scale=2**levels,
        stem=state["stem.0.weight"].shape[0],
        channels=state["stem.2.weight"].shape[0],
        blocks=blocks,
    )


def _describe(cfg: PyramidConfig) -> str:
    split = "/".join(map(str, cfg.level_blocks()))
    outs = "/".join(f"x{s}" for s in cfg.offered_scales())
    return (
        f"LapSRN-style pyramid (seed 004): stem 3→{cfg.stem}→{cfg.channels}→{cfg.channels}, {cfg.blocks} pixel-"
        f"attention residual blocks ({split} per level), concat → 3×3 compress + skip per level, sub-pixel x2 "
        f"steps, bicubic image skip per level; outputs {outs} from one pass"
    )


SPEC = ArchSpec(
    id="LapPyramid",
    name="pyramid",
    config_cls=PyramidConfig,
    model_cls=LapPyramidSR,
    description="seed 004's multi-scale pyramid: x2/x4/x8 outputs from one pass, tile-local",
    detect_keys=("stem.0.weight", "stem.4.weight", "levels.0.to_residual.weight"),
    config_from_state=_config_from_state,
    describe=_describe,
    offers=PyramidConfig.offered_scales,
    showcase=lambda: [("seed-004 pyramid (faithful)", LapPyramidSR().at_scale(s)) for s in (2, 4, 8)],
)
