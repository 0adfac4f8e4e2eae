"""Big PNG / JPEG / WEBP outputs stream in bands: the same pixels as the in-memory path, less memory."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

import tinyespcn_nodes.io.stills as big_still
from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.weights import save_weights
from tinyespcn_nodes.hosts.cli.main import main
from tinyespcn_nodes.io.imagefiles import ImageMeta, read_image, read_image_meta, write_image


@pytest.fixture
def flat_weights(tmp_path):
    """A model without the global gate: bands reproduce it at any image size."""
    torch.manual_seed(2)
    model = TinyESPCN(TinyESPCNConfig(scale=2, channels=16, blocks=2, attention=False))
    return save_weights(tmp_path / "flat-x2.safetensors", model, training={"note": "test"})


@pytest.mark.parametrize(
    "src_name, dtype, channels, out_suffix",
    [("a.png", np.uint8, 3, ".png"), ("g.png", np.uint16, 1, ".png"), ("b.png", np.uint8, 4, ".png"),
     ("c.jpg", np.uint8, 3, ".jpg"), ("d.png", np.uint8, 3, ".webp")],
)  # fmt: skip
def test_bands_equal_the_in_memory_path(
    tmp_path, flat_weights, monkeypatch, capsys, src_name, dtype, channels, out_suffix
):
    rng = np.random.default_rng(0)
    shape = (70, 45) if channels == 1 else (70, 45, channels)
    src = write_image(tmp_path / src_name, (rng.random(shape) * np.iinfo(dtype).max).astype(dtype),
                      meta=ImageMeta(icc=b"fake-icc-profile" if out_suffix == ".png" else None))  # fmt: skip
    whole, banded = tmp_path / f"whole{out_suffix}", tmp_path / f"banded{out_suffix}"
    args = ["upscale", str(src), "--weights", str(flat_weights), "--tile", "24", "-o"]
    assert main([*args, str(whole)]) == 0 and "in bands" not in capsys.readouterr().out
    monkeypatch.setattr(big_still, "STREAM_ABOVE_BYTES", 0)
    assert main([*args, str(banded)]) == 0 and "in bands" in capsys.readouterr().out
    a, b = read_image(whole), read_image(banded)
    assert a.dtype == b.dtype == dtype and a.shape == b.shape == (140, 90, *shape[2:])
    assert np.array_equal(a, b)
    if out_suffix == ".png":
        assert read_image_meta(banded)[1].icc == b"fake-icc-profile"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


_CHILD = r"""
import json, sys
import tinyespcn_nodes.io.stills as big_still
from tinyespcn_nodes.hosts.cli.main import main

def high_water():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))

big_still.STREAM_ABOVE_BYTES = 0 if sys.argv[4] == "1" else 1 << 60
base = high_water()
code = main(["upscale", sys.argv[2], "-o", sys.argv[3], "--weights", sys.argv[1], "--tile", "128"])
print(json.dumps({"code": code, "extra": high_water() - base}))
"""


def test_png_output_streams_without_holding_the_output(tmp_path, flat_weights):
    """1536² → 3072² PNG: the peak over the loaded process is under the output's bytes + 96 MB (the
    in-memory path measured 169 MB for this 28 MB output: the array, Pillow's copy and the encoder). The
    streamed path measured 37-63 MB over the output's bytes depending on what ran before in the suite."""
    src = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1536, 1536, 3), dtype=np.uint8)).save(src)
    res = subprocess.run([sys.executable, "-c", _CHILD, str(flat_weights), str(src), str(tmp_path / "o.png"), "1"],
                         capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout.strip().splitlines()[-1])
    out_bytes = 3072 * 3072 * 3
    assert data["code"] == 0 and data["extra"] <= out_bytes + 96 * 2**20, data
    assert Image.open(tmp_path / "o.png").size == (3072, 3072)
