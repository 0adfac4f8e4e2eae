"""Issue 33, data loss: `upscale IN.zarr -o DIR --overwrite` replaces only a store this program wrote."""

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
pytest.importorskip("dask.array")

from tinyespcn_nodes.hosts.cli.main import main  # noqa: E402


@pytest.fixture
def src(tmp_path):
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=(2, 12, 10), chunks=(1, 12, 10), dtype=np.uint8)
    z[:] = np.arange(240, dtype=np.uint8).reshape(2, 12, 10)
    return tmp_path / "in.zarr"


def _run(src, out, weights, *extra):
    return main(["upscale", str(src), "-o", str(out), "--weights", str(weights), "--overwrite", *extra])


def test_overwrite_never_deletes_a_folder_with_other_content(tmp_path, src, weights_file, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"years of work")
    assert _run(src, out, weights_file) == 2
    assert (out / "thesis.docx").read_bytes() == b"years of work"
    assert "not a store this program wrote" in capsys.readouterr().err


def test_overwrite_of_dot_or_a_parent_of_the_input_is_refused(tmp_path, src, weights_file, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    assert _run(src, ".", weights_file) == 2
    assert _run(src, tmp_path, weights_file) == 2
    assert (tmp_path / "keep.txt").exists() and (src / "zarr.json").exists()
    err = capsys.readouterr().err
    assert err.count("current folder or a folder above it") == 2 and "Traceback" not in err


def test_our_own_store_with_a_stray_file_is_not_replaced(tmp_path, src, weights_file, capsys):
    out = tmp_path / "out.zarr"
    assert main(["upscale", str(src), "-o", str(out), "--weights", str(weights_file)]) == 0
    (out / "notes.txt").write_text("mine")
    assert _run(src, out, weights_file, "--level", "0", "--tile", "0") == 2
    assert (out / "notes.txt").exists() and "holds other files too (notes.txt)" in capsys.readouterr().err


def test_our_own_store_is_replaced_by_overwrite(tmp_path, src, weights_file):
    out = tmp_path / "out.zarr"
    assert main(["upscale", str(src), "-o", str(out), "--weights", str(weights_file)]) == 0
    assert _run(src, out, weights_file, "--tile", "0") == 0  # other settings: a new job, replacing ours
    assert zarr.open(str(out), mode="r").shape == (2, 24, 20)
