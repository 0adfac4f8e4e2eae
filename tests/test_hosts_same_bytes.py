"""One input, every host: the CLI (file and scheduler worker), big-image bands, zarr/dask, ComfyUI and
napari all run the engine's job, so they give the same bytes (the bundled general-x2, auto tile and
precision, on the CPU)."""

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image
from test_comfy_nodes import comfy  # noqa: F401 (the fake ComfyUI host, as a fixture)

from tinyespcn_nodes.engine import UpscaleOptions, prepare

OPTIONS = UpscaleOptions("general", 2, device="cpu")
IMAGE = np.array(Image.open(REPO / "tinyespcn_nodes" / "data" / "astronaut.png").convert("RGB"))[60:124, 150:206]


def cli(tmp_path, request):
    from tinyespcn_nodes.hosts.cli.main import main

    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(IMAGE).save(src)
    assert main(["upscale", str(src), "-o", str(dst), "--weights", "general", "--device", "cpu"]) == 0
    return np.array(Image.open(dst))


def scheduler_worker(tmp_path, request):
    from tinyespcn_nodes.hosts.cli.cluster import FileJob, upscale_file

    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(IMAGE).save(src)
    assert upscale_file(str(src), str(dst), FileJob(OPTIONS)) == (str(dst), None)
    return np.array(Image.open(dst))


def bands(tmp_path, request):
    return np.concatenate(list(prepare(OPTIONS).run_bands(IMAGE, rows=16)))


def zarr_store(tmp_path, request):
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("dask")
    from tinyespcn_nodes.engine.options import UpscaleOptions
    from tinyespcn_nodes.io.zarr_job import upscale_zarr

    src = zarr.create_array(str(tmp_path / "in.zarr"), shape=IMAGE.shape, chunks=(32, 24, 3), dtype=IMAGE.dtype)
    src[:] = IMAGE
    report = upscale_zarr(
        tmp_path / "in.zarr", tmp_path / "out.zarr", UpscaleOptions("general", 2, device="cpu"), progress=False
    )
    return np.asarray(zarr.open_array(str(report.output), mode="r")[:])


def comfyui(tmp_path, request):
    host = request.getfixturevalue("comfy")
    model = host.nodes["TinyESPCN_ModelLoader"].execute("general-x2", "cpu", "auto")[0]
    image = torch.from_numpy(IMAGE).float().div(255)[None]
    out = host.nodes["TinyESPCN_Upscale"].execute(image, model)[0][0]
    return out.mul(255).round().to(torch.uint8).numpy()


def napari_widget(tmp_path, request):
    pytest.importorskip("napari")
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer, qtbot = request.getfixturevalue("make_napari_viewer")(), request.getfixturevalue("qtbot")
    layer = viewer.add_image(IMAGE, rgb=True, name="img")
    w = UpscaleWidget(viewer)
    w.layer_box.value, w.weights.value, w.device.value = layer, "general", "cpu"
    w.start()
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=120_000)
    return np.asarray(viewer.layers["img (TinyESPCN ×2)"].data)


@pytest.mark.parametrize("host", [cli, scheduler_worker, bands, zarr_store, comfyui, napari_widget])
def test_every_host_gives_the_engines_bytes(host, tmp_path, request):
    want = prepare(OPTIONS).run_array(IMAGE)
    got = host(tmp_path, request)
    assert got.shape == want.shape == (128, 112, 3) and got.dtype == want.dtype
    assert np.array_equal(got, want), f"{host.__name__}: {(got != want).sum()} values differ"
