"""What `pip install .` puts on a machine: the wheel built from this checkout, inspected and run from elsewhere."""

import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Built from a copy of the checkout's files (tracked and new, not ignored), so no stale build/ leaks in."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for rel in filter(None, listed):
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=out)
    (path,) = out.glob("tinyespcn_nodes-*.whl")
    return path


def test_wheel_ships_models_with_the_package_and_vgg_with_the_trainer(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    models = sorted(n for n in names if n.startswith("tinyespcn_nodes/weights/"))
    assert "tinyespcn_nodes/weights/general-x2.safetensors" in models
    assert not any("vgg" in n for n in models), models
    assert "trainer/assets/vgg16_features_conv3_2.safetensors" in names
    assert {"tinyespcn_nodes/napari.yaml", "tinyespcn_nodes/core/arch/rep.py", "trainer/cli.py"} <= set(names)


def test_wheel_version_and_console_scripts_come_from_the_package(wheel):
    import tinyespcn_nodes

    assert f"-{tinyespcn_nodes.__version__}-" in wheel.name
    archive = zipfile.ZipFile(wheel)
    (entry,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
    text = archive.read(entry).decode()
    assert "tinyespcn = tinyespcn_nodes.tools.cli:main" in text
    assert "tinyespcn-train = trainer.cli:main" in text


def test_installed_wheel_runs_both_commands_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    code = (
        "import trainer, tinyespcn_nodes, trainer.losses as l; "
        f"assert trainer.__file__.startswith({str(target)!r}) and tinyespcn_nodes.__file__.startswith({str(target)!r}); "
        "assert l.BUNDLED_VGG.is_file()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, env=env)
    for module in ("trainer", "tinyespcn_nodes"):
        res = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=tmp_path, env=env
        )
        assert res.returncode == 0 and "usage: python -m" in res.stdout, res.stderr
