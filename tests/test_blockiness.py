"""The block-grid measure: a grid scores above a smooth image, sharper grids higher, at the grid of the scale."""

import pytest
import torch
import torch.nn.functional as F

from tinyespcn_nodes.core.resize import matlab_imresize
from trainer.blockiness import blockiness, has_grid
from trainer.real_degradation import jpeg


def _smooth_lr(size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 5, 5, generator=g, dtype=torch.float64)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True).clamp(0, 1)


def _blocky_lr(size: int = 64, seed: int = 0, strength: float = 0.08) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 1)
    offsets = (torch.rand(1, 1, size // 8, size // 8, generator=g, dtype=torch.float64) - 0.5) * 2 * strength
    grid = offsets.repeat_interleave(8, -1).repeat_interleave(8, -2)
    return (_smooth_lr(size, seed) + grid).clamp(0, 1)


def _bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    return matlab_imresize(lr, float(scale)).clamp(0, 1)


def _nearest(lr: torch.Tensor, scale: int) -> torch.Tensor:
    return lr.repeat_interleave(scale, -1).repeat_interleave(scale, -2)


@pytest.mark.parametrize("scale", [2, 4])
def test_a_block_grid_scores_higher_than_a_smooth_image(scale):
    smooth = blockiness(_bicubic(_smooth_lr(), scale), scale)
    blocky = blockiness(_bicubic(_blocky_lr(), scale), scale)
    assert 0.8 < smooth < 1.25
    assert blocky > 1.5 * smooth


@pytest.mark.parametrize("scale", [2, 4])
def test_a_sharper_grid_scores_higher(scale):
    """A one-pixel step at each block edge (nearest) draws the grid harder than bicubic's ramp."""
    lr = _blocky_lr()
    assert blockiness(_nearest(lr, scale), scale) > 1.3 * blockiness(_bicubic(lr, scale), scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_the_grid_is_looked_for_at_the_given_scale(scale):
    """An output's grid lies every 8·scale px: read with another scale, the score drops."""
    out = _bicubic(_blocky_lr(), scale)
    scores = {s: blockiness(out, s) for s in (1, 2, 3, 4)}
    assert max(scores, key=scores.get) == scale
    assert all(scores[scale] > 1.1 * v for s, v in scores.items() if s != scale)


def test_real_jpeg_blocks_are_seen_through_bicubic():
    lr = _smooth_lr(seed=3).float()
    clean = blockiness(_bicubic(lr.double(), 2), 2)
    compressed = blockiness(_bicubic(jpeg(lr, 10).double(), 2), 2)
    assert compressed > 1.2 * clean


def test_rgb_and_luma_inputs_agree_and_tiny_images_are_refused():
    from tinyespcn_nodes.core.metrics import rgb_to_y

    out = _bicubic(_blocky_lr(), 2)
    assert blockiness(out, 2) == pytest.approx(blockiness(rgb_to_y(out), 2))
    tiny = torch.rand(1, 3, 16, 12)
    assert not has_grid(tiny, 2) and has_grid(tiny, 1)
    with pytest.raises(ValueError, match="no 8×8 block boundary"):
        blockiness(tiny, 2)
