"""The command line under bad input and name clashes: nothing lost, one clear message per problem."""

import os

import numpy as np
import pytest
import torch
from conftest import interrupt_on_call
from PIL import Image, ImageCms

from tinyespcn_nodes.hosts.cli.main import main
from tinyespcn_nodes.io.imagefiles import read_image, read_image_meta


def _photo(path, seed=0, size=(11, 9), **save):
    arr = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(path, **save)
    return arr


def test_same_stem_inputs_never_overwrite_each_other(tmp_path, weights_file, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _photo(src / "x.jpg", 0)
    _photo(src / "x.png", 1)
    assert main(["upscale", str(src), "-o", str(out), "--weights", str(weights_file), "--format", "png"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["x_png_x2_tiny-x2.png", "x_x2_tiny-x2.png"]
    assert "writing x_png_x2_tiny-x2.png instead" in capsys.readouterr().err
    a, b = read_image(out / "x_x2_tiny-x2.png"), read_image(out / "x_png_x2_tiny-x2.png")
    assert not np.array_equal(a, b)


def test_existing_output_is_kept_unless_overwrite(tmp_path, weights_file, capsys):
    _photo(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_x2_tiny-x2.png").write_bytes(b"precious")
    args = ["upscale", str(tmp_path / "a.png"), "-o", str(out), "--weights", str(weights_file)]
    assert main(args) == 0  # skipped (exists), counted apart: not a failure
    assert (out / "a_x2_tiny-x2.png").read_bytes() == b"precious"
    assert "a_x2_tiny-x2.png exists (pass --overwrite to replace it)" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert read_image(out / "a_x2_tiny-x2.png").shape == (18, 22, 3)


def test_one_input_and_an_image_suffix_writes_that_file(tmp_path, weights_file):
    _photo(tmp_path / "a.png")
    target = tmp_path / "result.tif"
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(target), "--weights", str(weights_file)]) == 0
    assert target.is_file() and read_image(target).shape == (18, 22, 3)


def test_several_inputs_need_a_folder(tmp_path, weights_file, capsys):
    _photo(tmp_path / "a.png")
    _photo(tmp_path / "b.png")
    (tmp_path / "o.png").write_bytes(b"x")
    args = ["upscale", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "o.png")]
    assert main([*args, "--weights", str(weights_file)]) == 2
    assert "must be a folder" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_write_failure_is_reported_per_file_and_the_batch_goes_on(tmp_path, weights_file, capsys):
    _photo(tmp_path / "a.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        args = ["upscale", str(tmp_path / "a.png"), "-o", str(locked), "--weights", str(weights_file)]
        assert main(args) == 1
    finally:
        locked.chmod(0o700)
    assert "cannot write" in capsys.readouterr().err and not list(locked.iterdir())


def test_disk_full_is_reported_per_file_and_leaves_no_partial_file(tmp_path, weights_file, capsys, monkeypatch):
    """Disk full mid-write: a message per file, the next file still done, no partial file left."""
    _photo(tmp_path / "a.png", 0)
    _photo(tmp_path / "b.png", 1)
    real = Image.Image.save
    calls = []

    def full_disk(self, fp, *a, **k):
        calls.append(fp)
        if len(calls) == 1:
            open(fp, "wb").write(b"half")
            raise OSError(28, "No space left on device")
        return real(self, fp, *a, **k)

    monkeypatch.setattr(Image.Image, "save", full_disk)
    out = tmp_path / "out"
    args = ["upscale", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(out), "--weights", str(weights_file)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "No space left on device" in err and "1 of 2 file(s) failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["b_x2_tiny-x2.png"]


def test_bad_weights_are_reported_once(tmp_path, capsys):
    for n in range(3):
        _photo(tmp_path / f"{n}.png", n)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    assert main(["upscale", str(tmp_path), "-o", str(tmp_path / "o"), "--weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("bad.safetensors") == 1 and "Traceback" not in err


def test_nan_files_are_named_and_float_micrographs_are_windowed(tmp_path, weights_file, capsys):
    import tifffile

    tifffile.imwrite(tmp_path / "nan.tif", np.full((8, 8), np.nan, np.float32))
    some = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    some[2, 3] = np.nan
    tifffile.imwrite(tmp_path / "some_nan.tif", some)
    hot = np.random.default_rng(1).random((8, 8)).astype(np.float32) * 4000 + 100  # a float micrograph
    tifffile.imwrite(tmp_path / "hot.tif", hot)
    assert main(["upscale", str(tmp_path), "-o", str(tmp_path / "o"), "--weights", str(weights_file)]) == 1
    err = capsys.readouterr().err
    assert "nan.tif: 64 non-finite value(s) (NaN/Inf), the first at row 0, column 0" in err
    assert "some_nan.tif: 1 non-finite value(s) (NaN/Inf), the first at row 2, column 3" in err
    out = read_image(tmp_path / "o" / "hot_x2_tiny-x2.tif")
    assert out.dtype == np.float32 and out.max() > 1000  # windowed by its percentiles, not clipped to [0, 1]


def test_icc_profile_and_exif_survive_in_every_format(tmp_path, weights_file):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = 1
    _photo(tmp_path / "p.jpg", icc_profile=icc, exif=exif)
    _photo(tmp_path / "q.png", 1, icc_profile=icc)
    out = tmp_path / "out"
    assert main(["upscale", str(tmp_path), "-o", str(out), "--weights", str(weights_file)]) == 0
    for name in ("p_x2_tiny-x2.jpg", "q_x2_tiny-x2.png"):
        _, meta = read_image_meta(out / name)
        assert meta.icc == icc, name
    _, meta = read_image_meta(out / "p_x2_tiny-x2.jpg")
    kept = Image.Exif()
    kept.load(meta.exif)
    assert kept.get(0x010F) == "TestCam" and 0x0112 not in kept
    target = tmp_path / "p16.tif"
    assert main(["upscale", str(tmp_path / "p.jpg"), "-o", str(target), "--weights", str(weights_file)]) == 0
    assert read_image_meta(target)[1].icc == icc


def test_convert_rejects_pickles_without_suggesting_unsafe_loading(tmp_path, capsys):
    import argparse

    bad = tmp_path / "evil.pth"
    torch.save({"x": torch.zeros(1), "obj": argparse.Namespace(run="code")}, bad)
    cut = tmp_path / "cut.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 5, 5)}, cut)
    cut.write_bytes(cut.read_bytes()[:40])
    for path in (bad, cut):
        assert main(["convert", str(path), str(tmp_path / "o.safetensors")]) == 2
        err = capsys.readouterr().err
        assert path.name in err and "weights_only=False" not in err and "Traceback" not in err
    assert not (tmp_path / "o.safetensors").exists()


def test_demo_prints_the_figures_it_draws(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "Y-PSNR" in line]
    assert len(lines) == 3 and all(line.rstrip().endswith("dB") for line in lines)


def test_factor_reaches_any_size_and_names_the_output(tmp_path, weights_file):
    _photo(tmp_path / "a.png", size=(20, 10))
    out = tmp_path / "out"
    assert (
        main(["upscale", str(tmp_path / "a.png"), "-o", str(out), "--weights", str(weights_file), "--factor", "1.5"])
        == 0
    )
    assert read_image(out / "a_x1.5_tiny-x2.png").shape == (15, 30, 3)


@pytest.mark.parametrize("bad", ["1", "0.5", "9", "x"])
def test_bad_factor_names_the_option(bad, capsys):
    with pytest.raises(SystemExit):
        main(["upscale", "--factor", bad])
    assert "--factor" in capsys.readouterr().err


def test_a_tile_below_its_context_is_refused_before_any_work(tmp_path, weights_file, capsys):
    _photo(tmp_path / "a.png")
    args = ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--weights", str(weights_file)]
    assert main([*args, "--tile", "8"]) == 2
    assert "--tile 8: below 22" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_ctrl_c_stops_cleanly_keeping_finished_files(tmp_path, weights_file, capsys, monkeypatch):
    from tinyespcn_nodes.engine import job as pipeline

    for n in range(3):
        _photo(tmp_path / f"{n}.png", n)
    monkeypatch.setattr(pipeline, "upscale_array", interrupt_on_call(pipeline.upscale_array, 2))
    out = tmp_path / "out"
    assert main(["upscale", str(tmp_path), "-o", str(out), "--weights", str(weights_file)]) == 130
    err = capsys.readouterr().err
    assert "interrupted: 1 of 3 file(s) written" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["0_x2_tiny-x2.png"]  # complete, and no temp file left
    assert read_image(out / "0_x2_tiny-x2.png").shape == (18, 22, 3)
