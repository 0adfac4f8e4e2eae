"""Issue 33, odd files and odd -o names: each gives a message naming the real cause, or the right result."""

import os

import numpy as np
import pytest
from PIL import Image

from tinyespcn_nodes.hosts.cli.main import main


def _photo(path):
    Image.fromarray((np.random.default_rng(0).random((9, 11, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _up(*args, weights):
    return main(["upscale", *map(str, args), "--weights", str(weights)])


def test_float_tiff_with_one_inf_pixel_says_how_many_and_where(tmp_path, weights_file, capsys):
    import tifffile

    arr = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    arr[5, 2] = np.inf
    tifffile.imwrite(tmp_path / "f.tif", arr)
    assert _up(tmp_path / "f.tif", "-o", tmp_path / "o", weights=weights_file) == 1
    assert "f.tif: 1 non-finite value(s) (NaN/Inf), the first at row 5, column 2" in capsys.readouterr().err


def test_five_plane_tiff_names_its_real_shape(tmp_path, weights_file, capsys):
    """Five samples per pixel (five pages are five images: test_robustness_multiframe.py)."""
    import tifffile

    tifffile.imwrite(
        tmp_path / "p.tif", np.zeros((8, 8, 5), np.uint16), photometric="minisblack", planarconfig="contig"
    )
    assert _up(tmp_path / "p.tif", "-o", tmp_path / "o", weights=weights_file) == 1
    err = capsys.readouterr().err
    assert "p.tif: 5 samples per pixel (shape (8, 8, 5))" in err and "40 channels" not in err


@pytest.mark.parametrize("kind", ["loop", "broken"])
def test_symlink_loop_and_broken_link_say_so(tmp_path, weights_file, capsys, kind):
    link = tmp_path / "a.png"
    if kind == "loop":
        os.symlink(tmp_path / "b.png", link)
        os.symlink(link, tmp_path / "b.png")
    else:
        os.symlink(tmp_path / "gone.png", link)
    with pytest.raises(SystemExit) as stop:
        _up(link, "-o", tmp_path / "o", weights=weights_file)
    assert f"{link}: " + ("symbolic link loop" if kind == "loop" else "broken symbolic link") in str(stop.value)


def test_dash_o_dot_png_is_refused_not_a_hidden_folder(tmp_path, weights_file, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _photo(tmp_path / "a.png")
    assert main(["upscale", "a.png", "-o.png", "--weights", str(weights_file)]) == 2
    assert not (tmp_path / ".png").exists()
    assert "-o .png: a file name needs a stem" in capsys.readouterr().err


def test_dash_o_naming_an_existing_folder_writes_into_it(tmp_path, weights_file):
    _photo(tmp_path / "a.png")
    (tmp_path / "out.png").mkdir()
    assert _up(tmp_path / "a.png", "-o", tmp_path / "out.png", weights=weights_file) == 0
    assert (tmp_path / "out.png" / "a_x2_tiny-x2.png").is_file()


def test_a_target_that_is_a_folder_is_named_not_advised_overwrite(tmp_path, weights_file, capsys):
    _photo(tmp_path / "a.png")
    (tmp_path / "o" / "a_x2_tiny-x2.png").mkdir(parents=True)
    assert _up(tmp_path / "a.png", "-o", tmp_path / "o", "--overwrite", weights=weights_file) == 1
    err = capsys.readouterr().err
    assert "a_x2_tiny-x2.png is a folder" in err and "Is a directory" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_one_line_per_file(tmp_path, weights_file, capsys):
    """Regression: a read-only output folder is reported per file, nothing written, no traceback."""
    _photo(tmp_path / "a.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert _up(tmp_path / "a.png", "-o", locked, weights=weights_file) == 1
    finally:
        locked.chmod(0o700)
    assert "cannot write" in capsys.readouterr().err
