"""The `real` photo degradation: kernels, seeded plans within their ranges, real JPEG bytes, the trainer preset."""

import io
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from trainer.real_degradation import (
    KERNELS,
    RealDegradation,
    filter2d,
    gaussian_kernel,
    jpeg,
    jpeg_bytes,
    plateau_kernel,
    sinc_kernel,
)


@pytest.mark.parametrize(
    "kernel",
    [
        gaussian_kernel(21, 2.0, 2.0, 0.0),
        gaussian_kernel(15, 0.4, 3.0, 1.1),
        gaussian_kernel(13, 1.5, 0.8, 0.3, beta=0.5),
        gaussian_kernel(13, 1.5, 0.8, 0.3, beta=4.0),
        plateau_kernel(17, 1.2, 2.0, 2.0, beta=1.5),
        sinc_kernel(21, math.pi / 3),
        sinc_kernel(7, math.pi),
    ],
)
def test_every_kernel_is_normalised_and_centred(kernel):
    assert math.isclose(kernel.sum().item(), 1.0, abs_tol=1e-12)
    assert torch.allclose(kernel, kernel.flip(0, 1), atol=1e-12)  # point-symmetric: no shift of the image
    assert kernel.argmax().item() == kernel.numel() // 2


def test_sinc_rings_and_gaussians_do_not():
    assert sinc_kernel(21, math.pi / 2).min() < 0  # the overshoot/ringing the preset is there to teach
    assert gaussian_kernel(21, 2.0, 1.0, 0.5).min() >= 0


def test_anisotropic_kernel_is_stretched_along_its_angle():
    k = gaussian_kernel(21, 3.0, 0.5, 0.0)
    assert k[10, :].sum() > 3 * k[:, 10].sum()  # wide along x, narrow along y


def test_fft_filter_equals_a_reflect_padded_convolution():
    x = torch.rand(1, 3, 40, 33, dtype=torch.float64)
    k = gaussian_kernel(9, 1.5, 0.7, 0.4, beta=2.0)
    ref = F.conv2d(F.pad(x, (4, 4, 4, 4), mode="reflect"), k.expand(3, 1, 9, 9), groups=3)
    assert torch.allclose(filter2d(x, k), ref, atol=1e-12)


def test_jpeg_is_a_real_pillow_file_and_quality_matters():
    x = torch.rand(1, 3, 48, 48, dtype=torch.float64)
    low, high = jpeg_bytes(x, 20), jpeg_bytes(x, 95)
    assert low[:2] == b"\xff\xd8" and low[-2:] == b"\xff\xd9"
    assert Image.open(io.BytesIO(low)).format == "JPEG"
    assert len(low) < len(high)
    err_low = (jpeg(x, 20) - x).abs().mean()
    err_high = (jpeg(x, 95) - x).abs().mean()
    assert err_high < err_low and err_high > 0


@pytest.mark.parametrize("scale", [2, 4])
def test_same_seed_same_patch_other_seed_other_patch(scale):
    deg = RealDegradation(clean_share=0.0)
    hr = torch.rand(1, 3, 24 * scale, 24 * scale, dtype=torch.float64)
    outs = [deg(hr, scale, torch.Generator().manual_seed(s))[0] for s in (5, 5, 6)]
    assert torch.equal(outs[0], outs[1]) and not torch.equal(outs[0], outs[2])
    assert outs[0].shape == (1, 3, 24, 24)


def test_lr_is_8_bit_in_range_and_target_is_the_hr():
    deg = RealDegradation()
    hr = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    for seed in range(40):
        lr, target = deg(hr, 2, torch.Generator().manual_seed(seed))
        assert lr.shape == (1, 3, 32, 32) and 0 <= lr.min() and lr.max() <= 1
        assert torch.equal((lr * 255).round(), lr * 255)
        assert torch.equal(target, hr)


def test_clean_pairs_are_the_matlab_bicubic_ones():
    from tinyespcn_nodes.core.resize import matlab_imresize

    deg = RealDegradation(clean_share=1.0)
    hr = torch.rand(1, 3, 32, 32, dtype=torch.float64)
    lr, _ = deg(hr, 2, torch.Generator().manual_seed(0))
    assert torch.equal(lr, (matlab_imresize(hr, scale=0.5).clamp(0, 1) * 255).round() / 255)


@pytest.mark.parametrize("scale", [2, 4])
def test_plans_stay_within_their_ranges_and_cover_every_piece(scale):
    deg = RealDegradation()
    plans = [deg.plan(scale, torch.Generator().manual_seed(s)) for s in range(600)]
    clean = sum(p == [("bicubic", {})] for p in plans) / len(plans)
    assert abs(clean - deg.clean_share) < 0.06
    seen_kernels, seen_noise, rounds2 = set(), set(), 0
    stretch = max(1.0, scale / 2)
    for plan in plans:
        rounds2 += sum(name == "resize" for name, _ in plan) == 2
        for name, p in plan:
            if name == "blur":
                seen_kernels.add(p["kind"])
                lo, hi = deg.kernel_size
                assert lo <= p["size"] <= hi and p["size"] % 2 == 1
                if p["kind"] == "sinc":
                    assert deg.sinc_cutoff[0] <= p["cutoff"] <= deg.sinc_cutoff[1]
                else:
                    assert deg.blur_sigma[1][0] <= p["sx"] <= deg.blur_sigma[0][1] * stretch
                    assert 0 <= p["theta"] <= math.pi
            elif name == "resize":
                assert min(r[0] for r in deg.resize_range) <= p["factor"] <= max(r[1] for r in deg.resize_range)
            elif name == "noise":
                seen_noise.add((p["kind"], p["grey"]))
                rng = deg.gaussian_sigma if p["kind"] == "gaussian" else deg.poisson_gain
                assert rng[0] <= p["level"] <= rng[1]
            elif name == "jpeg":
                assert deg.jpeg_quality[0] <= p["quality"] <= deg.jpeg_quality[1]
    assert seen_kernels == set(KERNELS)
    assert len(seen_noise) == 4  # Gaussian and Poisson, colour and grey
    assert abs(rounds2 / (len(plans) * (1 - clean)) - deg.second_round) < 0.08


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError, match="jpeg_quality"):
        RealDegradation(jpeg_quality=(0, 90))
    with pytest.raises(ValueError, match="probability"):
        RealDegradation(clean_share=1.5)
    with pytest.raises(ValueError, match="kernel_size"):
        RealDegradation(kernel_size=(6, 21))


def test_trainer_runs_the_real_preset_and_validates_on_degraded_inputs_first(image_folder, tmp_path, capsys):
    from tinyespcn_nodes.core.weights import read_weights
    from trainer.cli import main

    val = tmp_path / "val"
    val.mkdir()
    Image.effect_noise((40, 40), 40).convert("RGB").save(val / "a.png")
    run = tmp_path / "r"
    argv = [
        "pretrain", "--data", str(image_folder), "--channels", "8", "--blocks", "1", "--patch", "12", "--batch", "2",
        "--steps", "2", "--warmup", "1", "--val-sets", str(val), "--val-every", "1", "--log-every", "1",
        "--threads", "1", "--workers", "1", "--run-dir", str(run), "--degradation", "real",
        "--real-options", "clean_share=0.5", "jpeg_quality=20,60", "blur_sigma=0.2,1;0.2,0.5",
    ]  # fmt: skip
    assert main(argv) == 0
    log = capsys.readouterr().err
    assert "val-real" in log and log.index("val-real") < log.index(" val ")
    info, _ = read_weights(run / "final.safetensors")
    assert info.training["config"]["degradation"] == "real"
    assert info.training["config"]["real_options"] == {
        "clean_share": 0.5, "jpeg_quality": [20.0, 60.0], "blur_sigma": [[0.2, 1.0], [0.2, 0.5]]
    }  # fmt: skip


def test_real_options_override_the_preset_and_bad_ones_are_refused_in_one_line(capsys):
    from trainer.cli import main
    from trainer.config import TrainConfig, real_degradation, real_option

    assert real_option("clean_share=0.3") == ("clean_share", 0.3)
    assert real_option("jpeg_quality=15,80") == ("jpeg_quality", [15.0, 80.0])
    deg = real_degradation({"jpeg_quality": [15, 80], "blur_sigma": [[0.2, 1.2], [0.2, 0.8]]})
    assert deg.jpeg_quality == (15, 80) and deg.blur_sigma == ((0.2, 1.2), (0.2, 0.8))
    assert deg.clean_share == RealDegradation().clean_share
    with pytest.raises(ValueError, match="expected FIELD=NUMBER"):
        real_option("jpeg_quality=high")
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['clean'\]"):
        TrainConfig().updated({"real_options": {"clean": 0.2}})
    with pytest.raises(ValueError, match="jpeg_quality"):
        TrainConfig().updated({"real_options": {"jpeg_quality": [0, 80]}})
    for bad in (["clean_share=2"], ["clean_share"], ["nope=1"]):
        assert main(["pretrain", "--data", "x", "--degradation", "real", "--real-options", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "real_options" in err.replace("-", "_") and "\n" not in err


def test_runs_without_real_options_keep_their_folder():
    from trainer.config import TrainConfig

    cfg = TrainConfig()
    assert "real_options" not in cfg.identity()
    assert "real_options" in cfg.updated({"real_options": {"clean_share": 0.3}}).identity()


def test_preview_writes_a_grid_png(image_folder, tmp_path):
    from trainer.cli import main

    out = tmp_path / "grid.png"
    argv = ["preview", "--data", str(image_folder), "--out", str(out), "--patch", "12", "--count", "5"]
    argv += ["--real-options", "clean_share=0.5", "jpeg_quality=20,60"]
    assert main(argv) == 0
    img = Image.open(out)
    assert img.format == "PNG" and img.size == (4 * (2 * 24 + 4) + 3 * 8, 2 * 24 + 8)
    assert not list(tmp_path.glob(".grid.png*"))
