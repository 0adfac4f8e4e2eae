"""Issue 33, ComfyUI node inputs: odd tensors and factors give a message naming the input (or, for a 3-D
single image, the right result), never ZeroDivisionError / unpack errors / OverflowError."""

import math

import pytest
import torch
from test_comfy_nodes import comfy, load  # noqa: F401


def _upscale(comfy, image, **kw):  # noqa: F811
    return comfy.nodes["TinyESPCN_Upscale"].execute(image, load(comfy), **kw)[0]


@pytest.mark.parametrize(
    "shape,match",
    [((1, 0, 8, 3), "image: empty image"), ((1, 8, 0, 3), "image: empty image"), ((2, 1, 8, 8, 3), "image: expected"),
     ((1, 8, 8, 7), "image: expected 1, 3 or 4 channels")],
)  # fmt: skip
def test_bad_image_shapes_name_the_input(comfy, shape, match):  # noqa: F811
    with pytest.raises(ValueError, match=match):
        _upscale(comfy, torch.rand(shape))


def test_a_3d_single_image_is_upscaled_like_a_batch_of_one(comfy):  # noqa: F811
    img = torch.rand(8, 10, 3)
    out = _upscale(comfy, img)
    assert out.shape == (1, 16, 20, 3)
    assert torch.equal(out, _upscale(comfy, img[None]))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_scale_by_names_the_input(comfy, value):  # noqa: F811
    with pytest.raises(ValueError, match="scale_by: must be a finite number"):
        _upscale(comfy, torch.rand(1, 8, 8, 3), scale_by=value)


@pytest.mark.parametrize(
    "node,kwargs", [("TinyESPCN_UnsharpMask", {"radius": math.nan}), ("TinyESPCN_MSAA", {"blur_radius": math.inf})]
)
def test_filter_nodes_name_non_finite_radii_and_bad_shapes(comfy, node, kwargs):  # noqa: F811
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name}: must be a finite number"):
        comfy.nodes[node].execute(torch.rand(1, 8, 8, 3), **kwargs)
    with pytest.raises(ValueError, match="image: empty image"):
        comfy.nodes[node].execute(torch.rand(1, 0, 8, 3))
