"""Intensity windows: dim 16-bit data reaches the model well exposed, and nothing outside the window is lost."""

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from tinyespcn_nodes.core.intensity import SAMPLE_LIMIT, Window, choose_window, from_model, percentile_window, to_model
from tinyespcn_nodes.core.metrics import psnr
from tinyespcn_nodes.core.resize import matlab_imresize
from tinyespcn_nodes.engine.job import upscale_array


def test_auto_keeps_photos_on_the_dtype_path_and_windows_the_rest():
    rng = np.random.default_rng(0)
    assert choose_window(rng.integers(0, 256, (8, 8), dtype=np.uint8)) is None
    assert choose_window(rng.random((8, 8)).astype(np.float32)) is None
    dim = rng.integers(100, 601, (64, 64)).astype(np.uint16)
    w = choose_window(dim)
    assert 100 <= w.lo < 102 and 598 < w.hi <= 600
    assert choose_window(dim, "range") is None  # the dtype path, as before
    assert choose_window(np.full((4, 4), 5, np.int32), "range") == Window(0.0, float(2**31 - 1))
    big = (rng.random((4, 4)) * 1000).astype(np.float32)
    assert choose_window(big, "range") == Window(float(big.min()), float(big.max()))
    with pytest.raises(ValueError, match="intensity mode"):
        choose_window(dim, "bogus")
    with pytest.raises(ValueError, match="no finite values"):
        choose_window(np.full((3, 3), np.nan, np.float32))


def test_the_map_is_linear_unclipped_and_clips_only_to_the_dtype():
    w = Window(100.0, 600.0)
    x = np.array([[0, 100, 350, 600, 65535]], np.uint16)
    m = to_model(x, w)
    assert m.dtype == np.float32 and np.allclose(m, [[-0.2, 0, 0.5, 1, (65535 - 100) / 500]])
    assert np.array_equal(from_model(m, np.uint16, w), x)  # values outside the window survive
    assert from_model(np.array([-1.0, 200.0], np.float32), np.uint16, w).tolist() == [0, 65535]
    assert from_model(np.array([-1.0], np.float32), np.float32, w).tolist() == [-400.0]


def test_large_arrays_use_a_regular_sample_that_matches_the_full_percentiles():
    rng = np.random.default_rng(0)
    stack = (rng.gamma(2.0, 300.0, (6, 1024, 1024)) + 100).astype(np.uint16)
    assert stack.size > SAMPLE_LIMIT
    sampled = percentile_window(stack)
    exact = np.percentile(stack, (0.1, 99.9))
    assert abs(sampled.lo - exact[0]) <= 2 and abs(sampled.hi - exact[1]) / exact[1] < 0.01
    da = pytest.importorskip("dask.array")
    assert percentile_window(da.from_array(stack, chunks=(1, 512, 512))) == sampled  # lazily, same sample


def _butterfly():
    hr = np.array(Image.open(shared_path("data/benchmarks/Set5/HR/butterfly.png")).convert("L")).astype(np.float64)
    hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2] / 255
    lr = matlab_imresize(torch.from_numpy(hr)[None, None], scale=0.5)[0, 0].numpy()
    return hr, lr


def _score(unit: np.ndarray, hr: np.ndarray) -> float:
    t = torch.from_numpy(np.clip(unit, 0, 1))[None, None].float()
    return psnr(t, torch.from_numpy(hr)[None, None].float(), border=2)


@pytest.mark.parametrize("weights", ["general-x2", "seed-x2", "fast-x2"])
def test_dim_16_bit_scores_like_full_range_and_beats_bicubic(weights):
    """The issue's case: gray butterfly x2 as uint16 spanning 100-600 / 100-3000, against its ground truth."""
    from tinyespcn_nodes.core.catalog import bundled

    if weights not in bundled():
        pytest.skip(f"{weights} is not bundled")
    hr, lr = _butterfly()
    full = _score(upscale_array(np.round(lr * 255).clip(0, 255).astype(np.uint8), 2, weights) / 255, hr)
    for lo, hi in ((100, 600), (100, 3000)):
        data = np.round(lo + lr * (hi - lo)).astype(np.uint16)
        raw = upscale_array(data, 2, weights)
        assert raw.dtype == np.uint16
        out = raw.astype(np.float64)
        score = _score((out - lo) / (hi - lo), hr)
        bicubic = _score(
            matlab_imresize(torch.from_numpy((data - lo) / (hi - lo))[None, None], scale=2)[0, 0].numpy(), hr
        )
        assert score >= full - 0.3 and score > bicubic + 3, (lo, hi, score, full, bicubic)


def test_napari_widget_uses_the_same_window(make_napari_viewer, qtbot):
    """Through the widget: a dim uint16 stack, one window for every plane, the same result as the core."""
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    hr, lr = _butterfly()
    lr = lr[:64, :80]
    plane = np.round(100 + lr * 500).astype(np.uint16)
    stack = np.stack([plane, plane])
    viewer = make_napari_viewer()
    src = viewer.add_image(stack, name="dim")
    w = UpscaleWidget(viewer)
    w.layer_box.value = src
    w.tile.value = 48
    w.start()
    qtbot.waitUntil(lambda: "dim (TinyESPCN ×2)" in viewer.layers, timeout=120_000)
    out = viewer.layers["dim (TinyESPCN ×2)"].data
    ref = upscale_array(plane, 2, "general-x2", intensity=choose_window(stack), tile=48)
    assert out.dtype == np.uint16 and np.array_equal(out[0], out[1])
    assert np.abs(out[0].astype(int) - ref.astype(int)).max() <= 1
    assert _score((out[0] - 100) / 500, hr[:128, :160]) > 30
    assert w.intensity.value == "auto"


def test_the_way_back_in_blocks_equals_one_pass(monkeypatch):
    from tinyespcn_nodes.core import intensity
    from tinyespcn_nodes.core.intensity import Window, from_model

    plane = np.random.default_rng(0).normal(0.5, 0.6, (37, 11, 3)).astype(np.float32)
    window = Window(120.0, 3100.0)
    want = np.clip(np.round(plane.astype(np.float64) * (window.hi - window.lo) + window.lo), 0, 65535)
    monkeypatch.setattr(intensity, "_BLOCK_VALUES", 50)  # a block of 1 row (33 values): 37 blocks
    assert np.array_equal(from_model(plane, np.uint16, window), want.astype(np.uint16))
    want = (plane[:, :, 0].astype(np.float64) * 2980.0 + 120.0).astype(np.float32)
    assert np.array_equal(from_model(plane[:, :, 0], np.float32, window), want)
    assert from_model(plane[:0], np.uint16, window).shape == (0, 11, 3)
