"""`export-bioimageio`: a bioimage.io 0.5 package that passes bioimage.io's own test and runs like our pipeline.

Needs the bioimageio extra (scripts/test.sh installs it); CI sets TINYESPCN_REQUIRE_BIOIMAGEIO, so a missing
extra fails there instead of skipping."""

import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import require_bioimageio

from tinyespcn_nodes.hosts.cli.main import main


def test_missing_extra_is_named(tmp_path, weights_file, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n.startswith("bioimageio") else real(n, *a))
    assert main(["export-bioimageio", str(weights_file), str(tmp_path / "m.zip")]) == 2
    err = capsys.readouterr().err
    assert "tinyespcn-nodes[bioimageio]" in err and "bioimageio.core" in err
    assert not list(tmp_path.glob("*.zip"))


def test_out_must_be_a_zip(tmp_path, weights_file, capsys):
    require_bioimageio()
    assert main(["export-bioimageio", str(weights_file), str(tmp_path / "m.onnx")]) == 2
    assert "m.onnx: a bioimage.io package is a .zip file" in capsys.readouterr().err


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    require_bioimageio()
    require_bioimageio("onnxruntime")
    out = tmp_path_factory.mktemp("bio") / "fast-x3.zip"
    assert main(["export-bioimageio", "fast-x3", str(out)]) == 0
    return out


def test_package_passes_the_bioimageio_test_command(package):
    """`bioimageio test OUT.zip`, the command itself: every weight format, several sizes and batch 2."""
    run = subprocess.run(
        [sys.executable, "-m", "bioimageio.core", "test", str(package)], capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "bioimageio format validation" in run.stdout and "passed" in run.stdout
    assert "failed" not in run.stdout


def test_package_describes_the_model(package):
    from bioimageio.spec import load_model_description

    descr = load_model_description(package)
    assert descr.format_version.startswith("0.5")
    assert set(descr.weights.available_formats) >= {"torchscript", "onnx"}
    y_in, y_out = descr.inputs[0].axes[2], descr.outputs[0].axes[2]
    assert y_out.scale == pytest.approx(1 / 3) and y_out.halo == 3 * 10  # fast-x3's receptive radius is 10
    assert y_in.size.min >= 2 * 10
    pre = next(p for p in descr.inputs[0].preprocessing if p.id == "scale_range")
    assert (pre.kwargs.min_percentile, pre.kwargs.max_percentile) == (0.1, 99.9)
    assert str(descr.license) == "CC-BY-NC-4.0"  # trained on PolyU (non-commercial)
    assert any("10.1109/CVPR.2016.207" in str(c.doi) for c in descr.cite)
    names = zipfile.ZipFile(package).namelist()
    assert {"README.md", "cover.png", "weights.onnx", "weights_torchscript.pt"} <= set(names)
    readme = zipfile.ZipFile(package).read("README.md").decode()
    assert "## Validation" in readme and "deepImageJ" in readme and "PolyU_mean_down" in readme


def test_package_output_equals_our_own_pipeline(package):
    """The package on a micrograph is our upscale with --intensity percentile: exactly on the same normalised
    input away from the border (bioimage.io pads the halo its own way there), and within 1 % of the window
    with its own percentile step (its quantiles differ slightly from numpy's)."""
    from bioimageio.core import predict

    from tinyespcn_nodes.core.intensity import PERCENTILES
    from tinyespcn_nodes.engine.job import upscale_array

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:72, 0:88]
    img = (300 + 2000 * np.exp(-((yy - 30) ** 2 + (xx - 40) ** 2) / 200) + rng.normal(0, 20, yy.shape)).astype(
        np.float32
    )
    lo, hi = np.percentile(img, PERCENTILES)
    ours = (upscale_array(img, 3, "fast-x3", intensity="percentile", tile=0, precision="fp32") - lo) / (hi - lo)
    inner = (slice(30, -30), slice(30, -30))  # beyond the 30-pixel halo
    normalised = ((img - lo) / (hi - lo)).astype(np.float32)[None, None]
    same = predict(model=str(package), inputs={"raw": normalised}, skip_preprocessing=True)
    same = np.asarray(same.members["upscaled"].data)[0, 0]
    assert same.shape == ours.shape == (216, 264)
    np.testing.assert_allclose(same[inner], ours[inner], atol=1e-5)
    full = np.asarray(predict(model=str(package), inputs={"raw": img[None, None]}).members["upscaled"].data)[0, 0]
    np.testing.assert_allclose(full[inner], ours[inner], atol=0.01)


def test_a_missing_extra_fails_where_it_is_required(monkeypatch):
    import conftest

    monkeypatch.delenv(conftest.REQUIRE_BIOIMAGEIO, raising=False)
    with pytest.raises(pytest.skip.Exception, match="bioimageio extra is not installed"):
        require_bioimageio("bioimageio_no_such_module")
    monkeypatch.setenv(conftest.REQUIRE_BIOIMAGEIO, "1")
    with pytest.raises(pytest.fail.Exception, match="TINYESPCN_REQUIRE_BIOIMAGEIO is set"):
        require_bioimageio("bioimageio_no_such_module")
