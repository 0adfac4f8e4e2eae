import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from tinyespcn_nodes.core.metrics import psnr
from tinyespcn_nodes.core.resize import matlab_imresize, pil_resize, rows_conv, transposed


def test_matlab_bicubic_reproduces_official_set5_lr():
    root = shared_path("data/benchmarks/Set5")
    for scale in (2, 3, 4):
        for f in sorted((root / "HR").glob("*.png")):
            hr = np.array(Image.open(f).convert("RGB"))
            h, w = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
            x = torch.from_numpy(hr[:h, :w]).permute(2, 0, 1).double() / 255
            lr = (matlab_imresize(x, scale=1 / scale) * 255).round().clamp(0, 255) / 255
            ref = np.array(Image.open(root / "LR_bicubic" / f"X{scale}" / f"{f.stem}x{scale}.png").convert("RGB"))
            ref_t = torch.from_numpy(ref).permute(2, 0, 1).double() / 255
            assert psnr(lr, ref_t, y_channel=False) >= 50.0, (f.name, scale)


# integer factors (what MSAA uses) and a non-integer shrink; non-integer enlargements differ from Pillow at
# ~0.03 % of pixels by up to 8 levels (fixed-point window edges) and are not part of the parity contract
@pytest.mark.parametrize("size", [(150, 120), (256, 256), (1024, 1024)])
@pytest.mark.parametrize("filt,pil_filter", [("lanczos", Image.LANCZOS), ("bicubic", Image.BICUBIC)])
def test_pil_resize_matches_pillow(portrait_u8, size, filt, pil_filter):
    ref = np.asarray(Image.fromarray(portrait_u8).resize(size, pil_filter)).astype(int)
    x = torch.from_numpy(portrait_u8).permute(2, 0, 1).float() / 255
    out = pil_resize(x, (size[1], size[0]), filt, levels=255)
    diff = np.abs((out * 255).round().permute(1, 2, 0).numpy().astype(int) - ref)
    assert (diff <= 1).mean() >= 0.999 and (diff == 0).mean() > 0.98


def test_matlab_upscale_then_downscale_is_close():
    yy, xx = torch.meshgrid(
        torch.linspace(0, 3, 20, dtype=torch.float64), torch.linspace(0, 3, 24, dtype=torch.float64), indexing="ij"
    )
    x = (0.5 + 0.4 * torch.sin(yy) * torch.cos(xx)).expand(1, 3, 20, 24)
    up = matlab_imresize(x, scale=2)
    assert up.shape == (1, 3, 40, 48)
    assert (matlab_imresize(up, scale=0.5) - x).abs().mean() < 0.005


@pytest.mark.parametrize("stride,start", [(1, 0), (1, 5), (2, 3), (2, 4), (3, 7)])
def test_rows_conv_is_the_tap_sum(stride, start):
    g = torch.Generator().manual_seed(stride * 10 + start)
    x = torch.rand(2, 3, 64, 37, generator=g)
    k = torch.randn(6, generator=g)
    count = (64 - start - 6) // stride + 1
    ref = sum(k[i] * x[..., start + i : start + i + stride * (count - 1) + 1 : stride, :] for i in range(6))
    assert torch.allclose(rows_conv(x, k, start, count, stride), ref, atol=1e-5)


@pytest.mark.parametrize("width", [1000, 1024, 128])
def test_transposed_equals_transpose(width):
    x = torch.rand(3, 40, width)
    assert torch.equal(transposed(x), x.transpose(-1, -2).contiguous())
    hwc = x.permute(1, 2, 0).contiguous().permute(2, 0, 1)  # a channels-last view, as images from numpy are
    assert torch.equal(transposed(hwc), x.transpose(-1, -2).contiguous())


@pytest.mark.parametrize("size", [(79, 101), (300, 220), (40, 52)])
def test_pil_resize_paths_agree(portrait_u8, size):
    """The float32 depthwise-conv path (any memory layout), the float64 shifted-sum path and grid units agree."""
    hwc = torch.from_numpy(portrait_u8[:150, :130]).permute(2, 0, 1).float() / 255  # channels-last view
    ref = pil_resize(hwc.double(), size, "lanczos")
    for x in (hwc, hwc.contiguous()):
        assert torch.allclose(pil_resize(x, size, "lanczos").double(), ref, atol=1e-5)
    grid = pil_resize(hwc * 255, size, "lanczos", 255, grid_units=True) / 255
    diff = (grid - pil_resize(hwc, size, "lanczos", 255)).abs() * 255
    assert diff.max() <= 1 + 1e-4 and (diff < 1e-3).float().mean() >= 0.9999  # rounding ties may fall either way
