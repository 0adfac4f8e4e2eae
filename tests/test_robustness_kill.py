"""Issue 33, kill -9 during a write, for real: the CLI runs in a child process that is SIGKILLed while its
temp file is being written. No output ever exists under the final name; the next run removes the stale temp
file, never takes it as an input (not even with -o the input folder) and succeeds."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tifffile
import torch
from conftest import REPO
from PIL import Image

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.files import is_temp_name
from tinyespcn_nodes.core.weights import save_weights

# the CLI with big-TIFF streaming from the first byte (no 64 MB output needed to take the banded path)
_BANDED_CLI = r"""
import sys
import tinyespcn_nodes.engine.bands as bands
import tinyespcn_nodes.io.tiff as big_tiff
from tinyespcn_nodes.hosts.cli.main import main

big_tiff.STREAM_ABOVE_BYTES = 0
bands.BAND_OUT_PIXELS = 64 * 64 * 4  # many small blocks: the write lasts a while
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def flat_weights(tmp_path):
    torch.manual_seed(2)
    model = TinyESPCN(TinyESPCNConfig(scale=2, channels=16, blocks=2, attention=False))
    return save_weights(tmp_path / "flat-x2.safetensors", model, training={"note": "test"})


def _temps(folder):
    return [p for p in folder.iterdir() if is_temp_name(p.name)]


def _kill_while_writing(cmd, folder, timeout=180.0):
    """Start `cmd`, SIGKILL it as soon as one of our temp files appears in `folder`; the temp files left."""
    child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not (folder.is_dir() and _temps(folder)):
            if child.poll() is not None:
                pytest.fail(f"the run ended before writing: {child.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no temp file appeared")
            time.sleep(0.002)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    return _temps(folder)


def test_kill_9_during_a_big_tiff_write_then_a_rerun_cleans_and_succeeds(tmp_path, flat_weights):
    src, out = tmp_path / "big.tif", tmp_path / "out"
    tifffile.imwrite(src, np.random.default_rng(0).integers(0, 256, (384, 384, 3), dtype=np.uint8), photometric="rgb")
    cmd = [sys.executable, "-c", _BANDED_CLI, "upscale", str(src), "-o", str(out / "big_x2.tif"), "--weights",
           str(flat_weights), "--tile", "64"]  # fmt: skip
    left = _kill_while_writing(cmd, out)
    assert left and not (out / "big_x2.tif").exists()  # a stale temp file, never a partial output
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "in bands" in res.stdout and f"removed {left[0]}, left by an interrupted run" in res.stderr
    assert tifffile.imread(out / "big_x2.tif").shape == (768, 768, 3)
    assert sorted(p.name for p in out.iterdir()) == ["big_x2.tif"]


def test_kill_9_in_a_folder_written_into_itself_the_temp_is_never_an_input(tmp_path, weights_file):
    pics = tmp_path / "pics"
    pics.mkdir()
    noise = np.random.default_rng(1).integers(0, 256, (500, 500, 3), dtype=np.uint8)
    Image.fromarray(noise).save(pics / "a.png")
    cmd = [
        sys.executable,
        "-m",
        "tinyespcn_nodes",
        "upscale",
        str(pics),
        "-o",
        str(pics),
        "--weights",
        str(weights_file),
        "--png-level",
        "9",
    ]  # fmt: skip  (level 9 on noise: a slow encode to catch)
    left = _kill_while_writing(cmd, pics)
    assert left and sorted(p.name for p in pics.iterdir() if not is_temp_name(p.name)) == ["a.png"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "removed" in res.stderr and "error" not in res.stderr
    assert res.stdout.strip().splitlines() == [res.stdout.strip()] and "a.png → " in res.stdout  # the only input
    assert sorted(p.name for p in pics.iterdir()) == ["a.png", "a_x2_tiny-x2.png"]
    assert Image.open(pics / "a_x2_tiny-x2.png").size == (1000, 1000)
