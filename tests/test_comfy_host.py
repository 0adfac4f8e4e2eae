"""Opt-in: a real ComfyUI server with this repository as a cloned node pack (the ComfyUI-Manager route).

    COMFYUI_PATH=/path/to/ComfyUI COMFYUI_PYTHON=/path/to/its/python python -m pytest tests/test_comfy_host.py

ComfyUI is not a pip package and needs its own environment (its requirements.txt plus ours, with ComfyUI's
torch), so this test is skipped unless both variables are set. It starts `main.py --cpu` on a free loopback
port with this checkout linked into a custom_nodes folder, checks `/object_info` (the V3 nodes keep the V1
ids, inputs, types and defaults, and equal what the CI's fake `comfy_api` serialises), runs the core
"Load Upscale Model" on the bundled general-x2 next to this pack's loader (the two outputs must be equal),
runs every workflow in workflows/ and a workflow saved for the first V1 release through `/prompt`, and checks
that the core loader refuses a file that needs whole-image statistics with this pack's message.
"""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from comfy_ui_workflow import ui_to_api
from conftest import REPO
from PIL import Image
from test_comfy_nodes import comfy  # noqa: F401 (the nodes through the fake comfy_api, to compare)

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


def _queue(url: str, graph: dict) -> dict:
    """POST /prompt: the server's answer (`prompt_id`, or `error` and `node_errors` on a 400)."""
    body = json.dumps({"prompt": graph, "client_id": "test"}).encode()
    req = urllib.request.Request(f"{url}/prompt", data=body, headers={"Content-Type": "application/json"})
    try:
        return json.load(urllib.request.urlopen(req, timeout=30))
    except urllib.error.HTTPError as e:
        return json.load(e)


def _run(url: str, graph: dict) -> dict:
    answer = _queue(url, graph)
    assert "prompt_id" in answer, answer
    prompt_id = answer["prompt_id"]
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


IDS = ("TinyESPCN_ModelLoader", "TinyESPCN_Upscale", "TinyESPCN_UnsharpMask", "TinyESPCN_MSAA")


def test_the_v3_nodes_keep_the_v1_schema_and_equal_the_fake_comfy_api(server, comfy):  # noqa: F811
    from comfy_v1_schema import differences

    url, _ = server
    info = _get(f"{url}/object_info")
    for node_id in IDS:
        real, fake = info[node_id], comfy.nodes[node_id].GET_NODE_INFO_V1()
        assert real["python_module"] == "custom_nodes.tinyespcn-nodes"
        assert differences(node_id, real) == [], node_id
        # the CI's fake serialises exactly as ComfyUI does (the weights list depends on the model folders)
        real["input"]["required"].get("weights", [None, {}])[1].pop("options", None)
        fake["input"]["required"].get("weights", [None, {}])[1].pop("options", None)
        assert json.loads(json.dumps({**fake, "python_module": None})) == {**real, "python_module": None}


def _example_input(root) -> None:
    Image.open(REPO / "tinyespcn_nodes" / "data" / "astronaut.png").convert("RGB").resize((64, 48)).save(
        root / "input" / "example.png"
    )


def _saved(root, done: dict, node: str) -> np.ndarray:
    assert done["status"]["status_str"] == "success", done["status"]
    (image,) = done["outputs"][node]["images"]
    return np.asarray(Image.open(root / "output" / image["filename"]))


FIRST_RELEASE = ("comfy_v1_chain_api.json", "comfy_v1_chain_ui.json")  # tests/data: V1 nodes, an `fp16` widget


@pytest.mark.parametrize("workflow", ["tinyespcn_chain_api.json", "tinyespcn_chain_ui.json", *FIRST_RELEASE])
def test_every_shipped_workflow_and_the_first_v1_ones_run_unchanged(server, workflow):
    url, root = server
    _example_input(root)
    folder = REPO / "tests" / "data" if workflow in FIRST_RELEASE else REPO / "workflows"
    graph = json.loads((folder / workflow).read_text())
    if "nodes" in graph:  # UI format: what the frontend queues, widget values by the server's input order
        graph = ui_to_api(graph, _get(f"{url}/object_info"))
    done = _run(url, graph)
    save = next(k for k, n in graph.items() if n["class_type"] == "SaveImage")
    shape = _saved(root, done, save).shape
    assert shape == ((48, 64, 3) if workflow.endswith("_ui.json") else (96, 128, 3))  # ×2, then ×0.5 in the UI one


def test_renamed_weights_validate_and_unknown_names_are_refused_before_the_run(server):
    url, root = server
    _example_input(root)
    graph = json.loads((REPO / "workflows" / "tinyespcn_chain_api.json").read_text())
    graph["2"]["inputs"]["weights"] = "balanced-x2"  # promoted to general-x2 since
    assert _saved(root, _run(url, graph), "6").shape == (96, 128, 3)
    graph["2"]["inputs"]["weights"] = "nothing-x2"
    answer = _queue(url, graph)
    assert "unknown weights 'nothing-x2'" in json.dumps(answer["node_errors"]["2"])


def test_the_core_loader_refuses_a_whole_image_statistics_file_with_a_message(server):
    url, root = server
    _example_input(root)
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "seed-x2.safetensors"}},
        "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "seed"}},
    }
    done = _run(url, graph)
    assert done["status"]["status_str"] == "error"
    error = next(m[1] for m in done["status"]["messages"] if m[0] == "execution_error")
    assert error["node_type"] == "UpscaleModelLoader"
    assert "needs whole-image statistics" in error["exception_message"]
    assert "'Load TinyESPCN Model'" in error["exception_message"]
