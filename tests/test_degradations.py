"""The microscopy degradation against its definitions: PSF energy, area binning, Poisson-Gaussian variance."""

import math

import pytest
import torch

from trainer.degradations import Microscopy, gaussian_psf, psf_blur


@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.5])
def test_psf_keeps_the_energy_and_has_the_asked_width(sigma):
    g = gaussian_psf(sigma)
    x = torch.arange(g.numel(), dtype=torch.float64) - g.numel() // 2
    assert math.isclose(g.sum().item(), 1.0, abs_tol=1e-12)
    assert math.isclose((g * x**2).sum().item(), sigma**2, rel_tol=0.03)  # integer sampling: -2.3 % at 0.6
    img = torch.rand(1, 1, 64, 64, dtype=torch.float64)
    assert math.isclose(
        psf_blur(img, sigma)[..., 16:48, 16:48].mean().item(), img[..., 16:48, 16:48].mean().item(), rel_tol=0.02
    )


def test_noise_free_path_is_area_binning_plus_background():
    deg = Microscopy(psf_sigma=(0, 0), gain=(1e9, 1e9), read_noise=(0, 0), background=(0.1, 0.1))
    hr = torch.rand(1, 3, 32, 32, dtype=torch.float64)
    lr, target = deg(hr, 4, torch.Generator().manual_seed(0))
    expected = (hr + 0.1).reshape(1, 3, 8, 4, 8, 4).mean(dim=(3, 5))
    assert torch.allclose(lr, expected, atol=1e-4) and torch.allclose(target, hr + 0.1)


@pytest.mark.parametrize("level, gain, read", [(0.2, 50.0, 0.0), (0.6, 200.0, 0.01), (0.05, 400.0, 0.02)])
def test_poisson_gaussian_variance_matches_signal_over_gain_plus_read_squared(level, gain, read):
    deg = Microscopy(psf_sigma=(0, 0), gain=(gain, gain), read_noise=(read, read), background=(0, 0))
    hr = torch.full((1, 1, 512, 512), level, dtype=torch.float64)
    lr, _ = deg(hr, 2, torch.Generator().manual_seed(1))
    expected = level / gain + read**2
    assert math.isclose(lr.mean().item(), level, rel_tol=0.01)
    assert math.isclose(lr.var().item(), expected, rel_tol=0.06), (lr.var().item(), expected)


def test_draws_are_reproducible_and_ranges_are_checked():
    deg = Microscopy()
    hr = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    a, _ = deg(hr, 2, torch.Generator().manual_seed(3))
    b, _ = deg(hr, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="gain"):
        Microscopy(gain=(0, 10))


def test_trainer_runs_the_preset_and_records_it(image_folder, tmp_path):
    from tinyespcn_nodes.core.weights import read_weights
    from trainer.cli import main

    run = tmp_path / "r"
    argv = [
        "pretrain", "--data", str(image_folder), "--channels", "8", "--blocks", "1", "--patch", "12", "--batch", "2",
        "--steps", "2", "--warmup", "1", "--val-sets", "--threads", "1", "--workers", "1", "--run-dir", str(run),
        "--degradation", "microscopy", "--gain", "30", "60", "--psf-sigma", "1", "1.5",
    ]  # fmt: skip
    assert main(argv) == 0
    info, _ = read_weights(run / "final.safetensors")
    config = info.training["config"]
    assert (
        config["degradation"] == "microscopy" and config["gain"] == [30.0, 60.0] and config["psf_sigma"] == [1.0, 1.5]
    )


def test_tiff_stacks_and_16_bit_files_train_through_their_percentile_window(tmp_path):
    import numpy as np
    import tifffile

    from tinyespcn_nodes.io.imagefiles import write_image
    from trainer.sources import decode_ref, lsdir_refs

    rng = np.random.default_rng(0)
    stack = (rng.random((5, 40, 48)) * 500 + 100).astype(np.uint16)  # a dim 16-bit Z stack
    tifffile.imwrite(tmp_path / "cells.tif", stack)
    write_image(tmp_path / "one16.png", (rng.random((40, 48)) * 2000 + 50).astype(np.uint16))
    refs = lsdir_refs(tmp_path / "cells.tif", 2)
    assert [r.plane for r in refs] == [0, 1, 2, 3, 4]
    assert len(lsdir_refs(tmp_path, 2)) == 6  # the folder: five planes plus the PNG
    planes = [np.asarray(decode_ref(r)) for r in refs]
    assert all(p.shape == (40, 48, 3) and p.dtype == np.uint8 for p in planes)
    lo, hi = np.percentile(stack, (0.1, 99.9))
    expected = np.clip((stack[2].astype(np.float32) - lo) / (hi - lo), 0, 1) * 255
    assert np.abs(planes[2][..., 0].astype(int) - expected.round()).max() <= 1  # the stack's window, not the plane's
    png = np.asarray(decode_ref(next(r for r in lsdir_refs(tmp_path, 2) if r.path.endswith(".png"))))
    assert png.min() <= 1 and png.max() >= 254  # stretched to the full range, not a near-black image


def test_zarr_and_ome_zarr_stores_train_plane_by_plane_through_one_window(tmp_path):
    import numpy as np
    import tifffile

    zarr = pytest.importorskip("zarr")
    pytest.importorskip("dask.array")
    from trainer.sources import decode_ref, lsdir_refs

    rng = np.random.default_rng(1)
    stack = (rng.random((2, 3, 40, 48)) * 500 + 100).astype(np.uint16)  # C=2, Z=3 planes
    tifffile.imwrite(tmp_path / "same.tif", stack.reshape(6, 40, 48))
    group = zarr.open_group(str(tmp_path / "data" / "cells.zarr"), mode="w")
    group.create_array("0", shape=stack.shape, chunks=(1, 1, 20, 24), dtype=stack.dtype)[:] = stack
    axes = [{"name": n, "type": t} for n, t in (("c", "channel"), ("z", "space"), ("y", "space"), ("x", "space"))]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [{"path": "0"}]}]
    plain = zarr.create_array(str(tmp_path / "data" / "plain.zarr"), shape=(4, 40, 48), dtype="uint16")
    plain[:] = stack.reshape(6, 40, 48)[:4]

    refs = lsdir_refs(tmp_path / "data" / "cells.zarr", 2)
    assert [r.plane for r in refs] == list(range(6))
    assert len(lsdir_refs(tmp_path / "data", 2)) == 10  # a folder of stores: 6 + 4 planes
    tiff_refs = lsdir_refs(tmp_path / "same.tif", 2)
    for z_ref, t_ref in zip(refs, tiff_refs):  # same planes, same whole-store window as the TIFF stack
        assert np.array_equal(np.asarray(decode_ref(z_ref)), np.asarray(decode_ref(t_ref)))
