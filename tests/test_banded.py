"""Row bands and big TIFFs: band by band equals the in-memory pipeline, from every TIFF layout, via the CLI."""

import numpy as np
import pytest
import tifffile
from conftest import interrupt_on_call

from tinyespcn_nodes.core import tiling
from tinyespcn_nodes.engine.bands import upscale_bands
from tinyespcn_nodes.engine.job import (
    PostProcess,
    UpscaleJob,
    UpscaleOptions,
    chain_context,
    load_models,
    upscale_array,
)
from tinyespcn_nodes.hosts.cli.main import main
from tinyespcn_nodes.io import tiff as big_tiff
from tinyespcn_nodes.io.tiff import TiffRows, streamable, upscale_tiff


def _job(models, tile=-1, post=None) -> UpscaleJob:
    return UpscaleJob(UpscaleOptions(scale=1, tile=tile, post=post or PostProcess()), models)


def _bands(source, models, tile=-1, post=None, rows=None) -> np.ndarray:
    return np.concatenate(list(upscale_bands(source, _job(models, tile, post), rows=rows)))


@pytest.mark.parametrize(
    "make, post",
    [
        (lambda img: img, None),
        (lambda img: img, PostProcess(sharpen=True, antialias=True)),
        (lambda img: np.dstack([img, img[..., :1]]), None),  # RGBA: alpha resized beside the model
        (lambda img: img[..., 1].astype(np.uint16) * 40 + 300, None),  # dim 16-bit gray: a percentile window
    ],
)
def test_bands_equal_the_whole_image(portrait_u8, make, post):
    models = load_models("fast-x2", 2, "cpu", "fp32")
    src = make(portrait_u8[:150, :130])
    before = src.copy()
    got = _bands(src, models, tile=64, post=post, rows=23)  # odd band height: bands end mid-tile
    ref = upscale_array(src, models=models, tile=64, post=post)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    # equal up to float reassociation across conv shapes (1 level at a rare pixel, seen only at 16 bits)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    assert np.array_equal(src, before)


def test_statistics_model_gets_the_sampled_whole_image_statistic(portrait_u8, weights_file, monkeypatch):
    monkeypatch.setattr(tiling, "CODE_CACHE_BYTES", 0)  # the in-memory path of images above the code cache
    models = load_models(str(weights_file), 2, "cpu", "fp32")
    assert tiling.needs_statistics(models[0])
    src = portrait_u8[:160, :120]
    ref = upscale_array(src, models=models, tile=48)
    assert np.array_equal(_bands(src, models, tile=48, rows=20), ref)
    # without the given statistic each band would use its own: the result would differ
    own = np.concatenate([upscale_array(src[y : y + 20], models=models, tile=48) for y in range(0, 160, 20)])
    assert not np.array_equal(own, ref)


def test_x8_chain_runs_in_bands(portrait_u8):
    models = load_models("fast-x2", 8, "cpu", "fp32")
    src = portrait_u8[:40, :36]
    assert np.array_equal(_bands(src, models, tile=48, rows=16), upscale_array(src, models=models, tile=48))


def test_what_bands_cannot_reproduce_is_refused(portrait_u8, weights_file):
    seed = load_models(str(weights_file), 2, "cpu", "fp32")
    with pytest.raises(ValueError, match="in-memory path"):  # small enough for the exact code cache
        next(upscale_bands(portrait_u8[:64, :64], _job(seed, 32)))
    with pytest.raises(ValueError, match="chain"):
        next(upscale_bands(portrait_u8[:64, :64], _job(seed * 3, 32)))
    with pytest.raises(ValueError, match="tile 0"):
        next(upscale_bands(portrait_u8[:64, :64], _job(load_models("fast-x2", 2, "cpu", "fp32"), 0)))


LAYOUTS = {
    "contiguous": (lambda a: a, {}),
    "planar": (lambda a: np.moveaxis(a, -1, 0), {"photometric": "rgb", "planarconfig": "separate"}),
    "big-endian 16-bit gray": (lambda a: a[..., 1].astype(">u2") * 200, {"byteorder": ">"}),
    "zlib": (lambda a: a, {"compression": "zlib"}),
    "tiled": (lambda a: a, {"tile": (32, 32)}),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_tiff_rows_read_every_layout_lazily(tmp_path, portrait_u8, layout):
    make, options = LAYOUTS[layout]
    if "compression" in options or "tile" in options:
        pytest.importorskip("zarr")
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, make(portrait_u8[:100, :90]), **options)
    whole = tifffile.imread(path)
    whole = np.moveaxis(whole, 0, -1) if layout == "planar" else whole
    with TiffRows(path) as rows:
        assert rows.reason_not_streamable() is None and rows.shape == whole.shape
        assert rows.dtype == whole.dtype.newbyteorder("=")
        for key in (np.s_[7:61], np.s_[::7, ::3], np.s_[90:100, 10:20], np.s_[99:], np.s_[50:50], np.s_[::3, 5:80:4]):
            assert np.array_equal(rows[key], whole[key])


def test_tiff_in_bands_equals_the_in_memory_file_path(tmp_path, portrait_u8):
    src, banded, whole = tmp_path / "in.tif", tmp_path / "banded.tif", tmp_path / "whole.tif"
    icc = b"\x00\x00\x02\x0cfake icc profile bytes"
    tifffile.imwrite(src, portrait_u8[:120, :100], photometric="rgb", iccprofile=icc)
    models = load_models("fast-x2", 2, "cpu", "auto")
    read, spans = TiffRows._rows, []

    def spy(self, y0, y1, *columns):
        spans.append(y1 - y0)
        return read(self, y0, y1, *columns)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TiffRows, "_rows", spy)
        shape_in, shape_out, dtype = upscale_tiff(src, banded, _job(models, 64), rows=30)
    assert max(spans) <= 30 + 2 * chain_context(models) < 120  # one band and its context, never the whole file
    assert (shape_in, shape_out, dtype) == ((120, 100, 3), (240, 200, 3), np.uint8)
    assert main(["upscale", str(src), "-o", str(whole), "--weights", "fast-x2", "--tile", "64"]) == 0
    assert not streamable(src, whole, _job(models, 64))  # small: the in-memory path ran
    assert np.array_equal(tifffile.imread(banded), tifffile.imread(whole))
    with tifffile.TiffFile(banded) as tif:
        assert bytes(tif.pages[0].tags[34675].value) == icc


def test_cli_streams_big_tiffs_and_stops_cleanly(tmp_path, portrait_u8, monkeypatch, capsys):
    src, out = tmp_path / "in.tif", tmp_path / "out.tif"
    tifffile.imwrite(src, portrait_u8[:96, :80], photometric="rgb")
    monkeypatch.setattr(big_tiff, "STREAM_ABOVE_BYTES", 0)
    assert main(["upscale", str(src), "-o", str(out), "--weights", "fast-x2", "--tile", "40"]) == 0
    assert "in bands" in capsys.readouterr().out
    ref = upscale_array(portrait_u8[:96, :80], models=load_models("fast-x2", 2, "auto", "auto"), tile=40)
    assert np.array_equal(tifffile.imread(out), ref)

    monkeypatch.setattr(UpscaleJob, "run_array", interrupt_on_call(UpscaleJob.run_array, 2))  # in the 2nd band
    again = tmp_path / "again.tif"
    assert main(["upscale", str(src), "-o", str(again), "--weights", "fast-x2", "--tile", "40"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif", "out.tif"]  # no partial file, no temp file


def test_a_failing_band_job_names_the_file_and_leaves_nothing(tmp_path, portrait_u8, monkeypatch, capsys):
    src, out = tmp_path / "in.tif", tmp_path / "out.tif"
    tifffile.imwrite(src, portrait_u8[:96, :80], photometric="rgb")
    monkeypatch.setattr(big_tiff, "STREAM_ABOVE_BYTES", 0)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(UpscaleJob, "run_array", full_disk)
    assert main(["upscale", str(src), "-o", str(out), "--weights", "fast-x2", "--tile", "40"]) == 1
    err = capsys.readouterr().err
    assert f"error: {src}: [Errno 28] No space left on device" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]
