"""Opt-in: a real ComfyUI server with this repository as a cloned node pack (the ComfyUI-Manager route).

    COMFYUI_PATH=/path/to/ComfyUI COMFYUI_PYTHON=/path/to/its/python python -m pytest tests/test_comfy_host.py

ComfyUI is not a pip package and needs its own environment (its requirements.txt plus ours, with ComfyUI's
torch), so this test is skipped unless both variables are set. It starts `main.py --cpu` on a free loopback
port with this checkout linked into a custom_nodes folder, checks `/object_info`, and runs the core
"Load Upscale Model" on the bundled general-x2 next to this pack's loader: the two outputs must be equal.
"""

import json
import os
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

COMFYUI, PYTHON = os.environ.get("COMFYUI_PATH"), os.environ.get("COMFYUI_PYTHON")
pytestmark = pytest.mark.skipif(not (COMFYUI and PYTHON), reason="set COMFYUI_PATH and COMFYUI_PYTHON to run")


def _get(url: str):
    return json.load(urllib.request.urlopen(url, timeout=10))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("comfy")
    (root / "custom_nodes").mkdir()
    (root / "custom_nodes" / "tinyespcn-nodes").symlink_to(REPO, target_is_directory=True)
    for d in ("input", "output"):
        (root / d).mkdir()
    (root / "extra.yaml").write_text(f"check:\n  custom_nodes: {root / 'custom_nodes'}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [PYTHON, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch",
           "--extra-model-paths-config", str(root / "extra.yaml"), "--input-directory", str(root / "input"),
           "--output-directory", str(root / "output")]  # fmt: skip
    log = open(root / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, cwd=COMFYUI, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                _get(f"{url}/object_info/TinyESPCN_ModelLoader")
                break
            except OSError:
                assert proc.poll() is None, (root / "server.log").read_text()[-3000:]
                time.sleep(1)
        yield url, root
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _run(url: str, graph: dict) -> dict:
    body = json.dumps({"prompt": graph, "client_id": "test"}).encode()
    req = urllib.request.Request(f"{url}/prompt", data=body, headers={"Content-Type": "application/json"})
    prompt_id = json.load(urllib.request.urlopen(req, timeout=30))["prompt_id"]
    for _ in range(300):
        history = _get(f"{url}/history/{prompt_id}")
        if prompt_id in history:
            return history[prompt_id]
        time.sleep(1)
    raise TimeoutError(prompt_id)


def test_nodes_are_listed_and_the_core_loader_reads_the_bundled_default(server):
    url, root = server
    info = _get(f"{url}/object_info")
    assert {"TinyESPCN_ModelLoader", "TinyESPCN_Upscale", "TinyESPCN_UnsharpMask", "TinyESPCN_MSAA"} <= set(info)
    assert info["TinyESPCN_ModelLoader"]["input"]["required"]["weights"][1]["default"] == "general-x2"
    assert "general-x2.safetensors" in info["UpscaleModelLoader"]["input"]["required"]["model_name"][0]
    Image.open(REPO / "tinyespcn_nodes" / "data" / "astronaut.png").convert("RGB").resize((64, 48)).save(
        root / "input" / "check.png"
    )
    core = {
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "general-x2.safetensors"}},
        "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
    }
    ours = {"2": {"class_type": "TinyESPCN_ModelLoader",
                  "inputs": {"weights": "general-x2", "device": "cpu", "precision": "fp32"}},
            "3": {"class_type": "TinyESPCN_Upscale",
                  "inputs": {"model": ["2", 0], "image": ["1", 0], "tile_size": -1, "overlap": 0}}}  # fmt: skip
    results = []
    for name, graph in (("core", core), ("ours", ours)):
        graph = {**graph, "1": {"class_type": "LoadImage", "inputs": {"image": "check.png"}},
                 "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": name}}}  # fmt: skip
        done = _run(url, graph)
        assert done["status"]["status_str"] == "success", done["status"]
        (image,) = done["outputs"]["4"]["images"]
        results.append(np.asarray(Image.open(root / "output" / image["filename"])))
    assert results[0].shape == (96, 128, 3) and np.array_equal(results[0], results[1])
