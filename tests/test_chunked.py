"""Dask chunks upscale to exactly the in-memory result: seams, borders, dtype and stack axes."""

import numpy as np
import pytest
from conftest import REPO

from tinyespcn_nodes.engine.job import PostProcess, UpscaleOptions, upscale_array, upscale_dask

da = pytest.importorskip("dask.array")


@pytest.mark.parametrize(
    "shape, chunks, dtype",
    [((70, 90), (25, 40), np.uint8), ((3, 50, 61, 3), (1, 20, 30, 3), np.uint8), ((2, 40, 44), (1, 17, 23), np.uint16)],
)
def test_chunks_equal_the_in_memory_pipeline(weights_file, shape, chunks, dtype):
    rng = np.random.default_rng(0)
    top = np.iinfo(dtype).max
    data = rng.integers(0, top // 8 if dtype == np.uint16 else top, shape).astype(dtype)
    lazy = upscale_dask(
        da.from_array(data, chunks=chunks), UpscaleOptions(str(weights_file), 2, device="cpu", precision="fp32")
    )
    assert (
        lazy.dtype == dtype and lazy.chunks[-2 if shape[-1] != 3 else -3][0] == chunks[-2 if shape[-1] != 3 else -3] * 2
    )
    out = lazy.compute(scheduler="threads")
    from tinyespcn_nodes.core.intensity import choose_window

    rgb = shape[-1] == 3
    window = choose_window(data, rgb=rgb)
    planes = data.reshape(-1, *data.shape[-3 if rgb else -2 :])
    ref = np.stack(
        [upscale_array(p, 2, str(weights_file), device="cpu", precision="fp32", intensity=window) for p in planes]
    ).reshape(out.shape)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1  # float reassociation across chunk shapes


@pytest.mark.parametrize(
    "post", [PostProcess(sharpen=True), PostProcess(antialias=True), PostProcess(True, antialias=True)]
)
def test_post_filters_keep_chunk_seams_exact(post):
    """A tile-local model (fast-x2) is exact across chunks, so the filters' context must keep it exact: any
    missing margin shows as a seam. (The seed model's global gate differs by float reassociation, which the
    unsharp mask would amplify to 2 levels and hide a seam in the noise.)"""
    data = np.random.default_rng(1).integers(0, 256, (60, 70, 3)).astype(np.uint8)
    weights = str(REPO / "weights" / "fast-x2.safetensors")
    options = UpscaleOptions(weights, 2, device="cpu", precision="fp32", post=post)
    lazy = upscale_dask(da.from_array(data, chunks=(20, 25, 3)), options)
    ref = upscale_array(data, 2, weights, device="cpu", precision="fp32", post=post)
    assert np.array_equal(lazy.compute(), ref)


def test_x8_chain_seams_are_exact(weights_file):
    """Three x2 passes: each later pass's context counts at its own (larger) resolution."""
    data = np.random.default_rng(2).integers(0, 256, (50, 64, 3)).astype(np.uint8)
    options = UpscaleOptions(str(weights_file), 8, device="cpu", precision="fp32")
    lazy = upscale_dask(da.from_array(data, chunks=(25, 32, 3)), options)
    ref = upscale_array(data, 8, str(weights_file), device="cpu", precision="fp32")
    assert np.abs(lazy.compute().astype(int) - ref.astype(int)).max() <= 1


def test_the_readme_short_forms_take_a_bare_scale_and_weights(weights_file, tmp_path):
    """README: `upscale_dask(array, 2, weights)` and `upscale_zarr(src, dst, 2, weights)` keep working."""
    zarr = pytest.importorskip("zarr")
    from tinyespcn_nodes.io.zarr_job import upscale_zarr

    data = np.random.default_rng(3).integers(0, 256, (30, 34, 3)).astype(np.uint8)
    full = UpscaleOptions(str(weights_file), 2)
    want = upscale_dask(da.from_array(data, chunks=(15, 17, 3)), full).compute()
    assert np.array_equal(upscale_dask(da.from_array(data, chunks=(15, 17, 3)), 2, str(weights_file)).compute(), want)
    zarr.create_array(str(tmp_path / "in.zarr"), shape=data.shape, chunks=(15, 17, 3), dtype=data.dtype)[:] = data
    report = upscale_zarr(tmp_path / "in.zarr", tmp_path / "out.zarr", 2, str(weights_file), progress=False)
    assert np.array_equal(zarr.open_array(str(report.output), mode="r")[:], want)
