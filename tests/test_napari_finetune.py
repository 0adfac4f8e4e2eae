"""The fine-tune widget end to end under Xvfb: a small dim stack, a few steps, previews, the result listed for
upscaling; the CPU sizing, tooltips, offered scales, save-as names and temp-folder cleanup."""

import numpy as np
import pytest

pytest.importorskip("napari")

from tinyespcn_nodes.core.weights import read_weights  # noqa: E402
from tinyespcn_nodes.hosts.napari.finetune_plan import BUDGET_S, PREVIEW_S, plan_for  # noqa: E402


def _stack():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:80, 0:96]
    blobs = sum(np.exp(-((yy - rng.uniform(0, 80)) ** 2 + (xx - rng.uniform(0, 96)) ** 2) / 30) for _ in range(12))
    return np.stack([(100 + 400 * blobs / blobs.max() + rng.normal(0, 5, blobs.shape)).astype(np.uint16)] * 2)


def test_plan_fits_the_budget_and_previews_early():
    p = plan_for(2.0)  # a slow laptop step
    assert p.steps * 2.0 <= BUDGET_S and p.preview_every * 2.0 <= PREVIEW_S < 30
    assert "2.00 s/step" in p.text() and "min" in p.text()
    assert plan_for(1e-3).steps == 2000 and plan_for(100.0).steps == 10  # clamped both ways


def test_plan_counts_the_preview_layers_in_the_budget():
    p = plan_for(0.5, preview_seconds=12.0)  # a loaded 2-core laptop: a 512² preview took ~13 s
    assert p.total_seconds() <= BUDGET_S and p.steps < plan_for(0.5).steps
    assert p.total_seconds() > BUDGET_S * 0.9  # still uses the budget
    assert "12.0 s to draw it" in p.text() and p.preview_every * 0.5 <= PREVIEW_S


def test_finetune_a_layer_and_upscale_with_the_result(make_napari_viewer, qtbot, weights_file, tmp_path):
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    viewer.add_labels(np.zeros((8, 8), np.uint8), name="mask")
    src = viewer.add_image(_stack(), name="cells")
    up = UpscaleWidget(viewer)  # open before the fine-tune: its list must still gain the new file
    w = FineTuneWidget(viewer, measure=False)
    assert [c for c in w.layer_box.choices] == [src]  # labels layers are not offered
    w.start_file.value = weights_file
    assert list(w.scale_box.choices) == [2]  # the start file's own scale only
    w._measured(0.5)  # as if 0.5 s/step were measured: a preview every 30 steps
    w.steps.value = 4
    w.plan = plan_for(0.5, preview=1.0)  # a preview every 2 steps
    out = tmp_path / "cells-x2.safetensors"
    w.out_file.value = out
    w.start()
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=120_000)
    assert out.is_file(), w.status.value
    preview = viewer.layers["cells (fine-tune preview)"]
    assert preview.data.shape == (160, 192) and preview.data.dtype == np.uint16
    info, _ = read_weights(out)
    assert info.scale == 2 and info.training["config"]["degradation"] == "microscopy"
    assert (info.config.channels, info.config.blocks) == (16, 3)  # the start file's architecture, not a default one
    assert info.training["steps"] == 4 and w.progress.value == 4
    assert str(out) in [value for value in up.weights.choices]
    assert w.export_btn.enabled
    assert not w.scratch.exists()  # the temporary folder is gone
    up.layer_box.value = src
    up.weights.value = str(out)
    up.tile.value = 0
    up.start()
    qtbot.waitUntil(lambda: "cells (TinyESPCN ×2)" in viewer.layers, timeout=120_000)
    assert viewer.layers["cells (TinyESPCN ×2)"].data.shape == (2, 160, 192)


def test_every_field_has_a_tooltip_and_only_existing_scales_are_offered(make_napari_viewer):
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget
    from tinyespcn_nodes.hosts.napari.finetune_plan import offered_pairs

    viewer = make_napari_viewer()
    w = FineTuneWidget(viewer, measure=False)
    assert all(widget.tooltip for widget in w), [widget.label for widget in w if not widget.tooltip]
    pairs = offered_pairs()
    for family in w.weights.choices:
        w.weights.value = family
        assert sorted(w.scale_box.choices) == pairs[family]
        assert w.out_file.value.name == f"{family}-finetuned-x{w.scale_box.value}.safetensors"
    if "portrait" in pairs:
        assert 3 not in pairs["portrait"]  # there is no portrait-x3 file: x3 is not offered


def test_default_steps_come_from_a_measured_step(make_napari_viewer, qtbot, weights_file):
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget

    viewer = make_napari_viewer()
    viewer.add_image(_stack(), name="cells")
    w = FineTuneWidget(viewer, measure=False)
    w.start_file.value = weights_file
    w.measure()  # the small file: fast
    qtbot.waitUntil(lambda: w.plan is not None, timeout=60_000)
    assert w.steps.value == w.plan.steps and "s/step" in w.estimate.value
    w.steps.value = 7
    assert "7 steps" in w.estimate.value


def test_save_as_must_match_the_scale(make_napari_viewer, monkeypatch, weights_file, tmp_path):
    from tinyespcn_nodes.hosts.napari import finetune as napari_finetune

    errors = []
    monkeypatch.setattr("napari.utils.notifications.show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.add_image(_stack(), name="cells")
    w = napari_finetune.FineTuneWidget(viewer, measure=False)
    w.start_file.value = weights_file
    w.out_file.value = tmp_path / "cells-x4.safetensors"
    w.start()
    assert errors and "x4" in errors[0] and "x2" in errors[0] and w.run_btn.enabled


def test_too_small_layers_are_refused_with_a_message(make_napari_viewer, monkeypatch):
    from tinyespcn_nodes.hosts.napari import finetune as napari_finetune

    errors = []
    monkeypatch.setattr("napari.utils.notifications.show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((20, 20), np.uint16), name="tiny")
    w = napari_finetune.FineTuneWidget(viewer, measure=False)
    w.start()
    assert errors and "too small" in errors[0] and w.run_btn.enabled


def test_cancel_stops_a_long_fine_tune_without_writing_weights(make_napari_viewer, qtbot, weights_file, tmp_path):
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget

    viewer = make_napari_viewer()
    viewer.add_image(_stack(), name="cells")
    w = FineTuneWidget(viewer, measure=False)
    w.start_file.value = weights_file
    w.steps.value = 100_000
    out = tmp_path / "never-x2.safetensors"
    w.out_file.value = out
    w.start()
    qtbot.waitUntil(lambda: w.progress.value >= 1, timeout=120_000)
    w.cancel()
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=30_000)
    assert not out.exists() and "cancelled" in w.status.value
    qtbot.waitUntil(lambda: not w.scratch.exists(), timeout=10_000)  # the temporary folder is gone


def test_export_button_writes_the_just_trained_model_as_a_bioimageio_zip(
    make_napari_viewer, qtbot, weights_file, tmp_path
):
    import zipfile

    from conftest import require_bioimageio

    require_bioimageio()
    require_bioimageio("onnxruntime")
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget

    viewer = make_napari_viewer()
    viewer.add_image(_stack(), name="cells")
    w = FineTuneWidget(viewer, measure=False)
    assert not w.export_btn.enabled  # nothing trained yet
    w.start_file.value = weights_file
    w.steps.value = 2
    out = tmp_path / "cells-x2.safetensors"
    w.out_file.value = out
    w.start()
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=120_000)
    assert out.is_file() and w.export_btn.enabled, w.status.value
    w.export_btn.native.click()  # the button, as a user presses it
    assert not w.export_btn.enabled and "exporting" in w.status.value
    qtbot.waitUntil(lambda: w.export_btn.enabled, timeout=300_000)
    package = tmp_path / "cells-x2.bioimageio.zip"
    assert w.status.value == f"wrote {package} (bioimage.io test passed)"
    names = zipfile.ZipFile(package).namelist()
    assert "rdf.yaml" in names and "weights_torchscript.pt" in names
    rdf = zipfile.ZipFile(package).read("rdf.yaml").decode()
    assert "format_version: 0.5" in rdf and "cells" in rdf
