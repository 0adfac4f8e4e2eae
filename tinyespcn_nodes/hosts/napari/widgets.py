"""napari dock widgets: TinyESPCN upscale, unsharp mask, MSAA anti-alias.

Each widget reads the chosen image layer on the main thread, runs a generator `thread_worker` that yields
after every tile (progress + cancel within one tile), and adds/updates the output layer in `returned`.
Torch is imported only when a run starts, so the plugin menu opens fast.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSlider,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)

from ...core.catalog import STRENGTH_FAMILIES
from ...core.defaults import DEFAULT_TILE
from ...core.intensity import from_model, to_model
from .layers import upscaled_geometry
from .run_guard import RATES, Run, RunRefused, SizedRuns, error_text, run_window
from .run_size import (
    RunSize,
    disk_refusal,
    free_bytes,
    memory_limit,
    ome_zarr_entry,
)

# weights written by the fine-tune widget in this session: name → path, listed by every upscale widget
USER_WEIGHTS: dict[str, str] = {}
_UPSCALE_WIDGETS: weakref.WeakSet = weakref.WeakSet()


def add_user_weights(name: str, path: str) -> None:
    USER_WEIGHTS[name] = path
    for widget in list(_UPSCALE_WIDGETS):
        try:
            widget.weights.reset_choices()
        except RuntimeError:  # a closed widget whose Qt side is gone (the Python object lives on a while)
            _UPSCALE_WIDGETS.discard(widget)


def _image_layers(viewer) -> list:
    from napari.layers import Image

    return [layer for layer in viewer.layers if isinstance(layer, Image)]


class _Base(SizedRuns, Container):
    title = ""
    suffix = ""

    def __init__(self, napari_viewer) -> None:
        # the parameter name is napari's contract: a dock widget gets the viewer as `napari_viewer`
        super().__init__()
        self.viewer = viewer = napari_viewer
        self.layer_box = ComboBox(label="image layer", choices=self._layer_choices)
        self.current_only = CheckBox(text="current slice only", value=False)
        self.intensity = ComboBox(
            label="intensity", choices=["auto", "range", "percentile", "contrast limits"], value="auto"
        )
        self.intensity.tooltip = (
            "How values reach the model: auto = dtype range for 8-bit, 0.1-99.9 % percentiles of the whole "
            "layer for 16/32-bit and float data outside [0, 1]; range = dtype (or min/max) range; contrast "
            "limits = the layer's. Values outside the window are kept."
        )
        self.run_btn = PushButton(text="Run")
        self.cancel_btn = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(value=0, max=1, label="progress")
        self.status = Label(value="")
        self.estimate = Label(value="")
        self.estimate.tooltip = (
            "The result's size (from the layer's shape, before any pixel is read) and its time at the speed "
            "measured on this machine (a probe or the last run with these settings)."
        )
        self.parameter_widgets_list = self.parameter_widgets()
        self.extend(
            [
                self.layer_box,
                *self.parameter_widgets_list,
                self.intensity,
                self.current_only,
                self.estimate,
                self.run_btn,
                self.cancel_btn,
                self.progress,
                self.status,
            ]
        )
        self.run_btn.changed.connect(self.start)
        self.cancel_btn.changed.connect(self.cancel)
        viewer.layers.events.inserted.connect(lambda e: self.layer_box.reset_choices())
        viewer.layers.events.removed.connect(lambda e: self.layer_box.reset_choices())
        for widget in (self.layer_box, self.current_only, *self.parameter_widgets_list):
            widget.changed.connect(self._update_estimate)
        self.worker = None
        self._update_estimate()

    def _layer_choices(self, _widget=None):
        return [(layer.name, layer) for layer in _image_layers(self.viewer)]

    def parameter_widgets(self) -> list:
        return []

    def factor(self) -> int:
        return 1

    def make_processor(self):
        """Read the parameters (UI thread) and return build(window) -> process(plane, progress): the plane
        upscaled/filtered, same layout and dtype; `window`: the layer's one intensity window (None: the dtype
        path). `build` runs in the worker."""
        raise NotImplementedError

    def output_name(self, layer) -> str:
        return f"{layer.name} ({self.suffix})"

    # ---- run -------------------------------------------------------------------------------
    def start(self, *_):
        """Check the layer, size the run from its shape (nothing is read here: every pixel is read in the
        worker), ask before a large in-memory result, then run in the background."""
        from napari.layers import Labels
        from napari.utils.notifications import show_error

        layer = self.layer_box.value
        if layer is None or isinstance(layer, Labels):
            show_error("Choose an image layer (labels layers cannot be upscaled or filtered).")
            return
        if layer.multiscale:
            show_error(f"{layer.name}: multiscale layers are not supported; use the full-resolution level.")
            return
        current = tuple(self.viewer.dims.current_step) if self.current_only.value else None
        try:
            target = None if current is not None else self.zarr_target()
        except ValueError as exc:
            show_error(f"{self.title}: {exc}")
            return
        size = self._size(layer)
        run = Run(layer, bool(layer.rgb), current, self._window_rule(layer), self.make_processor(), size)
        if target is not None:
            refusal = disk_refusal(size, target, free_bytes(target))
            if refusal is not None:
                show_error(refusal)
                return
            self._start_zarr(run, target)
            return
        limit = memory_limit()
        if size.out_bytes <= limit:
            self._start_memory(run)
        elif self.rate() is None:  # time the model on a small random plane first, so the question has a time
            self._probe(run, lambda: self._ask(run, limit))
        else:
            self._ask(run, limit)

    def _start_memory(self, run: Run) -> None:
        layer, data, current, planes = run.layer, run.layer.data, run.current, run.planes
        dtype = np.dtype(data.dtype)
        meta = self._meta(layer, self.factor(), current)
        total_box = [0]

        def work():
            process = run.build(run_window(layer, run))  # reads the layer (percentiles) here, in the worker
            out = None
            for idx in planes:
                plane = np.asarray(data[idx])  # dask/zarr: read one plane at a time
                events: queue.Queue = queue.Queue()
                result: dict = {}

                def run_plane(plane=plane, events=events, result=result):
                    from ...core.progress import Progress

                    report = lambda done, total, q=events: q.put(("tile", total))  # noqa: E731
                    try:
                        result["y"] = process(plane, Progress(report, lambda: self.worker.abort_requested))
                    except BaseException as exc:  # handed to the worker thread below
                        result["error"] = exc
                    events.put(("done", None))

                t = threading.Thread(target=run_plane, daemon=True)
                t.start()
                while True:
                    kind, tiles = events.get()
                    if kind == "done":
                        break
                    total_box[0] = tiles * len(planes)
                    yield 1
                t.join()
                if "error" in result:
                    from ...core.progress import UpscaleCancelled

                    if isinstance(result["error"], UpscaleCancelled):  # Cancel seen inside a tile
                        return None
                    raise result["error"]
                y = result["y"]
                if out is None:
                    out = np.empty((*data.shape[: len(idx)], *y.shape) if current is None else y.shape, dtype)
                out[idx if current is None else ()] = y
            return out

        self._launch(
            work, meta, lambda: total_box[0], "running…", "cancelled; no layer written",
            lambda exc: error_text(self.title, exc), run.size,
        )  # fmt: skip

    def zarr_target(self):
        """A zarr store to write the result into lazily (upscale widget only), or None: in memory."""
        return None

    def _start_zarr(self, run: Run, dst) -> None:
        """Upscale chunk by chunk into `dst` (resumable; Cancel keeps finished chunks) and open it lazily."""
        import dask.array as da

        from ...engine.options import UpscaleOptions
        from ...io.zarr_job import ZarrJobError, ZarrOutput, write_upscaled

        layer, data, rgb = run.layer, run.layer.data, run.rgb
        lead = data.ndim - (3 if rgb else 2)
        lazy = (
            data if isinstance(data, da.Array) else da.from_array(data, chunks=(1,) * lead + (1024, 1024) + (-1,) * rgb)
        )
        meta = self._meta(layer, self.factor(), None)
        progress: queue.Queue = queue.Queue()
        chunks_total = [1]
        settings = self.zarr_settings()
        ms, transforms = ome_zarr_entry(layer.name, data.ndim, rgb, layer.scale, layer.translate)
        job = {"layer": layer.name, "source": str(getattr(layer.source, "path", None)),
               "intensity": self.intensity.value, "precision": settings["precision"]}  # fmt: skip

        def work():
            result: dict = {}
            window = run_window(layer, run)  # reads the layer (percentiles) here, in the worker

            def go():
                try:
                    options = UpscaleOptions(
                        settings["weights"], settings["scale"], tile=settings["tile"], device=settings["device"],
                        precision=settings["precision"], intensity=window if window is not None else "auto",
                    )  # fmt: skip
                    result["report"] = write_upscaled(
                        lazy, ZarrOutput(dst, {**job, "window": window}, ms, transforms), options, rgb=rgb,
                        on_chunk=lambda done, total: progress.put(total), should_stop=lambda: self.worker.abort_requested,
                    )  # fmt: skip
                except BaseException as exc:
                    result["error"] = exc
                progress.put(None)

            t = threading.Thread(target=go, daemon=True)
            t.start()
            while (total := progress.get()) is not None:
                chunks_total[0] = total
                yield 1
            t.join()
            if "error" in result:
                raise result["error"]
            report = result["report"]
            if report.interrupted:
                return None
            return da.from_zarr(str(dst), component="0") if ms is not None else da.from_zarr(str(dst))

        self._launch(
            work, meta, lambda: chunks_total[0], f"writing {dst}…", "cancelled; finished chunks kept, Run resumes",
            lambda exc: f"{self.title}: {exc}" if isinstance(exc, ZarrJobError) else error_text(self.title, exc),
            run.size,
        )  # fmt: skip

    def zarr_settings(self) -> dict:
        """write_upscaled's model arguments, read from the widget on the UI thread."""
        raise NotImplementedError

    def _launch(self, work, meta: dict, total, running: str, cancelled: str, error_text, size: RunSize):
        """Start `work` (a generator yielding once per step) in a thread_worker wired to the progress bar,
        the Run/Cancel buttons, the status line and the output layer; a finished run measures the rate."""
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        worker = thread_worker(work)()
        self.worker = worker
        self.progress.value, self.progress.max = 0, 1
        key, t0 = self.rate_key(), time.perf_counter()

        def measured(out) -> None:
            if out is not None:
                RATES[key] = size.in_pixels / max(time.perf_counter() - t0, 1e-6)
                self._update_estimate()

        worker.yielded.connect(lambda _: self._tick(total()))
        worker.returned.connect(lambda out: self._finish(out, meta))
        worker.returned.connect(measured)
        worker.errored.connect(lambda exc: show_error(error_text(exc)))
        worker.aborted.connect(lambda: self.status.set_value(cancelled))
        worker.finished.connect(self._idle)
        self.run_btn.enabled, self.cancel_btn.enabled = False, True
        self.status.value = running
        worker.start()
        return worker

    def _window_rule(self, layer):
        """The intensity choice, read on the UI thread: a mode for `choose_window`, or the contrast limits."""
        from ...core.intensity import Window

        if self.intensity.value == "contrast limits":
            lo, hi = (float(v) for v in layer.contrast_limits)
            return Window(lo, hi)
        return self.intensity.value

    def _tick(self, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = min(self.progress.value + 1, self.progress.max)

    def cancel(self, *_):
        if self.worker is not None:
            self.worker.quit()

    def _idle(self):
        self.run_btn.enabled, self.cancel_btn.enabled = True, False

    def _meta(self, layer, f: int, current) -> dict:
        ndim = layer.ndim
        scale, translate = tuple(layer.scale), tuple(layer.translate)
        if f > 1:
            scale, translate = upscaled_geometry(scale, translate, ndim, f)
        if current is not None:  # a single plane: keep only the spatial axes
            scale, translate = scale[-2:], translate[-2:]
        return {
            "name": self.output_name(layer),
            "scale": scale,
            "translate": translate,
            "rgb": bool(layer.rgb),
            "contrast_limits": list(layer.contrast_limits),
            "colormap": layer.colormap.name,
            "blending": layer.blending,
            "gamma": layer.gamma,
        }

    def _finish(self, out, meta):
        from napari.layers import Layer

        if out is None:  # cancelled part-way through a tile
            self.status.value = "cancelled; no layer written"
            return
        name = meta["name"]
        if name in self.viewer.layers:  # re-running updates the same layer in place
            target = self.viewer.layers[name]
            target.data = out
            for key in ("scale", "translate", "contrast_limits", "gamma"):
                setattr(target, key, meta[key])
        else:
            self.viewer.add_layer(Layer.create(out, meta, "image"))
        self.status.value = f"done: {out.shape} {out.dtype}"


class UpscaleWidget(_Base):
    title = "TinyESPCN upscale"

    def parameter_widgets(self) -> list:
        from ...core.catalog import bundled, family_label

        names = sorted({n.rsplit("-x", 1)[0] for n in bundled()}) or ["general"]

        def choices(_widget=None):
            mine = [(f"{name} — fine-tuned here", path) for name, path in USER_WEIGHTS.items()]
            return [(family_label(n), n) for n in names] + mine + [("file…", "file…")]

        default = "general" if "general" in names else names[0]
        self.weights = ComboBox(label="weights", choices=choices, value=default)
        from ...core.model_table import models_tooltip

        self.weights.tooltip = "Each bundled file (the family and the scale pick one):\n" + models_tooltip()
        _UPSCALE_WIDGETS.add(self)
        from magicgui.widgets import FileEdit

        self.weights_file = FileEdit(label="weights file", filter="*.safetensors", visible=False)
        self.weights.changed.connect(lambda v: setattr(self.weights_file, "visible", v == "file…"))
        self.strength = FloatSlider(label="strength", value=1.0, min=0.0, max=1.0, step=0.05)
        self.strength.tooltip = (
            "photo and portrait models: restoration strength, 0 = their clean model, 1 = full JPEG/noise removal"
        )
        self.strength.visible = default in STRENGTH_FAMILIES
        self.weights.changed.connect(lambda v: setattr(self.strength, "visible", v in STRENGTH_FAMILIES))
        self.scale_box = ComboBox(label="scale", choices=[2, 3, 4, 8], value=2)
        self.tile = SpinBox(label="tile", value=DEFAULT_TILE, min=-1, max=4096, step=32)
        self.tile.tooltip = "LR tile side; auto (-1) = the largest that fits the memory budget, 0 = whole image"
        self.tile.native.setSpecialValueText("auto")  # shown at the minimum, -1
        self.device = ComboBox(label="device", choices=["auto", "cpu", "cuda", "mps"], value="auto")
        self.precision = ComboBox(label="precision", choices=["auto", "fp32", "bf16", "fp16"], value="auto")
        self.precision.tooltip = "auto = fp16 on CUDA, bf16 on CPUs with native bf16, else fp32 (≤ 0.02 dB cost)"
        self.sharpen = CheckBox(text="then unsharp mask", value=False)
        self.antialias = CheckBox(text="then MSAA anti-alias", value=False)
        self.zarr_out = FileEdit(label="zarr output", mode="w", filter="*.zarr", value="")
        self.zarr_out.tooltip = (
            "Optional: write the result into this zarr store chunk by chunk and open it lazily (stacks larger "
            "than memory; Cancel keeps finished chunks and Run resumes). Empty = in memory."
        )
        return [
            self.weights, self.weights_file, self.strength, self.scale_box, self.tile, self.device, self.precision,
            self.sharpen, self.antialias, self.zarr_out,
        ]  # fmt: skip

    def zarr_target(self):
        text = str(self.zarr_out.value or "").strip()
        if text in ("", "."):
            return None
        if self.sharpen.value or self.antialias.value:
            raise ValueError("zarr output runs the upscale alone; untick the post filters")
        return text

    def weights_name(self) -> str:
        return str(self.weights_file.value) if self.weights.value == "file…" else self.weights.value

    def factor(self) -> int:
        return int(self.scale_box.value)

    def output_name(self, layer) -> str:
        return f"{layer.name} (TinyESPCN ×{self.factor()})"

    def make_processor(self):
        """build(window) -> (plane, progress) -> upscaled plane: one engine job for every plane (the layer's
        one window); weights are loaded and the tile checked in `build`, in the worker."""
        from ...core.filters import PostProcess
        from ...engine.job import prepare
        from ...engine.options import UpscaleOptions

        strength = float(self.strength.value) if self.weights.value in STRENGTH_FAMILIES else 1.0
        post = PostProcess(sharpen=self.sharpen.value, antialias=self.antialias.value)
        settings = dict(
            weights=self.weights_name(), scale=self.factor(), tile=int(self.tile.value), device=self.device.value,
            precision=self.precision.value, post=post, strength=strength,
        )  # fmt: skip

        def build(window):
            try:
                return prepare(UpscaleOptions(**settings, intensity=window)).run_array
            except (ValueError, TypeError, FileNotFoundError) as exc:
                raise RunRefused(f"{self.title}: {exc}") from None

        return build

    def zarr_settings(self) -> dict:
        return {"scale": self.factor(), "weights": self.weights_name(), "device": self.device.value,
                "precision": self.precision.value, "tile": int(self.tile.value)}  # fmt: skip


class UnsharpWidget(_Base):
    title = "Unsharp mask"
    suffix = "unsharp"

    def parameter_widgets(self) -> list:
        self.radius = FloatSpinBox(label="radius", value=1.2, min=0, max=50, step=0.1)
        self.percent = SpinBox(label="percent", value=100, min=0, max=500)
        self.threshold = SpinBox(label="threshold", value=1, min=0, max=255)
        return [self.radius, self.percent, self.threshold]

    def make_processor(self):
        from ...core.filters import PostProcess

        post = PostProcess(
            sharpen=True, radius=self.radius.value, percent=self.percent.value, threshold=self.threshold.value
        )
        return lambda window: _filter_runner(post, window)


class AntialiasWidget(_Base):
    title = "MSAA anti-alias"
    suffix = "AA"

    def parameter_widgets(self) -> list:
        self.supersample = SpinBox(label="supersample", value=2, min=1, max=4)
        self.blur = FloatSpinBox(label="blur radius", value=0.5, min=0, max=5, step=0.05)
        return [self.supersample, self.blur]

    def make_processor(self):
        from ...core.filters import PostProcess

        post = PostProcess(antialias=True, supersample=self.supersample.value, blur_radius=self.blur.value)
        return lambda window: _filter_runner(post, window)


def _filter_runner(post, window):
    """(plane, progress) -> filtered plane: the same-size filters as an engine job (tile progress, Cancel
    inside the plane), on the layer's windowed values as before."""
    from ...engine.job import prepare
    from ...engine.options import UpscaleOptions

    job = prepare(UpscaleOptions(scale=1, post=post))

    def run(plane: np.ndarray, progress=None) -> np.ndarray:
        return from_model(job.run_array(to_model(plane, window), progress), plane.dtype, window)

    return run
