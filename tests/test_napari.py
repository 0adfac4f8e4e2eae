import numpy as np
import pytest

napari = pytest.importorskip("napari")
from conftest import REPO  # noqa: E402
from npe2 import PluginManifest  # noqa: E402

from tinyespcn_nodes.hosts.napari.layers import upscaled_geometry  # noqa: E402


def test_manifest_validates_with_imports():
    pm = PluginManifest.from_file(REPO / "napari.yaml")
    pm.validate_imports()
    assert pm.name == "tinyespcn-nodes"
    assert all(c.id.startswith("tinyespcn-nodes.") for c in pm.contributions.commands)


def test_geometry_rule_keeps_pixel_edges():
    scale, translate = upscaled_geometry((1.0, 0.5, 0.5), (3.0, 10.0, 20.0), 3, 2)
    assert scale == (1.0, 0.25, 0.25) and translate == (3.0, 9.875, 19.875)


def run_widget(qtbot, widget):
    """Start and wait for the worker to finish. Waiting on `worker.finished` after start() races a fast worker
    (the signal can fire before the wait connects); the Run button is re-enabled by a slot connected before start."""
    widget.start()
    assert not widget.run_btn.enabled
    qtbot.waitUntil(lambda: widget.run_btn.enabled, timeout=120_000)


def test_upscale_rgb_layer_overlays_source(make_napari_viewer, qtbot, weights_file, portrait_u8):
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    src = viewer.add_image(portrait_u8[:64, :48], rgb=True, name="face", scale=(0.5, 0.5), translate=(10, 20))
    w = UpscaleWidget(viewer)
    w.layer_box.value = src
    w.weights.value = "file…"
    w.weights_file.value = weights_file
    w.tile.value = 32
    run_widget(qtbot, w)
    out = viewer.layers["face (TinyESPCN ×2)"]
    assert out.data.shape == (128, 96, 3) and out.data.dtype == np.uint8 and out.rgb
    np.testing.assert_allclose(out.scale, (0.25, 0.25))
    np.testing.assert_allclose(out.translate, (9.875, 19.875))

    def edges(layer):  # extent.world spans pixel centres; add half a pixel each side
        ext = np.asarray(layer.extent.world, float)
        return ext[0] - np.asarray(layer.scale) / 2, ext[1] + np.asarray(layer.scale) / 2

    for a, b in zip(edges(out), edges(src)):
        np.testing.assert_allclose(a, b)  # the upscaled layer covers exactly the source's pixels
    assert w.progress.value == w.progress.max > 1
    run_widget(qtbot, w)  # second run updates in place
    assert [layer.name for layer in viewer.layers].count("face (TinyESPCN ×2)") == 1


def test_strength_is_offered_for_the_photo_and_portrait_families_only(make_napari_viewer):
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    w = UpscaleWidget(make_napari_viewer())
    for family, offered in (("portrait", True), ("photo", True), ("general", False), ("fast", False)):
        w.weights.value = family
        assert (not w.strength.native.isHidden()) is offered, family  # explicitly hidden or not (widget unshown)


def test_uint16_stack_and_filters(make_napari_viewer, qtbot, weights_file):
    from tinyespcn_nodes.hosts.napari.widgets import AntialiasWidget, UnsharpWidget, UpscaleWidget

    viewer = make_napari_viewer()
    stack = (np.random.default_rng(0).random((3, 24, 20)) * 60000).astype(np.uint16)
    src = viewer.add_image(stack, name="cells", scale=(2.0, 0.3, 0.3))
    up = UpscaleWidget(viewer)
    up.layer_box.value = src
    up.weights.value = "file…"
    up.weights_file.value = weights_file
    run_widget(qtbot, up)
    out = viewer.layers["cells (TinyESPCN ×2)"]
    assert out.data.shape == (3, 48, 40) and out.data.dtype == np.uint16
    np.testing.assert_allclose(out.scale, (2.0, 0.15, 0.15))
    for cls, name in ((UnsharpWidget, "cells (unsharp)"), (AntialiasWidget, "cells (AA)")):
        w = cls(viewer)
        w.layer_box.value = src
        run_widget(qtbot, w)
        res = viewer.layers[name]
        assert res.data.shape == stack.shape and res.data.dtype == np.uint16
        np.testing.assert_allclose(res.scale, src.scale)
        assert not np.array_equal(res.data, stack)


def test_cancel_leaves_no_layer(make_napari_viewer, qtbot, weights_file):
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    src = viewer.add_image(np.random.default_rng(0).random((4, 128, 128)).astype(np.float32), name="t")
    w = UpscaleWidget(viewer)
    w.layer_box.value = src
    w.weights.value = "file…"
    w.weights_file.value = weights_file
    w.tile.value = 24
    w.start()
    qtbot.waitUntil(lambda: w.progress.value >= 1, timeout=120_000)  # a tile is done: cancel mid-run
    w.cancel()
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=120_000)
    assert w.progress.value < w.progress.max
    assert "t (TinyESPCN ×2)" not in viewer.layers


def test_sample_data_loads():
    from tinyespcn_nodes.hosts.napari.samples import portrait, portrait_lowres

    ((hr, meta, kind),) = portrait()
    ((lr, lmeta, _),) = portrait_lowres()
    assert hr.shape == (512, 512, 3) and lr.shape == (256, 256, 3) and kind == "image" and lmeta["rgb"]


def test_widgets_dock_from_the_plugin_menu(make_napari_viewer):
    """napari builds dock widgets itself (injecting `napari_viewer`); constructing them by hand would hide that."""
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget
    from tinyespcn_nodes.hosts.napari.widgets import AntialiasWidget, UnsharpWidget, UpscaleWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((8, 8), np.uint8), name="img")
    for name, cls in [
        ("TinyESPCN upscale", UpscaleWidget),
        ("Unsharp mask", UnsharpWidget),
        ("MSAA anti-alias", AntialiasWidget),
        ("Fine-tune TinyESPCN", FineTuneWidget),
    ]:
        _, widget = viewer.window.add_plugin_dock_widget("tinyespcn-nodes", name)
        assert isinstance(widget, cls)
        assert widget.layer_box.value.name == "img"


def test_gray_float_rgba_and_dask_current_slice(make_napari_viewer, qtbot, weights_file):
    import dask.array as da

    from tinyespcn_nodes.hosts.napari.widgets import UnsharpWidget, UpscaleWidget

    viewer = make_napari_viewer()
    rng = np.random.default_rng(1)
    gray = (rng.random((12, 600)) * 4000 + 100).astype(np.float32)
    gray[5, 301] = 9000.0  # a lone maximum off any subsampling grid must survive normalisation
    rgba = rng.integers(0, 256, (16, 14, 4), dtype=np.uint8)
    stack = da.from_array((rng.random((5, 16, 16)) * 255).astype(np.uint8), chunks=(1, 16, 16))
    layers = [
        viewer.add_image(gray, name="g", colormap="magma"),
        viewer.add_image(rgba, name="rgba", rgb=True),
        viewer.add_image(stack, name="dask"),
    ]
    viewer.dims.set_current_step(0, 3)
    for src in layers:
        w = UpscaleWidget(viewer)
        w.layer_box.value = src
        w.weights.value = "file…"
        w.weights_file.value = weights_file
        w.current_only.value = src.name == "dask"
        run_widget(qtbot, w)
        out = viewer.layers[f"{src.name} (TinyESPCN ×2)"]
        assert out.data.dtype == src.data.dtype
        if src.name == "g":
            assert out.data.shape == (24, 1200) and out.colormap.name == "magma"
            assert out.data.max() > 6000  # the lone maximum survives: the window never clips (4100 otherwise)
        elif src.name == "rgba":
            assert out.data.shape == (32, 28, 4) and out.rgb
        else:
            assert out.data.shape == (32, 32)  # only the current plane (index 3)
    usm = UnsharpWidget(viewer)
    usm.layer_box.value = layers[1]
    run_widget(qtbot, usm)
    res = viewer.layers["rgba (unsharp)"].data
    assert res.shape == rgba.shape and np.array_equal(res[..., 3], rgba[..., 3])  # alpha untouched


def test_weights_choices_show_each_tier(make_napari_viewer):
    from tinyespcn_nodes.core.catalog import TIERS, bundled
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    w = UpscaleWidget(make_napari_viewer())
    labels = [w.weights.native.itemText(i) for i in range(w.weights.native.count())]
    families = sorted({n.rsplit("-x", 1)[0] for n in bundled()})
    for family in families:
        assert any(label.startswith(family) and TIERS.get(family, "") in label for label in labels), labels
    assert w.weights.value == "general" and labels[-1] == "file…"


def test_a_dask_stack_is_written_to_zarr_lazily_and_equals_the_in_memory_run(
    make_napari_viewer, qtbot, weights_file, tmp_path
):
    da = pytest.importorskip("dask.array")
    pytest.importorskip("zarr")
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    stack = (np.random.default_rng(2).random((3, 40, 36)) * 900 + 100).astype(np.uint16)
    src = viewer.add_image(da.from_array(stack, chunks=(1, 20, 36)), name="lazy", scale=(2.0, 0.4, 0.4))
    w = UpscaleWidget(viewer)
    w.layer_box.value = src
    w.weights.value = "file…"
    w.weights_file.value = weights_file
    w.precision.value = "fp32"
    run_widget(qtbot, w)  # in memory, for reference
    ref = np.asarray(viewer.layers["lazy (TinyESPCN ×2)"].data)
    viewer.layers.remove("lazy (TinyESPCN ×2)")
    w.zarr_out.value = tmp_path / "up.zarr"
    run_widget(qtbot, w)
    out = viewer.layers["lazy (TinyESPCN ×2)"]
    assert isinstance(out.data, da.Array)  # opened lazily from the store, not materialised
    np.testing.assert_array_equal(np.asarray(out.data), ref)
    np.testing.assert_allclose(out.scale, (2.0, 0.2, 0.2))
    assert w.progress.value == w.progress.max == 6  # one tick per chunk: 3 planes x 2 row chunks


def test_weights_tooltip_is_the_models_table(make_napari_viewer):
    from tinyespcn_nodes.core.model_table import model_rows
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    tip = UpscaleWidget(make_napari_viewer()).weights.tooltip
    for row in model_rows():
        assert f"{row.name_text}: {row.scale_text}, {row.macs_text} MACs/LR px" in tip and row.quality in tip


class _ReadLog:
    """An array-like that records the size of every read: what dask pulls from the source, and when."""

    def __init__(self, data: np.ndarray) -> None:
        self.data, self.shape, self.dtype, self.ndim, self.reads = data, data.shape, data.dtype, data.ndim, []

    def __getitem__(self, key):
        out = self.data[key]
        self.reads.append(out.size)
        return out


def test_a_4d_dask_layer_streams_plane_by_plane_and_keeps_t_z_scale(make_napari_viewer, qtbot, weights_file, tmp_path):
    da = pytest.importorskip("dask.array")
    pytest.importorskip("zarr")
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    log = _ReadLog((np.random.default_rng(3).random((2, 3, 40, 36)) * 900 + 100).astype(np.uint16))  # T, Z, Y, X
    src = viewer.add_image(da.from_array(log, chunks=(1, 1, 20, 36)), name="tz", scale=(5.0, 2.0, 0.4, 0.4))
    w = UpscaleWidget(viewer)
    w.layer_box.value, w.weights.value, w.weights_file.value = src, "file…", weights_file
    w.zarr_out.value = tmp_path / "tz.zarr"
    run_widget(qtbot, w)
    out = viewer.layers["tz (TinyESPCN ×2)"]
    assert isinstance(out.data, da.Array) and out.data.shape == (2, 3, 80, 72)  # lazy: never held whole
    np.testing.assert_allclose(out.scale, (5.0, 2.0, 0.2, 0.2))
    assert max(log.reads) <= 40 * 36  # the source is read at most a plane at a time, never whole


def test_new_weights_reach_live_widgets_past_a_closed_one(monkeypatch):
    """A closed upscale widget whose Qt combo is gone must not stop the list update of the live ones."""
    from tinyespcn_nodes.hosts.napari import widgets

    class Combo:
        def __init__(self, dead):
            self.dead, self.resets = dead, 0

        def reset_choices(self):
            if self.dead:
                raise RuntimeError("Internal C++ object (QComboBox) already deleted.")
            self.resets += 1

    class Widget:
        def __init__(self, dead):
            self.weights = Combo(dead)

    dead, live = Widget(True), Widget(False)
    monkeypatch.setattr(widgets, "_UPSCALE_WIDGETS", widgets.weakref.WeakSet([dead, live]))
    monkeypatch.setattr(widgets, "USER_WEIGHTS", {})
    widgets.add_user_weights("mine-x2", "/tmp/mine-x2.safetensors")
    assert live.weights.resets == 1 and dead not in widgets._UPSCALE_WIDGETS
