"""Issue 33, huge TIFFs: the banded path checks the header's size like every reader (--max-pixels raises it,
one line per file, the batch goes on), and its memory stays bounded however wide the image is: a band too
wide is cut into column blocks, each read and written in place."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import torch
from conftest import REPO
from PIL import Image

import tinyespcn_nodes.engine.bands as bands
from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.weights import save_weights
from tinyespcn_nodes.engine.job import UpscaleJob, UpscaleOptions, load_models
from tinyespcn_nodes.hosts.cli.main import main
from tinyespcn_nodes.io import tiff as big_tiff
from tinyespcn_nodes.io.tiff import TiffRows, upscale_tiff


@pytest.fixture
def flat_weights(tmp_path):
    """A model without the global gate (no whole-image statistic to sample)."""
    torch.manual_seed(2)
    model = TinyESPCN(TinyESPCNConfig(scale=2, channels=16, blocks=2, attention=False))
    return save_weights(tmp_path / "flat-x2.safetensors", model, training={"note": "test"})


def _no_decoding(*args, **kwargs):
    raise AssertionError("a block of a refused image was upscaled")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_huge_tiff_on_the_banded_path_is_refused_and_the_batch_goes_on(
    tmp_path, flat_weights, monkeypatch, capsys, dtype
):
    src = tmp_path / "in"
    src.mkdir()
    # 200000² gray, 40 or 80 GB claimed: the header and a sparse (unallocated) pixel area
    tifffile.imwrite(src / "huge.tif", shape=(200000, 200000), dtype=dtype, photometric="minisblack")
    Image.fromarray(np.zeros((9, 11, 3), np.uint8)).save(src / "good.png")
    assert big_tiff.streamable(src / "huge.tif", tmp_path / "o.tif", _job(flat_weights))  # it would stream
    run_array = UpscaleJob.run_array
    monkeypatch.setattr(UpscaleJob, "run_array", lambda self, img, *a, **k: (
        _no_decoding() if img.shape[1] > 1000 else run_array(self, img, *a, **k)))  # fmt: skip
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--weights", str(flat_weights)]) == 1
    err = capsys.readouterr().err
    assert "huge.tif: 200000x200000 pixels exceeds the limit of 268435456 pixels" in err and "--max-pixels" in err
    assert "Traceback" not in err and "1 of 2 file(s) failed" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good_x2_flat-x2.png"]


def test_max_pixels_raises_the_limit_on_the_banded_path(tmp_path, flat_weights, monkeypatch, capsys):
    img = tmp_path / "wide.tif"
    tifffile.imwrite(img, np.arange(40 * 300, dtype=np.uint16).reshape(40, 300) * 5, photometric="minisblack")
    monkeypatch.setattr(big_tiff, "STREAM_ABOVE_BYTES", 0)
    args = ["upscale", str(img), "-o", str(tmp_path / "out.tif"), "--weights", str(flat_weights)]
    assert main([*args, "--max-pixels", "10000"]) == 1
    captured = capsys.readouterr()
    assert (
        "wide.tif: 300x40 pixels exceeds the limit of 10000 pixels" in captured.err and "in bands" not in captured.out
    )
    assert not (tmp_path / "out.tif").exists()
    assert main([*args, "--max-pixels", "12000"]) == 0 and "in bands" in capsys.readouterr().out
    assert tifffile.imread(tmp_path / "out.tif").shape == (80, 600)


def _job(weights, tile=48) -> UpscaleJob:
    options = UpscaleOptions(scale=2, tile=tile, intensity="range")  # no window: no whole-image sample read
    return UpscaleJob(options, load_models(str(weights), 2, "cpu", "fp32"))


@pytest.mark.parametrize("channels", [1, 3])
def test_wide_tiff_runs_in_column_blocks_equal_to_the_whole_image(tmp_path, flat_weights, monkeypatch, channels):
    """A band wider than the block budget is cut into columns: no block, read or write grows with the width,
    and the file equals the in-memory result."""
    monkeypatch.setattr(bands, "BAND_OUT_PIXELS", 40 * 40 * 4)  # the budget of a 40x40 LR block at x2
    job = _job(flat_weights)
    rng = np.random.default_rng(0)
    shape = (61, 700) if channels == 1 else (61, 700, 3)
    arr = (rng.random(shape) * 60000).astype(np.uint16)
    src, out = tmp_path / "wide.tif", tmp_path / "out.tif"
    tifffile.imwrite(src, arr, photometric="minisblack" if channels == 1 else "rgb")
    seen, reads = [], []
    run_array, rows = UpscaleJob.run_array, TiffRows._rows

    def spy_run(self, img, *a, **k):
        seen.append(img.shape[:2])
        return run_array(self, img, *a, **k)

    def spy_rows(self, y0, y1, x0=0, x1=None):
        block = rows(self, y0, y1, x0, x1) if x1 is not None else rows(self, y0, y1)
        reads.append(block.nbytes)
        return block

    monkeypatch.setattr(UpscaleJob, "run_array", spy_run)
    monkeypatch.setattr(TiffRows, "_rows", spy_rows)
    upscale_tiff(src, out, job)
    ctx = job.context()
    assert len(seen) > 10 and max(w for _, w in seen) <= 40 * 40 // 16 + 2 * ctx + 1 < 700
    assert max(reads) < arr.nbytes / 4  # never the whole width of a band
    ref = run_array(job, arr)  # the whole image in memory
    got = tifffile.imread(out)
    assert got.shape == ref.shape and np.abs(got.astype(int) - ref.astype(int)).max() <= 1


_CHILD = r"""
import json, sys
import numpy as np, tifffile
from tinyespcn_nodes.engine.job import UpscaleJob
from tinyespcn_nodes.hosts.cli.main import main

def high_water():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))

weights, src, out, width = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tifffile.imwrite(src, shape=(48, width), dtype=np.uint16, photometric="minisblack")  # sparse: no pixel allocated
real, calls = UpscaleJob.run_array, []

def two_blocks(self, img, *a, **k):  # the peak of a block is reached in its first two; stop there (Ctrl-C)
    calls.append(img.shape)
    if len(calls) > 2:
        raise KeyboardInterrupt
    return real(self, img, *a, **k)

UpscaleJob.run_array = two_blocks
base = high_water()
code = main(["upscale", src, "-o", out, "--weights", weights, "--max-pixels", str(10**12)])
print(json.dumps({"code": code, "extra": high_water() - base, "widest": max(s[1] for s in calls)}))
"""


def test_a_very_wide_16bit_tiff_keeps_band_memory_bounded(tmp_path, flat_weights):
    """48 x 600000 16-bit gray (57 MB in, 230 MB out at x2): the first two blocks add under 200 MB to the
    loaded process (measured 140 MB; whole-width bands measured 892 MB, growing with the width)."""
    res = subprocess.run([sys.executable, "-c", _CHILD, str(flat_weights), str(tmp_path / "w.tif"),
                          str(tmp_path / "o.tif"), "600000"], capture_output=True, text=True, cwd=REPO)  # fmt: skip
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert data["code"] == 130 and data["widest"] < 600000, (data, res.stderr[-2000:])
    assert data["extra"] < 200 * 2**20, data
    assert not (tmp_path / "o.tif").exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("planar", [False, True])
def test_strided_samples_of_a_wide_tiff_read_one_row_at_a_time(tmp_path, monkeypatch, planar):
    """The intensity sample of a very wide image reads its picked rows alone, not blocks of full rows."""
    arr = np.random.default_rng(1).integers(0, 65535, (50, 80, 3), dtype=np.uint16)
    options = {"photometric": "rgb", "planarconfig": "separate" if planar else "contig"}
    tifffile.imwrite(tmp_path / "w.tif", np.moveaxis(arr, -1, 0) if planar else arr, **options)
    monkeypatch.setattr(big_tiff, "_SAMPLE_BYTES", 1)  # any row is "too wide"
    spans, rows = [], TiffRows._rows
    monkeypatch.setattr(TiffRows, "_rows", lambda self, y0, y1, *c: spans.append(y1 - y0) or rows(self, y0, y1, *c))
    with TiffRows(tmp_path / "w.tif") as source:
        for key in (np.s_[::7, ::3], np.s_[3:40:5, 10:70:4, 1:]):
            spans.clear()
            assert np.array_equal(source[key], arr[key]) and set(spans) == {1}


def test_max_pixels_raises_the_limit_on_the_banded_still_path(tmp_path, flat_weights, monkeypatch, capsys):
    """A PNG whose output streams in bands honours --max-pixels too (it used to read with the default)."""
    import tinyespcn_nodes.core.limits as limits
    import tinyespcn_nodes.io.stills as big_still

    monkeypatch.setattr(big_still, "STREAM_ABOVE_BYTES", 0)
    monkeypatch.setattr(limits, "DEFAULT_MAX_PIXELS", 1000)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "a.png")
    args = ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "o.png"), "--weights", str(flat_weights)]
    assert main(args) == 1 and "a.png: 40x40 pixels exceeds the limit of 1000 pixels" in capsys.readouterr().err
    assert main([*args, "--max-pixels", "1600"]) == 0 and "in bands" in capsys.readouterr().out
