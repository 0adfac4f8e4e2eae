import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image, ImageFilter

from tinyespcn_nodes.core.filters import gaussian_blur, msaa_antialias, unsharp_mask


def to_t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255


def to_u8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().numpy().astype(int)


def parity_images(portrait_u8):
    images = [("astronaut", portrait_u8)]
    try:
        set14 = shared_path("data/benchmarks/Set14/image_SRF_2")
        for f in sorted(set14.glob("*_HR.png"))[:6]:
            images.append((f.name, np.array(Image.open(f).convert("RGB"))))
        faces = shared_path("data/faces/portraits_wild")
        f = sorted(faces.iterdir())[0]
        im = Image.open(f).convert("RGB")
        images.append((f.name, np.array(im.resize((im.width // 4, im.height // 4)))))
    except pytest.skip.Exception:
        pass
    return images


def test_unsharp_mask_matches_pillow(portrait_u8):
    for name, img in parity_images(portrait_u8):
        ref = np.asarray(Image.fromarray(img).filter(ImageFilter.UnsharpMask(1.2, 100, 1))).astype(int)
        diff = np.abs(to_u8(unsharp_mask(to_t(img))) - ref)
        assert (diff <= 1).mean() >= 0.995, name
        assert diff.max() <= 2, name


def test_msaa_matches_pillow_pipeline(portrait_u8):
    for name, img in parity_images(portrait_u8):
        pil = Image.fromarray(img)
        w, h = pil.size
        ref = np.asarray(
            pil.resize((2 * w, 2 * h), Image.LANCZOS)
            .filter(ImageFilter.GaussianBlur(0.5))
            .resize((w, h), Image.LANCZOS)
        ).astype(int)
        diff = np.abs(to_u8(msaa_antialias(to_t(img), tile=200)) - ref)
        assert (diff <= 1).mean() >= 0.99, name
        assert diff.max() <= 3, name


@pytest.mark.parametrize("radius", [0.5, 2.0, 5.0])
def test_gaussian_blur_matches_pillow(portrait_u8, radius):
    ref = np.asarray(Image.fromarray(portrait_u8).filter(ImageFilter.GaussianBlur(radius))).astype(int)
    diff = np.abs(to_u8(gaussian_blur(to_t(portrait_u8), radius, levels=255)) - ref)
    assert diff.max() <= 2 and (diff <= 1).mean() >= 0.999  # Pillow's fixed-point box sums round a little differently


def test_msaa_tiles_equal_one_pass(portrait_u8):
    x = to_t(portrait_u8[:150, :170])
    assert torch.equal(msaa_antialias(x, tile=40), msaa_antialias(x, tile=4096))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_dtype_and_alpha_preserved(dtype):
    x = torch.rand(2, 4, 20, 24).to(dtype)
    for fn in (unsharp_mask, msaa_antialias):
        y = fn(x)
        assert y.dtype == dtype and y.shape == x.shape
        assert torch.equal(y[:, 3], x[:, 3])
        assert not torch.equal(y[:, :3], x[:, :3])


def test_zero_size_and_tiny_images():
    for shape in [(1, 3, 0, 5), (1, 3, 1, 1), (1, 3, 2, 7)]:
        x = torch.rand(shape)
        assert unsharp_mask(x).shape == shape
        assert msaa_antialias(x).shape == shape


def test_flat_image_is_a_fixed_point():
    x = torch.full((1, 3, 16, 16), 0.5)
    assert torch.allclose(unsharp_mask(x), x) and torch.allclose(msaa_antialias(x), x, atol=1 / 255)


@pytest.mark.parametrize(
    "call,msg",
    [
        (lambda x: unsharp_mask(x, radius=-1), "radius"),
        (lambda x: unsharp_mask(x, percent=-5), "percent"),
        (lambda x: msaa_antialias(x, supersample=0), "supersample"),
        (lambda x: msaa_antialias(x, supersample=5), "supersample"),
        (lambda x: msaa_antialias(x, blur_radius=-0.1), "blur_radius"),
        (lambda x: unsharp_mask(x[0]), "B,C,H,W"),
    ],
)
def test_bad_parameters_raise(call, msg):
    with pytest.raises(ValueError, match=msg):
        call(torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("levels", [255, 65535, None])
def test_filters_leave_their_input_alone(levels):
    x = torch.rand(1, 3, 30, 26)
    before = x.clone()
    for fn in (unsharp_mask, msaa_antialias):
        y = fn(x, levels=levels)
        assert torch.equal(x, before) and not torch.equal(y, x)
    gaussian_blur(x, 1.0, levels)
    assert torch.equal(x, before)


def test_unsharp_sixteen_bit_grid_keeps_the_pillow_shape(portrait_u8):
    """levels=65535 works on the 16-bit grid: the result rounds to it and tracks the 8-bit result."""
    x = to_t(portrait_u8[:80, :90])
    y16 = unsharp_mask(x, levels=65535)
    assert ((y16 * 65535) - (y16 * 65535).round()).abs().max() < 1e-2
    assert (y16 - unsharp_mask(x, levels=None)).abs().max() <= 2 / 255
