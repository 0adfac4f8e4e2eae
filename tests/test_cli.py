import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from tinyespcn_nodes.core.catalog import bundled
from tinyespcn_nodes.hosts.cli.main import main
from tinyespcn_nodes.io.imagefiles import ImageFileError, read_image, write_image

needs_weights = pytest.mark.skipif("general-x2" not in bundled(), reason="no bundled general-x2 weights")


@needs_weights
def test_demo_writes_side_by_side(tmp_path):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    img = Image.open(tmp_path / "demo_side_by_side.png")
    assert img.width >= 3 * 512 and img.height > 512  # three 512² panels with captions


def test_upscale_keeps_16_bit_and_never_overwrites(tmp_path, weights_file):
    src = tmp_path / "in"
    src.mkdir()
    gray16 = (np.random.default_rng(0).random((20, 30)) * 65535).astype(np.uint16)
    rgb16 = (np.random.default_rng(1).random((12, 14, 3)) * 65535).astype(np.uint16)
    write_image(src / "g.png", gray16)
    write_image(src / "c.png", rgb16)
    Image.fromarray((np.random.default_rng(2).random((9, 11, 3)) * 255).astype(np.uint8)).save(src / "p.jpg")
    out = tmp_path / "out"
    assert main(["upscale", str(src), "-o", str(out), "--weights", str(weights_file), "--sharpen", "--antialias"]) == 0
    g, c = read_image(out / "g_x2_tiny-x2.png"), read_image(out / "c_x2_tiny-x2.png")
    p = read_image(out / "p_x2_tiny-x2.jpg")  # a JPEG stays a JPEG
    assert g.dtype == np.uint16 and g.shape == (40, 60)
    assert c.dtype == np.uint16 and c.shape == (24, 28, 3)
    assert p.dtype == np.uint8 and p.shape == (18, 22, 3)
    # writing next to the inputs with the same name would overwrite them: refused
    (src / "g_x2_tiny-x2.png").write_bytes((out / "g_x2_tiny-x2.png").read_bytes())
    args = [str(src / "g_x2_tiny-x2.png"), str(src / "g.png"), "-o", str(src), "--weights", str(weights_file)]
    assert main(["upscale", *args]) == 1


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.new("RGB", (40, 20), "red")
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (40, 20, 3)


def test_truncated_and_non_images_give_clear_errors(tmp_path, portrait_u8):
    good = tmp_path / "ok.png"
    Image.fromarray(portrait_u8).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ImageFileError, match=r"cut\.png.*(truncated|corrupt)"):
        read_image(cut)
    txt = tmp_path / "notes.png"
    txt.write_text("hello")
    with pytest.raises(ImageFileError, match="notes.png"):
        read_image(txt)


def test_info_prints_true_counts():
    res = subprocess.run(
        [sys.executable, "-m", "tinyespcn_nodes", "info"], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert "386,188" in res.stdout and "1.38x the claim" in res.stdout


@pytest.mark.parametrize("text, value", [("auto", -1), ("AUTO", -1), ("0", 0), ("96", 96)])
def test_tile_option_takes_auto_zero_or_a_side(text, value):
    from tinyespcn_nodes.hosts.cli.main import build_parser

    assert build_parser().parse_args(["upscale", "--tile", text]).tile == value


def test_bad_tile_option_names_the_argument(capsys):
    with pytest.raises(SystemExit):
        main(["upscale", "--tile", "-5"])
    assert "--tile" in capsys.readouterr().err
