"""How strongly an upscaled image draws the JPEG block grid of its low-resolution input.

The measure is the ratio form of the blocking-effect factor behind PSNR-B (Yim & Bovik 2011, "Quality
assessment of deblocked images"): the mean absolute luma step (0-255) between neighbouring pixels *across*
block boundaries divided by the mean step between all *other* horizontal / vertical neighbours. For an
upscaler's output the grid is the LR JPEG's 8×8 luma grid mapped to the output: boundaries lie every
`8·scale` output pixels (between columns `8·k·scale − 1` and `8·k·scale`, likewise for rows).

A clean image scores about 1; a visible grid scores more, and the sharper an upscaler makes each block edge
(a one-pixel step instead of a ramp over `scale` pixels), the higher. `trainer bench --photo-only` prints each
row's score on the JPEG cases as a ratio to bicubic's: 2× means the grid is drawn twice as strongly.
"""

from __future__ import annotations

import torch

from tinyespcn_nodes.core.metrics import rgb_to_y

JPEG_BLOCK = 8  # luma block side of a JPEG, in LR pixels
_EPS = 1e-8


def has_grid(image: torch.Tensor, scale: int, block: int = JPEG_BLOCK) -> bool:
    """Whether the output image is large enough to hold one block boundary."""
    return max(image.shape[-2:]) > block * scale


def blockiness(image: torch.Tensor, scale: int, block: int = JPEG_BLOCK) -> float:
    """Block-grid score of an output image ([1,3,H,W] RGB or [1,1,H,W] luma in [0,1]) whose LR input was
    `scale` times smaller; `block` is the LR block side. Raises ValueError when the image holds no boundary."""
    if scale < 1 or block < 2:
        raise ValueError(f"blockiness: scale must be ≥ 1 and block ≥ 2, got {scale} and {block}")
    y = (rgb_to_y(image.double()) if image.shape[-3] == 3 else image.double()) * 255
    on, off = [], []
    for steps in (y.diff(dim=-1).abs(), y.diff(dim=-2).abs().transpose(-1, -2)):
        # steps[..., j] is |y[j+1] − y[j]|: the step into output column x = j + 1
        grid = (torch.arange(1, steps.shape[-1] + 1) % (block * scale)) == 0
        on.append(steps[..., grid].flatten())
        off.append(steps[..., ~grid].flatten())
    boundary, other = torch.cat(on), torch.cat(off)
    if boundary.numel() == 0 or other.numel() == 0:
        raise ValueError(
            f"blockiness: a {tuple(image.shape[-2:])} image holds no {block}×{block} block boundary at x{scale}"
        )
    return float((boundary.mean() + _EPS) / (other.mean() + _EPS))
