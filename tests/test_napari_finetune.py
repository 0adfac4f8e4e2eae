"""The fine-tune widget end to end under Xvfb: a small dim stack, a few steps, the result listed for upscaling."""

import numpy as np

from tinyespcn_nodes.core.weights import read_weights


def _stack():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:80, 0:96]
    blobs = sum(np.exp(-((yy - rng.uniform(0, 80)) ** 2 + (xx - rng.uniform(0, 96)) ** 2) / 30) for _ in range(12))
    return np.stack([(100 + 400 * blobs / blobs.max() + rng.normal(0, 5, blobs.shape)).astype(np.uint16)] * 2)


def test_finetune_a_layer_and_upscale_with_the_result(make_napari_viewer, qtbot, weights_file, tmp_path):
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    viewer.add_labels(np.zeros((8, 8), np.uint8), name="mask")
    src = viewer.add_image(_stack(), name="cells")
    up = UpscaleWidget(viewer)  # open before the fine-tune: its list must still gain the new file
    w = FineTuneWidget(viewer)
    assert [c for c in w.layer_box.choices] == [src]  # labels layers are not offered
    w.start_file.value = weights_file
    w.steps.value = 4
    out = tmp_path / "cells-x2.safetensors"
    w.out_file.value = out
    w.start()
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=120_000)
    assert out.is_file(), w.status.value
    info, _ = read_weights(out)
    assert info.scale == 2 and info.training["config"]["degradation"] == "microscopy"
    assert (info.config.channels, info.config.blocks) == (16, 3)  # the start file's architecture, not a default one
    assert info.training["steps"] == 4 and w.progress.value == 4
    assert str(out) in [value for value in up.weights.choices]
    up.layer_box.value = src
    up.weights.value = str(out)
    up.tile.value = 0
    up.start()
    qtbot.waitUntil(lambda: "cells (TinyESPCN ×2)" in viewer.layers, timeout=120_000)
    assert viewer.layers["cells (TinyESPCN ×2)"].data.shape == (2, 160, 192)


def test_too_small_layers_are_refused_with_a_message(make_napari_viewer, monkeypatch):
    from tinyespcn_nodes.hosts.napari import finetune as napari_finetune

    errors = []
    monkeypatch.setattr("napari.utils.notifications.show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((20, 20), np.uint16), name="tiny")
    w = napari_finetune.FineTuneWidget(viewer)
    w.start()
    assert errors and "too small" in errors[0] and w.run_btn.enabled


def test_cancel_stops_a_long_fine_tune_without_writing_weights(make_napari_viewer, qtbot, weights_file, tmp_path):
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget

    viewer = make_napari_viewer()
    viewer.add_image(_stack(), name="cells")
    w = FineTuneWidget(viewer)
    w.start_file.value = weights_file
    w.steps.value = 100_000
    out = tmp_path / "never.safetensors"
    w.out_file.value = out
    w.start()
    qtbot.waitUntil(lambda: w.progress.value >= 1, timeout=120_000)
    w.cancel()
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=30_000)
    assert not out.exists() and "cancelled" in w.status.value
