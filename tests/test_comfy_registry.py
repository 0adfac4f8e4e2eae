"""The ComfyUI-Manager / Comfy Registry route: a `git clone` of this repository into custom_nodes/ plus
`pip install -r requirements.txt`. ComfyUI imports the clone's root folder as a package (nodes.py
`load_custom_node`); the pack's nodes must load and the bundled weights must reach the core loader."""

import contextlib
import importlib.util
import os
import re
import sys
import types
from pathlib import Path

import fake_comfy_api
import pytest
from conftest import REPO

import tinyespcn_nodes

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
IDS = {"TinyESPCN_ModelLoader", "TinyESPCN_Upscale", "TinyESPCN_UnsharpMask", "TinyESPCN_MSAA"}


def _fake_folder_paths(models_dir):
    """ComfyUI's folder_paths as far as the pack and the core loader use it: registered folders, listed
    recursively (nodes.py's UpscaleModelLoader lists `get_filename_list("upscale_models")`)."""
    fp = types.ModuleType("folder_paths")
    fp.folder_names_and_paths = {"upscale_models": ([str(models_dir)], {".safetensors", ".pth"})}

    def add_model_folder_path(folder_name, full_folder_path, is_default=False):
        paths = fp.folder_names_and_paths.setdefault(folder_name, ([], set()))[0]
        if full_folder_path not in paths:
            paths.insert(0, full_folder_path) if is_default else paths.append(full_folder_path)

    def _files(key):
        found = {}
        for base in fp.folder_names_and_paths[key][0]:
            for root, _, names in os.walk(base, followlinks=True):
                for name in names:
                    rel = os.path.relpath(os.path.join(root, name), base).replace(os.sep, "/")
                    if os.path.splitext(name)[1] in fp.folder_names_and_paths[key][1]:
                        found.setdefault(rel, os.path.join(root, name))
        return found

    fp.add_model_folder_path = add_model_folder_path
    fp.get_filename_list = lambda key: sorted(_files(key))
    fp.get_full_path_or_raise = lambda key, name: _files(key)[name]
    return fp


@contextlib.contextmanager
def _loaded_like_comfyui(folder: Path, monkeypatch):
    """nodes.py load_custom_node, for a folder: the path with dots mangled is the module name; its submodules
    are dropped afterwards."""
    sys_name = str(folder).replace(".", "_x_")
    spec = importlib.util.spec_from_file_location(sys_name, os.path.join(folder, "__init__.py"))
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, sys_name, module)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for name in [n for n in sys.modules if n.startswith(sys_name + ".")]:
            monkeypatch.delitem(sys.modules, name)


def test_the_repository_root_loads_as_comfyui_loads_a_cloned_node_pack(monkeypatch, tmp_path):
    models_dir = tmp_path / "models" / "upscale_models"
    models_dir.mkdir(parents=True)
    fp = _fake_folder_paths(models_dir)
    monkeypatch.setitem(sys.modules, "folder_paths", fp)
    fake_comfy_api.install(monkeypatch)
    with _loaded_like_comfyui(REPO, monkeypatch) as module:
        nodes, names = fake_comfy_api.load_nodes(module)  # the V3 route: comfy_entrypoint
        assert not hasattr(module, "NODE_CLASS_MAPPINGS") and set(nodes) == IDS == set(names)
        loader = nodes["TinyESPCN_ModelLoader"]
        # the pack in this folder ran, not an installed copy
        assert sys.modules[loader.__module__].__file__.startswith(str(REPO / "tinyespcn_nodes"))
        # the core "Load Upscale Model" lists the bundled weights; our loader lists each model once
        core_list = fp.get_filename_list("upscale_models")
        assert {"general-x2.safetensors", "fast-x4.safetensors"} <= set(core_list)
        assert str(REPO / "weights") in fp.folder_names_and_paths["upscale_models"][0]
        choices = loader.INPUT_TYPES()["required"]["weights"][1]["options"]
        assert len(choices) == len(set(choices)) and not any("/" in c for c in choices)
        assert loader.execute("general-x2", "cpu", "fp32")[0].scale == 2


def test_the_root_init_is_harmless_as_a_plain_module_outside_comfyui():
    """pytest imports the root `__init__.py` while collecting; in a folder named `tinyespcn-nodes` it is a
    top-level module without a package: it must import, and offers ComfyUI nothing outside ComfyUI."""
    spec = importlib.util.spec_from_file_location("__init__", REPO / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__all__ == [] and not hasattr(module, "comfy_entrypoint")


def _name(requirement: str) -> str:
    return re.split(r"[ ;<>=!~\[]", requirement, maxsplit=1)[0].lower()


def test_requirements_txt_matches_the_package_and_leaves_comfyuis_torch_alone():
    lines = [ln.strip() for ln in (REPO / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert not any(_name(r) in ("torch", "torchvision", "torchaudio") for r in reqs)
    assert "--index-url" not in " ".join(reqs) and "--extra-index-url" not in " ".join(reqs)
    core = [d for d in PYPROJECT["project"]["dependencies"] if _name(d) != "torch"]
    assert sorted(reqs, key=_name) == sorted(core, key=_name)


def test_pyproject_has_what_the_comfy_registry_reads():
    project, comfy = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
    assert "version" not in project.get("dynamic", [])
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"]) and project["version"] == tinyespcn_nodes.__version__
    assert len(project["name"]) < 100 and "comfyui" not in project["name"].lower()
    assert project["description"] and project["urls"]["Repository"].startswith("https://")
    for key in ("PublisherId", "DisplayName", "Icon"):
        assert comfy[key], key
    icon = comfy["Icon"].rsplit("/main/", 1)[-1]
    assert (REPO / icon).is_file(), "the Icon URL names a file of this repository"


def test_install_comfyui_lists_each_bundled_file_once_in_the_core_loader(monkeypatch, tmp_path):
    from tinyespcn_nodes.core.catalog import bundled
    from tinyespcn_nodes.hosts.comfy.install import install

    comfyui = tmp_path / "ComfyUI"
    (comfyui / "custom_nodes").mkdir(parents=True)
    (comfyui / "models" / "upscale_models").mkdir(parents=True)
    install(comfyui)
    fp = _fake_folder_paths(comfyui / "models" / "upscale_models")
    monkeypatch.setitem(sys.modules, "folder_paths", fp)
    fake_comfy_api.install(monkeypatch)
    with _loaded_like_comfyui(comfyui / "custom_nodes" / "tinyespcn_nodes", monkeypatch):
        listed = [n for n in fp.get_filename_list("upscale_models") if "/" not in n]
        assert sorted(listed) == sorted(f"{name}.safetensors" for name in bundled())


def test_install_comfyui_copy_writes_a_v3_shim_and_replaces_an_old_v1_one(monkeypatch, tmp_path):
    """`--copy`: the shim imports the installed package's V3 entry; a shim an older release wrote (it imported
    the V1 mappings, gone now) is rewritten instead of kept, so re-running the installer repairs it."""
    from tinyespcn_nodes.hosts.comfy.install import SHIM, install

    comfyui = tmp_path / "ComfyUI"
    shim = comfyui / "custom_nodes" / "tinyespcn_nodes" / "__init__.py"
    shim.parent.mkdir(parents=True)
    shim.write_text(
        '"""Shim installed by `python -m tinyespcn_nodes install-comfyui`: loads the pip-installed pack."""\n'
        "from tinyespcn_nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: F401\n"
    )
    assert install(comfyui, link=False)[0] == f"updated shim {shim}" and shim.read_text() == SHIM
    assert install(comfyui, link=False)[0].startswith("kept existing")
    monkeypatch.setitem(sys.modules, "folder_paths", _fake_folder_paths(tmp_path))
    fake_comfy_api.install(monkeypatch)
    for name in [n for n in sys.modules if n == "tinyespcn_nodes" or n.startswith("tinyespcn_nodes.")]:
        monkeypatch.delitem(sys.modules, name)  # ComfyUI imports the installed package after folder_paths
    sys_name = str(shim.parent).replace(".", "_x_")
    spec = importlib.util.spec_from_file_location(sys_name, shim)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, sys_name, module)
    try:
        spec.loader.exec_module(module)
        assert set(fake_comfy_api.load_nodes(module)[0]) == IDS
    finally:  # the copy imported here goes; the monkeypatch puts the session's package back
        for name in [n for n in sys.modules if n == "tinyespcn_nodes" or n.startswith("tinyespcn_nodes.")]:
            del sys.modules[name]
