"""Big layers in the upscale widget: a size estimate from the shape alone, a confirmation before a large
in-memory result (or a refusal when the disk is too small), and every pixel read in the worker, never on the
UI thread (the event loop keeps running while a dask layer is read)."""

import threading

import numpy as np
import pytest

from tinyespcn_nodes.hosts.napari.run_size import confirmation, disk_refusal, run_size

GB = 1000**3


def test_size_comes_from_the_shape_and_time_from_the_rate():
    size = run_size((100, 4096, 4096), np.uint16, rgb=False, factor=2)
    assert size.out_shape == (100, 8192, 8192) and size.out_bytes == 100 * 8192 * 8192 * 2
    assert size.in_pixels == 100 * 4096 * 4096
    assert size.seconds(4096 * 4096) == pytest.approx(100)
    assert "13.4 GB" in size.text(None) and "measured on the first run" in size.text(None)
    assert "2 min" in size.text(4096 * 4096) and "16.78 Mpx/s" in size.text(4096 * 4096)
    rgb = run_size((3, 10, 12, 3), np.uint8, rgb=True, factor=4, current_only=True)
    assert rgb.out_shape == (40, 48, 3) and rgb.out_bytes == 40 * 48 * 3 and rgb.planes == 1


def test_only_a_result_above_the_limit_asks_and_the_disk_must_hold_it():
    small, big = run_size((8, 8), np.uint8, False, 2), run_size((40, 2048, 2048), np.float32, False, 2)
    assert confirmation(small, None, 2 * GB) is None
    question = confirmation(big, 1e6, 2 * GB)
    assert "2.7 GB" in question and "OME-Zarr" in question and "zarr output" in question and "anyway" in question
    assert disk_refusal(big, "/data/out.zarr", 10 * GB) is None
    assert (
        disk_refusal(big, "/data/out.zarr", GB)
        == "/data/out.zarr: the result needs 2.7 GB but the disk has 1.0 GB free"
    )


napari = pytest.importorskip("napari")


class _Source:
    """An array-like that records which thread reads it; while `gate` is armed a read waits until the Qt
    event loop has ticked (a read on the UI thread could never see a tick: it is recorded, not waited for)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        self.armed, self.ticks, self.main_reads, self.worker_reads, self.unticked = False, 0, 0, 0, 0

    def __getitem__(self, key):
        if self.armed:
            if threading.current_thread() is threading.main_thread():
                self.main_reads += 1
            else:
                self.worker_reads += 1
                seen = self.ticks
                for _ in range(500):  # at most ~5 s
                    if self.ticks >= seen + 2:
                        break
                    threading.Event().wait(0.01)
                else:
                    self.unticked += 1
        return self.data[key]


@pytest.mark.parametrize("to_zarr", [False, True], ids=["in-memory", "zarr"])
def test_the_event_loop_runs_while_a_dask_layer_is_read_and_upscaled(
    make_napari_viewer, qtbot, weights_file, tmp_path, to_zarr
):
    da = pytest.importorskip("dask.array")
    from qtpy.QtCore import QTimer

    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    source = _Source((np.random.default_rng(4).random((3, 48, 40)) * 900 + 100).astype(np.uint16))
    src = viewer.add_image(
        da.from_array(source, chunks=(1, 24, 40)), name="big", contrast_limits=(0, 1000), scale=(2.0, 0.5, 0.5)
    )
    w = UpscaleWidget(viewer)
    w.layer_box.value, w.weights.value, w.weights_file.value = src, "file…", weights_file
    if to_zarr:
        w.zarr_out.value = tmp_path / "big.zarr"
    timer = QTimer()
    timer.timeout.connect(lambda: setattr(source, "ticks", source.ticks + 1))
    timer.start(10)
    real_finish = w._finish

    def finish(out, meta):  # napari re-slices the source when the result is added: not the widget's read
        source.armed = False
        real_finish(out, meta)

    w._finish = finish
    source.armed = True
    w.start()  # uint16 "auto": the percentile window reads the whole layer, then every plane is read again
    assert source.main_reads == 0  # start() returned without reading a pixel
    qtbot.waitUntil(lambda: w.run_btn.enabled, timeout=120_000)
    timer.stop()
    assert source.main_reads == 0 and source.worker_reads >= 6 and source.unticked == 0
    assert viewer.layers["big (TinyESPCN ×2)"].data.shape == (3, 96, 80)
    if to_zarr:  # written as OME-Zarr: the layer's geometry travels with the pixels
        import zarr

        (entry,) = zarr.open_group(str(tmp_path / "big.zarr"), mode="r").attrs["multiscales"]
        assert [a["name"] for a in entry["axes"]] == ["z", "y", "x"]
        assert entry["datasets"][0]["coordinateTransformations"][0]["scale"] == [2.0, 0.25, 0.25]


class _Huge:
    """A 100×4096×4096 uint16 array-like (13.4 GB upscaled ×2) that counts reads and returns zeros."""

    shape, dtype, ndim = (100, 4096, 4096), np.dtype(np.uint16), 3

    def __init__(self) -> None:
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return np.array(np.broadcast_to(np.zeros((), self.dtype), self.shape)[key])


def test_a_huge_layer_asks_first_with_size_and_measured_time(make_napari_viewer, qtbot, weights_file, monkeypatch):
    da = pytest.importorskip("dask.array")
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    viewer = make_napari_viewer()
    huge = _Huge()
    src = viewer.add_image(da.from_array(huge, chunks=(1, 4096, 4096)), name="huge", contrast_limits=(0, 1000))
    w = UpscaleWidget(viewer)
    w.layer_box.value, w.weights.value, w.weights_file.value = src, "file…", weights_file
    assert "13.4 GB" in w.estimate.value  # shown before Run, from the shape
    monkeypatch.setattr("tinyespcn_nodes.hosts.napari.widgets.memory_limit", lambda: 2 * GB)
    asked = []
    w.confirm = lambda question: asked.append(question) or False
    huge.reads = 0
    w.start()  # no rate yet: a probe times the model on a small random plane, then asks
    qtbot.waitUntil(lambda: bool(asked), timeout=60_000)
    assert "13.4 GB" in asked[0] and "Mpx/s" in asked[0] and "zarr output" in asked[0]
    assert huge.reads == 0 and w.run_btn.enabled and "not started" in w.status.value
    assert "huge (TinyESPCN ×2)" not in viewer.layers
    assert "Mpx/s" in w.estimate.value  # the measured rate now gives the estimate a time
    w.start()  # the rate is known: asked at once, no probe
    assert len(asked) == 2 and huge.reads == 0


def test_a_zarr_output_larger_than_the_free_disk_is_refused(make_napari_viewer, weights_file, tmp_path, monkeypatch):
    da = pytest.importorskip("dask.array")
    from tinyespcn_nodes.hosts.napari.widgets import UpscaleWidget

    errors = []
    monkeypatch.setattr("napari.utils.notifications.show_error", errors.append)
    monkeypatch.setattr("tinyespcn_nodes.hosts.napari.widgets.free_bytes", lambda target: GB)
    viewer = make_napari_viewer()
    huge = _Huge()
    src = viewer.add_image(da.from_array(huge, chunks=(1, 4096, 4096)), name="huge", contrast_limits=(0, 1000))
    w = UpscaleWidget(viewer)
    w.layer_box.value, w.weights.value, w.weights_file.value = src, "file…", weights_file
    w.zarr_out.value = tmp_path / "out.zarr"
    huge.reads = 0
    w.start()
    assert errors == [f"{tmp_path / 'out.zarr'}: the result needs 13.4 GB but the disk has 1.0 GB free"]
    assert huge.reads == 0 and w.run_btn.enabled and not (tmp_path / "out.zarr").exists()
