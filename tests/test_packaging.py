"""What `pip install .` puts on a machine: the wheel built from this checkout, inspected and run from elsewhere."""

import os
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


def test_installed_wheel_lists_its_models_and_runs_the_pyramid_baseline_by_name(wheel, tmp_path):
    import numpy as np
    from PIL import Image

    names = zipfile.ZipFile(wheel).namelist()
    assert "tinyespcn_nodes/weights/baselines/pyramid-x8.safetensors" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "a.png")
    run = [sys.executable, "-m", "tinyespcn_nodes"]
    res = subprocess.run([*run, "models"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert res.returncode == 0 and "pyramid-x8" in res.stdout and "general-x2" in res.stdout, res.stderr
    res = subprocess.run(
        [*run, "upscale", "a.png", "-o", "out", "--weights", "pyramid-x8"], capture_output=True, text=True,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert res.returncode == 0 and "pyramid-x8" in res.stdout, res.stderr
    assert Image.open(tmp_path / "out" / "a_x8_pyramid-x8.png").size == (64, 48)


def test_wheel_version_and_console_scripts_come_from_the_package(wheel):
    import tinyespcn_nodes

    assert f"-{tinyespcn_nodes.__version__}-" in wheel.name
    archive = zipfile.ZipFile(wheel)
    (entry,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
    text = archive.read(entry).decode()
    assert "tinyespcn = tinyespcn_nodes.hosts.cli.main:main" in text
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


def _installed_closure(requirements: list[str]) -> set[str]:
    """Distribution names of `requirements` and everything they require (extras' requirements left out)."""
    import re
    from importlib import metadata

    seen: set[str] = set()
    todo = [re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0] for r in requirements]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        todo += [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r]
    return seen


def test_the_cli_upscale_imports_only_core_dependencies(tmp_path):
    """A plain `pip install .` must run `upscale` on files: every third-party module that path imports belongs
    to a core dependency (or one of theirs), not to an extra that happens to be installed here."""
    import json
    from importlib import metadata

    import numpy as np
    from PIL import Image

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    Image.fromarray(np.zeros((24, 20, 3), np.uint8)).save(tmp_path / "in.png")
    probe = (
        "import atexit, json, runpy, sys\n"
        "before = set(sys.modules)  # what site start-up imported (.pth hooks) is not the command's\n"
        "atexit.register(lambda: print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before}))))\n"
        f"sys.argv = ['tinyespcn', 'upscale', {str(tmp_path / 'in.png')!r}, '-o', {str(tmp_path / 'out.png')!r},"
        " '--weights', 'fast-x2']\n"
        "runpy.run_module('tinyespcn_nodes', run_name='__main__')\n"
    )
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert (tmp_path / "out.png").is_file(), res.stderr
    imported = json.loads(res.stdout.strip().splitlines()[-1])
    core = _installed_closure(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    owners = metadata.packages_distributions()
    outside = {
        m: owners[m]
        for m in imported
        if m in owners
        and m not in ("tinyespcn_nodes", "trainer")
        and not any(d.lower().replace("_", "-") in core for d in owners[m])
    }
    assert not outside, f"the upscale command imports modules of undeclared distributions: {outside}"
