"""ComfyUI contract without ComfyUI: fake host modules, load the folder like `load_custom_node`, run nodes."""

import importlib.util
import inspect
import json
import sys
import types
from collections import deque

import fake_comfy_api
import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

CORE_IDS = {
    "ImageSharpen",
    "ImageBlur",
    "ImageScale",
    "ImageScaleBy",
    "ImageUpscaleWithModel",
    "UpscaleModelLoader",
    "ImageScaleToTotalPixels",
    "ImageBlend",
    "ImageQuantize",
    "LoadImage",
    "SaveImage",
}


class Interrupted(Exception):
    pass


@pytest.fixture
def comfy(monkeypatch, tmp_path, weights_file):
    updates, state = [], {"interrupt_after": None}

    class ProgressBar:
        def __init__(self, total, node_id=None):
            self.total = total
            updates.append(("new", total))

        def update(self, n):
            updates.append(("step", n))
            if (
                state["interrupt_after"] is not None
                and sum(1 for u in updates if u[0] == "step") >= state["interrupt_after"]
            ):
                raise Interrupted("Processing interrupted")

    comfy_pkg = types.ModuleType("comfy")
    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = ProgressBar
    mm = types.ModuleType("comfy.model_management")
    mm.get_torch_device = lambda: torch.device("cpu")
    mm.intermediate_device = lambda: torch.device("cpu")
    mm.intermediate_dtype = lambda: state.get("dtype", torch.float32)
    mm.OOM_EXCEPTION = torch.OutOfMemoryError
    comfy_pkg.utils, comfy_pkg.model_management = utils, mm
    models_dir = tmp_path / "upscale_models"
    models_dir.mkdir()
    (models_dir / "mine.safetensors").write_bytes(weights_file.read_bytes())
    fp = types.ModuleType("folder_paths")
    fp.get_filename_list = lambda key: sorted(p.name for p in models_dir.iterdir()) if key == "upscale_models" else []
    fp.get_full_path_or_raise = lambda key, name: str(models_dir / name)
    for name, mod in {
        "comfy": comfy_pkg,
        "comfy.utils": utils,
        "comfy.model_management": mm,
        "folder_paths": fp,
    }.items():
        monkeypatch.setitem(sys.modules, name, mod)
    fake_comfy_api.install(monkeypatch)
    # exactly what ComfyUI's load_custom_node does: a path-mangled module name, spec from file location
    module_path = str(REPO / "tinyespcn_nodes")
    sys_name = module_path.replace(".", "_x_")
    spec = importlib.util.spec_from_file_location(
        sys_name, module_path + "/__init__.py", submodule_search_locations=[module_path]
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, sys_name, module)
    spec.loader.exec_module(module)
    nodes, names = fake_comfy_api.load_nodes(module)  # V3: comfy_entrypoint → extension → node list
    return types.SimpleNamespace(
        module=module, nodes=nodes, names=names, updates=updates, state=state, mm=mm, models_dir=models_dir
    )


def load(comfy, weights="mine.safetensors"):
    return comfy.nodes["TinyESPCN_ModelLoader"].execute(weights, "cpu", "fp32")[0]


def test_ids_are_prefixed_and_schemas_well_formed(comfy):
    assert set(comfy.nodes) == set(comfy.names) and all(comfy.names.values())
    assert not set(comfy.nodes) & CORE_IDS
    assert not hasattr(comfy.module, "NODE_CLASS_MAPPINGS")  # ComfyUI would take that V1 route first
    for node_id, cls in comfy.nodes.items():
        assert node_id.startswith("TinyESPCN_") and issubclass(cls, fake_comfy_api.ComfyNode)
        spec = cls.INPUT_TYPES()
        assert set(spec) <= {"required", "optional", "hidden"}
        for name, entry in spec["required"].items():
            assert isinstance(entry, tuple), name
            if len(entry) > 1 and "default" in entry[1] and "min" in entry[1]:
                assert entry[1]["min"] <= entry[1]["default"] <= entry[1]["max"], (node_id, name)
        assert cls.define_schema().category in ("image/upscaling", "image/postprocessing")
    assert "mine.safetensors" in comfy.nodes["TinyESPCN_ModelLoader"].INPUT_TYPES()["required"]["weights"][1]["options"]


def test_every_node_id_input_type_and_default_of_the_v1_nodes_is_kept(comfy):
    """`/object_info` of the V1 nodes, recorded from a real ComfyUI 0.3.64 before the V3 port: the same ids,
    display names, categories, outputs, input types, defaults and ranges, and the widget order saved UI
    workflows map their values by (tests/comfy_v1_schema.py; `precision` became optional on purpose)."""
    from comfy_v1_schema import RECORDED, differences

    assert set(comfy.nodes) == set(RECORDED)
    for node_id, cls in comfy.nodes.items():
        assert differences(node_id, cls.GET_NODE_INFO_V1()) == [], node_id


@pytest.mark.parametrize("shape", [(3, 50, 27, 3), (1, 12, 10, 4), (1, 1, 1, 3), (2, 60, 3, 3)])
def test_upscale_runs_every_frame_and_layout(comfy, shape):
    model = load(comfy)
    image = torch.rand(shape)
    out = comfy.nodes["TinyESPCN_Upscale"].EXECUTE_NORMALIZED(image=image, model=model, tile_size=24, overlap=16)
    assert len(out.args) == len(comfy.nodes["TinyESPCN_Upscale"].define_schema().outputs) == 1
    b, h, w, c = shape
    assert out[0].shape == (b, 2 * h, 2 * w, c) and out[0].dtype == torch.float32
    assert 0 <= out[0].min() and out[0].max() <= 1
    steps = sum(n for kind, n in comfy.updates if kind == "step")
    assert steps == next(n for kind, n in comfy.updates if kind == "new")  # progress total = tiles × B (× passes)
    if c == 4:
        assert out[0][..., 3].shape == (b, 2 * h, 2 * w)


def test_fp16_intermediates_and_batch_independence(comfy):
    comfy.state["dtype"] = torch.float16
    model = load(comfy)
    image = torch.rand(2, 16, 16, 3).half()
    both = comfy.nodes["TinyESPCN_Upscale"].execute(image, model, tile_size=0)[0]
    one = comfy.nodes["TinyESPCN_Upscale"].execute(image[1:], model, tile_size=0)[0]
    assert both.dtype == torch.float16
    assert torch.equal(both[1:], one)


def test_interrupt_from_progress_hook_propagates(comfy):
    comfy.state["interrupt_after"] = 2
    with pytest.raises(Interrupted):
        comfy.nodes["TinyESPCN_Upscale"].execute(torch.rand(1, 64, 64, 3), load(comfy), tile_size=24)


def test_simulated_oom_halves_tile_with_same_result(comfy, monkeypatch):
    devices = sys.modules[f"{comfy.module.__name__}.engine.models"]  # the path-mangled copy ComfyUI would use
    model = load(comfy)
    image = torch.rand(1, 96, 96, 3)
    ref = comfy.nodes["TinyESPCN_Upscale"].execute(image, model, tile_size=96)[0]
    net = devices.get_model(model.path, model.scale, "cpu")
    original = type(net).features
    calls = {"oom": 0}

    def flaky(self, x):
        if x.shape[-1] > 90 and calls["oom"] == 0:
            calls["oom"] += 1
            raise torch.OutOfMemoryError("CUDA out of memory")
        return original(self, x)

    monkeypatch.setattr(type(net), "features", flaky)
    out = comfy.nodes["TinyESPCN_Upscale"].execute(image, model, tile_size=96)[0]
    assert calls["oom"] == 1
    assert (out - ref).abs().max() < 1e-4


def test_filter_nodes(comfy):
    img = torch.rand(2, 30, 20, 3)
    usm = comfy.nodes["TinyESPCN_UnsharpMask"].execute(img, 1.2, 100, 1)[0]
    aa = comfy.nodes["TinyESPCN_MSAA"].execute(img, 2, 0.5)[0]
    assert usm.shape == aa.shape == img.shape
    assert (usm - img).abs().mean() > 0.01 and (aa - img).abs().mean() > 0.001


# `/object_info` of the core nodes the shipped workflows use (ComfyUI 0.3.64, trimmed to what is read here)
CORE_INFO = {
    "LoadImage": {"input": {"required": {"image": (["example.png"], {"image_upload": True})}},
                  "input_order": {"required": ["image"]}},
    "SaveImage": {"input": {"required": {"images": ("IMAGE",), "filename_prefix": ("STRING", {})}},
                  "input_order": {"required": ["images", "filename_prefix"]}},
    "ImageScaleBy": {"input": {"required": {"image": ("IMAGE",), "upscale_method": (["lanczos"],),
                                            "scale_by": ("FLOAT", {})}},
                     "input_order": {"required": ["image", "upscale_method", "scale_by"]}},
}  # fmt: skip


def run_api_workflow(graph: dict, nodes: dict, tmp_path, pixels: np.ndarray) -> dict:
    """Minimal executor as ComfyUI 0.3.64's: topological order over the API JSON, inputs by (node id, output
    index); a missing required input is refused, inputs a node does not declare are dropped (an old `fp16`
    widget), `validate_inputs` runs first."""

    def load_image(image):  # noqa: ARG001 (the file name; the test supplies the pixels)
        return (torch.from_numpy(pixels.astype(np.float32) / 255)[None], torch.zeros(64, 64))

    def save_image(images, filename_prefix):
        for i, frame in enumerate(images):
            Image.fromarray((frame.numpy() * 255).round().astype(np.uint8)).save(
                tmp_path / f"{filename_prefix}_{i}.png"
            )
        return {"ui": {"images": [f"{filename_prefix}_{i}.png" for i in range(len(images))]}}

    def scale_by(image, upscale_method, scale_by):  # noqa: ARG001 (only lanczos in the shipped workflows)
        size = (round(image.shape[1] * scale_by), round(image.shape[2] * scale_by))
        return (torch.nn.functional.interpolate(image.movedim(-1, 1), size=size, mode="bicubic").movedim(1, -1),)

    builtin = {"LoadImage": load_image, "SaveImage": save_image, "ImageScaleBy": scale_by}
    deps = {k: {v[0] for v in n["inputs"].values() if isinstance(v, list)} for k, n in graph.items()}
    order, ready = [], deque(sorted(k for k, d in deps.items() if not d))
    while ready:
        k = ready.popleft()
        order.append(k)
        for j, d in deps.items():
            if k in d:
                d.discard(k)
                if not d and j not in order and j not in ready:
                    ready.append(j)
    outputs = {}
    for k in order:
        node = graph[k]
        kwargs = {n: outputs[v[0]][v[1]] if isinstance(v, list) else v for n, v in node["inputs"].items()}
        if node["class_type"] in builtin:
            outputs[k] = builtin[node["class_type"]](**kwargs)
        else:
            cls = nodes[node["class_type"]]
            spec = cls.INPUT_TYPES()
            missing = set(spec["required"]) - set(kwargs)
            assert not missing, f"{k} {node['class_type']}: Required input is missing: {sorted(missing)}"
            kwargs = {n: v for n, v in kwargs.items() if n in {*spec["required"], *spec.get("optional", {})}}
            validate = cls.validator()
            if validate is not None:
                names = inspect.signature(validate).parameters
                verdict = validate(**{n: v for n, v in kwargs.items() if n in names})
                assert verdict is True, f"{k} {node['class_type']}: {verdict}"
            outputs[k] = cls.EXECUTE_NORMALIZED(**kwargs)
    return outputs


def test_example_api_workflow_runs(comfy, tmp_path, portrait_u8):
    graph = json.loads((REPO / "workflows" / "tinyespcn_chain_api.json").read_text())
    graph["2"]["inputs"]["weights"] = "mine.safetensors"
    run_api_workflow(graph, comfy.nodes, tmp_path, portrait_u8[:64, :80])
    assert Image.open(tmp_path / "tinyespcn_0.png").size == (160, 128)


def test_ui_workflow_references_known_nodes():
    wf = json.loads((REPO / "workflows" / "tinyespcn_chain_ui.json").read_text())
    types_used = {n["type"] for n in wf["nodes"]}
    assert {"TinyESPCN_Upscale", "TinyESPCN_UnsharpMask", "TinyESPCN_MSAA", "ImageScaleBy"} <= types_used
    ids = {n["id"] for n in wf["nodes"]}
    assert all(link[1] in ids and link[3] in ids for link in wf["links"])


def test_ui_workflow_widget_values_map_to_the_same_inputs_and_run(comfy, tmp_path, portrait_u8):
    """The frontend fills widgets by input order: the V3 schema keeps it, so the saved values land on the
    same inputs (the loader's 3 values on weights/device/precision, the upscale's 2 on tile_size/overlap)."""
    from comfy_ui_workflow import ui_to_api

    wf = json.loads((REPO / "workflows" / "tinyespcn_chain_ui.json").read_text())
    info = CORE_INFO | {node_id: cls.GET_NODE_INFO_V1() for node_id, cls in comfy.nodes.items()}
    graph = ui_to_api(wf, info)
    assert graph["2"]["inputs"] == {"weights": "general-x2", "device": "auto", "precision": "auto"}
    assert graph["3"]["inputs"] == {"tile_size": -1, "overlap": 16, "image": ["1", 0], "model": ["2", 0]}
    graph["2"]["inputs"]["weights"] = "mine.safetensors"
    run_api_workflow(graph, comfy.nodes, tmp_path, portrait_u8[:64, :80])
    assert Image.open(tmp_path / "tinyespcn_half_0.png").size == (80, 64)  # x2, then ImageScaleBy 0.5


def test_the_first_releases_ui_workflow_runs_with_its_fp16_choice(comfy, tmp_path, portrait_u8):
    """Its loader widgets are [weights, device, fp16=False] and the frontend fills them by position, so the
    old boolean lands on `precision`: False meant fp32 then, and means fp32 now (True: fp16)."""
    from comfy_ui_workflow import ui_to_api

    wf = json.loads((REPO / "tests" / "data" / "comfy_v1_chain_ui.json").read_text())
    graph = ui_to_api(wf, CORE_INFO | {node_id: cls.GET_NODE_INFO_V1() for node_id, cls in comfy.nodes.items()})
    assert graph["2"]["inputs"] == {"weights": "general-x2", "device": "auto", "precision": False}
    graph["2"]["inputs"]["weights"] = "mine.safetensors"
    run_api_workflow(graph, comfy.nodes, tmp_path, portrait_u8[:64, :80])
    assert Image.open(tmp_path / "tinyespcn_half_0.png").size == (80, 64)
    loader = comfy.nodes["TinyESPCN_ModelLoader"]
    assert loader.execute("mine.safetensors", "cpu", False)[0].precision == "fp32"
    assert loader.execute("mine.safetensors", "cpu", True)[0].precision == "fp16"


def test_a_workflow_saved_for_the_first_v1_release_still_runs(comfy, tmp_path, portrait_u8):
    """tests/data/comfy_v1_chain_api.json is workflows/tinyespcn_chain_api.json as first shipped (V1 nodes,
    a loader `fp16` widget since replaced by `precision`, tile_size 512): ComfyUI drops the unknown input."""
    graph = json.loads((REPO / "tests" / "data" / "comfy_v1_chain_api.json").read_text())
    assert graph["2"]["inputs"]["fp16"] is False
    graph["2"]["inputs"]["weights"] = "mine.safetensors"
    run_api_workflow(graph, comfy.nodes, tmp_path, portrait_u8[:64, :80])
    assert Image.open(tmp_path / "tinyespcn_0.png").size == (160, 128)


def _cli_result(tmp_path, weights_file, img, *flags):
    from tinyespcn_nodes.hosts.cli.main import main as cli_main

    src, out = tmp_path / "cli_in", tmp_path / "cli_out"
    src.mkdir(exist_ok=True)
    Image.fromarray(img).save(src / "p.png")
    argv = [
        "upscale",
        str(src / "p.png"),
        "-o",
        str(out),
        "--weights",
        str(weights_file),
        "--tile",
        "32",
        "--overwrite",
        "--precision",
        "fp32",
        *flags,
    ]
    assert cli_main(argv) == 0
    return np.array(Image.open(out / "p_x2_tiny-x2.png"))


def test_every_host_gives_the_same_8bit_result(comfy, tmp_path, weights_file, portrait_u8):
    """One pipeline: ComfyUI's node chain on a float IMAGE from a uint8 PNG = the CLI = the core's numpy API
    (all at the loader's fp32 here; each host's default precision is the same `auto`)."""
    from tinyespcn_nodes.engine.job import PostProcess, filter_array, upscale_array

    img = np.ascontiguousarray(portrait_u8[40:136, 60:140])
    image = torch.from_numpy(img)[None].float() / 255
    model = load(comfy)
    up = comfy.nodes["TinyESPCN_Upscale"].execute(image, model, tile_size=32)[0]
    sharp = comfy.nodes["TinyESPCN_UnsharpMask"].execute(up, 1.2, 100, 1)[0]
    both = comfy.nodes["TinyESPCN_MSAA"].execute(sharp, 2, 0.5)[0]

    def u8(t):
        return (t[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    cli_plain = _cli_result(tmp_path, weights_file, img)
    cli_both = _cli_result(tmp_path, weights_file, img, "--sharpen", "--antialias")
    api_both = upscale_array(
        img,
        2,
        str(weights_file),
        device="cpu",
        precision="fp32",
        tile=32,
        post=PostProcess(sharpen=True, antialias=True),
    )
    np.testing.assert_array_equal(u8(up), cli_plain)
    np.testing.assert_array_equal(u8(both), cli_both)
    np.testing.assert_array_equal(api_both, cli_both)
    # the filter nodes alone = the napari filter widgets' path (filter_array) on the same 8-bit picture
    msaa_node = u8(comfy.nodes["TinyESPCN_MSAA"].execute(image, 2, 0.5)[0])
    np.testing.assert_array_equal(msaa_node, filter_array(img, PostProcess(antialias=True)))
    sharp_node = u8(comfy.nodes["TinyESPCN_UnsharpMask"].execute(image, 1.2, 100, 1)[0])
    np.testing.assert_array_equal(sharp_node, filter_array(img, PostProcess(sharpen=True)))


def _catalog_module(comfy):
    return sys.modules[comfy.module.__name__ + ".core.catalog"]


def test_copied_weights_resolve_by_bundled_name_and_each_model_is_listed_once(comfy, monkeypatch, weights_file):
    """Install route 3 (package copied without weights, files in upscale_models) and install-comfyui's
    prefixed links both give one `NAME-xS` entry that the shipped workflows' names resolve to."""
    monkeypatch.setattr(_catalog_module(comfy), "SEARCH_DIRS", ())
    data = weights_file.read_bytes()
    (comfy.models_dir / "general-x2.safetensors").write_bytes(data)
    (comfy.models_dir / "tinyespcn-fast-x2.safetensors").write_bytes(data)
    choices = comfy.nodes["TinyESPCN_ModelLoader"].INPUT_TYPES()["required"]["weights"][1]["options"]
    assert {"general-x2", "fast-x2", "mine.safetensors"} <= set(choices)
    assert not any(c.startswith("tinyespcn-") or c == "general-x2.safetensors" for c in choices)
    assert load(comfy, "general-x2").scale == 2 and load(comfy, "fast-x2").scale == 2


def test_saved_workflows_naming_a_renamed_file_still_validate_and_load(comfy, monkeypatch, weights_file):
    """`balanced-x2` was promoted to `general-x2`: the list offers the new name only, yet a workflow saved
    with the old one passes validation (`validate_inputs`; ComfyUI 0.3.64 checks no V3 combo against its list)."""
    monkeypatch.setattr(_catalog_module(comfy), "SEARCH_DIRS", ())
    (comfy.models_dir / "tinyespcn-general-x2.safetensors").write_bytes(weights_file.read_bytes())
    loader = comfy.nodes["TinyESPCN_ModelLoader"]
    assert "balanced-x2" not in loader.INPUT_TYPES()["required"]["weights"][1]["options"]
    assert loader.validate_inputs(weights="balanced-x2") is True
    assert load(comfy, "balanced-x2").path == load(comfy, "general-x2").path
    refused = loader.validate_inputs(weights="nothing-x2")
    assert isinstance(refused, str) and "unknown weights 'nothing-x2'" in refused


def test_bundled_models_appear_once_after_install_comfyui(comfy, weights_file):
    from tinyespcn_nodes.core.catalog import bundled

    for name, path in bundled().items():
        (comfy.models_dir / f"tinyespcn-{name}.safetensors").symlink_to(path)
    choices = comfy.nodes["TinyESPCN_ModelLoader"].INPUT_TYPES()["required"]["weights"][1]["options"]
    assert len(choices) == len(set(choices)) and set(bundled()) <= set(choices)
    assert not any(c.startswith("tinyespcn-") for c in choices)


def test_foreign_files_are_not_offered_and_say_what_they_are(comfy):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(comfy.models_dir / "RealESRGAN_x4.safetensors"), {"architecture": "ESRGAN"})
    save_file({"w": torch.zeros(2)}, str(comfy.models_dir / "vgg16.safetensors"))
    choices = comfy.nodes["TinyESPCN_ModelLoader"].INPUT_TYPES()["required"]["weights"][1]["options"]
    assert "RealESRGAN_x4.safetensors" not in choices and "vgg16.safetensors" not in choices
    with pytest.raises(
        ValueError, match=r"RealESRGAN_x4.safetensors: another project's model \(ESRGAN\).*core 'Load Upscale Model'"
    ):
        load(comfy, "RealESRGAN_x4.safetensors")
    with pytest.raises(ValueError, match="without TinyESPCN metadata"):
        load(comfy, "vgg16.safetensors")


def _cancel_after(comfy, allowed: int) -> list:
    """ComfyUI's interrupt check, faked: it raises on call `allowed + 1`; returns the list of calls."""
    checks = []

    def throw():
        checks.append(1)
        if len(checks) > allowed:
            raise Interrupted("Processing interrupted")

    comfy.mm.throw_exception_if_processing_interrupted = throw
    return checks


@pytest.mark.parametrize("tile_size", [0, 4096])
def test_cancel_stops_a_single_tile_upscale_part_way(comfy, tile_size):
    """tile_size 0 or ≥ the image: ComfyUI's interrupt check runs between layers, not only between tiles."""
    checks = _cancel_after(comfy, 5)
    with pytest.raises(Interrupted):
        comfy.nodes["TinyESPCN_Upscale"].execute(torch.rand(1, 48, 40, 3), load(comfy), tile_size=tile_size)
    assert len(checks) == 6


@pytest.mark.parametrize("node, args", [("TinyESPCN_UnsharpMask", (1.2, 100, 1)), ("TinyESPCN_MSAA", (2, 0.5))])
def test_filter_nodes_are_tiled_report_progress_and_stop(comfy, node, args):
    image = torch.rand(1, 1100, 600, 3)
    whole = comfy.nodes[node].execute(image, *args)[0]
    assert ("new", 6) in comfy.updates and comfy.updates.count(("step", 1)) == 6  # 3 × 2 tiles of ≤ 512²
    checks = _cancel_after(comfy, 1)
    with pytest.raises(Interrupted):
        comfy.nodes[node].execute(image, *args)
    assert len(checks) == 2 and whole.shape == image.shape


@pytest.mark.parametrize("node, args", [("TinyESPCN_UnsharpMask", (1.2, 100, 1)), ("TinyESPCN_MSAA", (2, 0.5))])
def test_filter_nodes_reject_nan_like_the_upscale_node(comfy, node, args):
    image = torch.rand(1, 16, 16, 3)
    image[0, 3, 4, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        comfy.nodes[node].execute(image, *args)
    with pytest.raises(ValueError, match="NaN"):
        comfy.nodes["TinyESPCN_Upscale"].execute(image, load(comfy))


def test_every_input_has_a_tooltip(comfy):
    for node_id, cls in comfy.nodes.items():
        spec = cls.INPUT_TYPES()
        for name, entry in {**spec["required"], **spec.get("optional", {})}.items():
            assert len(entry) > 1 and entry[1].get("tooltip"), (node_id, name)


@pytest.mark.parametrize("scale_by, passes", [(1.5, 1), (2.5, 2), (3.0, 2)])
def test_scale_by_any_factor_is_the_fewest_passes_then_lanczos(comfy, scale_by, passes):
    from tinyespcn_nodes.core.resize import pil_resize

    image = torch.rand(2, 31, 50, 3)
    model = load(comfy)
    out = comfy.nodes["TinyESPCN_Upscale"].execute(image, model, tile_size=24, scale_by=scale_by)[0]
    assert out.shape == (2, round(31 * scale_by), round(50 * scale_by), 3)
    full = image
    for _ in range(passes):
        full = comfy.nodes["TinyESPCN_Upscale"].execute(full, model, tile_size=0)[0]
    ref = pil_resize(full.movedim(-1, 1), out.shape[1:3]).clamp(0, 1).movedim(1, -1)
    assert (out - ref).abs().max().item() < 1e-5


@pytest.mark.parametrize("tile_size", [1, 8, 21])
def test_tiles_smaller_than_their_context_are_refused(comfy, tile_size):
    with pytest.raises(ValueError, match=f"tile_size {tile_size}: below 22"):
        comfy.nodes["TinyESPCN_Upscale"].execute(torch.rand(1, 30, 30, 3), load(comfy), tile_size=tile_size)


def test_a_pyramid_file_serves_its_smaller_scales_by_scale_by(comfy):
    from tinyespcn_nodes.core.arch.pyramid import LapPyramidSR, PyramidConfig
    from tinyespcn_nodes.core.weights import load_model, save_weights

    torch.manual_seed(0)
    path = save_weights(comfy.models_dir / "pyr.safetensors", LapPyramidSR(PyramidConfig(stem=8, channels=8, blocks=3)))
    model = load(comfy, "pyr.safetensors")
    image = torch.rand(1, 20, 18, 3)
    node = comfy.nodes["TinyESPCN_Upscale"]
    assert node.execute(image, model, tile_size=0)[0].shape == (1, 160, 144, 3)  # the file's top scale, x8
    for s in (2, 4):  # its own x2 / x4 level, not x8 then a downscale
        out = node.execute(image, model, tile_size=0, scale_by=float(s))[0]
        with torch.no_grad():
            ref = load_model(path, s)[0](image.movedim(-1, 1)).clamp(0, 1).movedim(1, -1)
        assert out.shape == ref.shape and (out - ref).abs().max().item() < 1e-5


def test_loader_preselects_general_x2_and_its_tooltip_is_the_models_table(comfy):
    from tinyespcn_nodes.core.model_table import model_rows

    weights = comfy.nodes["TinyESPCN_ModelLoader"].INPUT_TYPES()["required"]["weights"]
    assert weights[0][0] != "general-x2" and weights[1]["default"] == "general-x2"  # not merely the first
    for row in model_rows():
        assert (
            f"{row.name_text}: {row.scale_text}, {row.macs_text} MACs/LR px, {row.purpose}; {row.quality}"
            in (weights[1]["tooltip"])
        )


_LONG_BATCH_CHILD = r"""
import json, sys, types, torch
mm = types.ModuleType("comfy.model_management")  # ComfyUI with fp16 intermediates, on the CPU
mm.get_torch_device = mm.intermediate_device = lambda: torch.device("cpu")
mm.intermediate_dtype = lambda: torch.float16
sys.modules["comfy"], sys.modules["comfy.model_management"] = types.ModuleType("comfy"), mm
sys.path.insert(0, "tests")
__import__("fake_comfy_api").install()
from tinyespcn_nodes.hosts.comfy.nodes import ModelHandle, TinyESPCNUpscale

def high_water():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))

model = ModelHandle(sys.argv[1], 2, "cpu", "fp32")
node = TinyESPCNUpscale
node.execute(torch.rand(2, 80, 80, 3), model)  # warm-up: kernels, weights
image = torch.rand(200, 80, 80, 3)  # 200 video frames
base = high_water()
out = node.execute(image, model)[0]
print(json.dumps({"extra": high_water() - base, "out_bytes": out.numel() * out.element_size(),
                  "in_bytes": image.numel() * image.element_size(), "shape": list(out.shape), "dtype": str(out.dtype)}))
"""


def test_long_batch_peak_memory_is_the_output_plus_a_chunk(weights_file):
    """200 frames: the peak over the input is the fp16 output plus one small chunk, not float copies of the
    whole batch (before chunking: a clamped float copy of the input + a float32 output + the fp16 output)."""
    import subprocess

    res = subprocess.run(
        [sys.executable, "-c", _LONG_BATCH_CHILD, str(weights_file)], capture_output=True, text=True, cwd=REPO
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert data["shape"] == [200, 160, 160, 3] and data["dtype"] == "torch.float16"
    assert data["extra"] <= data["out_bytes"] + 16 * 2**20, data
