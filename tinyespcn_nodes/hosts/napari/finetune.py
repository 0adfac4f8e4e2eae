"""napari dock widget "Fine-tune TinyESPCN": train the chosen weights further on the selected image layer.

Sized for a laptop CPU: on opening (and when the weights or scale change) a few real training steps are
timed, and the steps are set so a default run trains for about 2.5 min with a preview layer every ~15 s
(`finetune_plan`); the estimate is shown before Run. The layer is written to a TIFF inside the worker
(stacks: one training image per plane), the trainer runs in short chunks of steps so progress, loss and
Cancel stay live, and every preview upscales the current plane with the weights so far. The temporary
folder is removed on success, Cancel and error. The new weights file appears in every open upscale widget
and can be exported as a bioimage.io package.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, ProgressBar, PushButton, SpinBox

from .finetune_plan import BATCH, PATCH, Plan, measure_costs, offered_pairs, plan_for
from .widgets import _image_layers, add_user_weights

MAX_CHUNK = 20  # steps between progress updates and Cancel checks (fewer when a preview is due sooner)
TIPS = {
    "layer_box": "The image layer to learn from (2D, or a stack: one training image per plane).",
    "weights": "The bundled weights to start from; only families with a file at some scale are listed.",
    "start_file": "Start from this .safetensors file instead (e.g. an earlier fine-tune); its scale is used.",
    "scale_box": "Upscaling factor; only the scales the chosen weights exist at are offered.",
    "degradation": "microscopy: PSF blur, camera binning, background, Poisson-Gaussian noise; bicubic: photos.",
    "steps": "Training steps; the default is sized from a measured step time to finish in about 3 min.",
    "out_file": "Where the fine-tuned weights are written (.safetensors); the name keeps the scale (-xN).",
    "run_btn": "Start the fine-tune (in the background; the viewer stays usable).",
    "cancel_btn": "Stop after the current chunk of steps; nothing is written and the temporary folder is removed.",
    "export_btn": "Write the last fine-tuned weights as a bioimage.io model package (.zip) next to them.",
    "estimate": "Measured on this machine with the chosen weights, patch and batch.",
    "progress": "Training steps done.",
    "status": "What the fine-tune is doing.",
}


class FineTuneWidget(Container):
    title = "Fine-tune TinyESPCN"

    def __init__(self, napari_viewer, measure: bool = True) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.pairs = offered_pairs() or {"general": [2, 3, 4]}
        families = sorted(self.pairs)
        self.layer_box = ComboBox(label="image layer", choices=self._layer_choices)
        self.weights = ComboBox(
            label="start from", choices=families, value="general" if "general" in families else families[0]
        )
        self.start_file = FileEdit(label="or this file", filter="*.safetensors", value="")
        self.scale_box = ComboBox(label="scale", choices=self._scale_choices)
        self.degradation = ComboBox(label="degradation", choices=["microscopy", "bicubic"], value="microscopy")
        self.steps = SpinBox(label="steps", value=100, min=1, max=1_000_000, step=10)
        self.out_file = FileEdit(label="save as", mode="w", filter="*.safetensors", value=self._default_out())
        self.estimate = Label(value="measuring the step time…")
        self.run_btn = PushButton(text="Fine-tune")
        self.cancel_btn = PushButton(text="Cancel", enabled=False)
        self.export_btn = PushButton(text="Export bioimage.io package", enabled=False)
        self.progress = ProgressBar(value=0, max=1, label="progress")
        self.status = Label(value="")
        for name, tip in TIPS.items():
            getattr(self, name).tooltip = tip
        self.extend([self.layer_box, self.weights, self.start_file, self.scale_box, self.degradation, self.steps,
                     self.out_file, self.estimate, self.run_btn, self.cancel_btn, self.progress, self.status,
                     self.export_btn])  # fmt: skip
        self.run_btn.changed.connect(self.start)
        self.cancel_btn.changed.connect(self.cancel)
        self.export_btn.changed.connect(self.export)
        self.weights.changed.connect(self._choice_changed)
        self.start_file.changed.connect(self._choice_changed)
        self.scale_box.changed.connect(self._choice_changed)
        self.viewer.layers.events.inserted.connect(lambda e: self.layer_box.reset_choices())
        self.viewer.layers.events.removed.connect(lambda e: self.layer_box.reset_choices())
        self.worker = self.measurer = self.scratch = None
        self.plan: Plan | None = None
        self.last_weights: Path | None = None
        self._auto_out = str(self.out_file.value)
        self._auto_steps = int(self.steps.value)
        self.steps.changed.connect(self._steps_changed)
        self.auto_measure = measure  # tests pass False and call measure() themselves
        if measure:
            self.measure()

    # ---- choices ---------------------------------------------------------------------------------
    def _layer_choices(self, _widget=None):
        return [(layer.name, layer) for layer in _image_layers(self.viewer)]

    def _file_choice(self) -> Path | None:
        chosen = str(self.start_file.value or "")
        return Path(chosen) if chosen and chosen != "." and Path(chosen).is_file() else None

    def _scale_choices(self, _widget=None) -> list[int]:
        file = self._file_choice() if hasattr(self, "start_file") else None
        if file is not None:
            from ...core.weights import offered_scales

            return list(offered_scales(file))
        return self.pairs.get(self.weights.value, [2])

    def _default_out(self) -> str:
        stem = self._file_choice().stem.rsplit("-x", 1)[0] if self._file_choice() else self.weights.value
        return str(Path.home() / f"{stem}-finetuned-x{self.scale_box.value}.safetensors")

    def _choice_changed(self, *_):
        self.scale_box.reset_choices()
        if str(self.out_file.value) == self._auto_out:  # the user has not typed a name of their own
            self._auto_out = self._default_out()
            self.out_file.value = self._auto_out
        if self.auto_measure:
            self.measure()

    def _start_weights(self) -> str:
        file = self._file_choice()
        return str(file) if file else f"{self.weights.value}-x{self.scale_box.value}"

    # ---- the step-time estimate -------------------------------------------------------------------
    def measure(self) -> None:
        """Time a few training steps in the background; then set the default steps and show the estimate."""
        from napari.qt.threading import thread_worker

        if self.measurer is not None:
            self.measurer.quit()
        try:
            cfg = self.config(Path("unused.tif"), Path(tempfile.gettempdir()), steps=1)
        except (ValueError, TypeError, OSError, FileNotFoundError) as exc:
            self.estimate.value = f"no estimate: {exc}"
            return
        self.estimate.value = "measuring the step time…"
        layer = self.layer_box.value
        plane = (layer.data.shape[-3:-1] if layer.rgb else layer.data.shape[-2:]) if layer is not None else (512, 512)
        worker = thread_worker(measure_costs)(cfg, int(plane[0]) * int(plane[1]))
        self.measurer = worker
        worker.returned.connect(lambda s, w=worker: self._measured(s) if w is self.measurer else None)
        worker.errored.connect(lambda exc: self.estimate.set_value(f"no estimate: {exc}"))
        worker.start()

    def _measured(self, costs: float | tuple[float, float]) -> None:
        """`costs`: (seconds per step, seconds per preview), or seconds per step alone."""
        step_seconds, preview_seconds = costs if isinstance(costs, tuple) else (costs, 0.0)
        self.plan = plan_for(step_seconds, preview_seconds=preview_seconds)
        if int(self.steps.value) == self._auto_steps:  # the user has not chosen a number of their own
            self._auto_steps = self.steps.value = self.plan.steps
        self.estimate.value = self.plan.text(int(self.steps.value))

    def _steps_changed(self, n: int) -> None:
        if self.plan is not None:
            self.estimate.value = self.plan.text(int(n))

    # ---- run -------------------------------------------------------------------------------------
    def config(self, data_path: Path, run_dir: Path, steps: int | None = None):
        """The trainer's config for this widget's choices (the same options `python -m trainer finetune` has)."""
        from trainer.api import finetune_config

        layer = self.layer_box.value
        scale = int(self.scale_box.value)
        patch = PATCH
        if layer is not None:
            side = min(layer.data.shape[-3:-1] if layer.rgb else layer.data.shape[-2:])
            patch = min(PATCH, side // scale - 2)
        steps = int(self.steps.value) if steps is None else steps
        return finetune_config({
            "data": [str(data_path)], "dataset": "folder", "subset": None, "face_size": None, "scale": scale,
            "init": self._start_weights(), "degradation": self.degradation.value, "steps": steps,
            "patch": patch, "batch": BATCH, "warmup": min(100, steps // 10), "val_sets": [],
            "run_dir": str(run_dir), "ckpt_every": 10**9, "log_every": 10**9, "workers": 1,
        })  # fmt: skip

    def _check(self, layer) -> str | None:
        """Why this run cannot start, or None."""
        if layer is None:
            return "Fine-tune: choose an image layer"
        if getattr(layer, "multiscale", False):
            return f"{layer.name}: multiscale layers are not supported; use the full-resolution level"
        scale = int(self.scale_box.value)
        spatial = layer.data.shape[-3:-1] if layer.rgb else layer.data.shape[-2:]
        if min(spatial) < 16 * scale:
            return (f"{layer.name}: {spatial[0]}x{spatial[1]} is too small to fine-tune at x{scale} "
                    f"(at least {16 * scale} pixels per side)")  # fmt: skip
        out = Path(str(self.out_file.value)).expanduser()
        if out.suffix != ".safetensors":
            return f"save as {out}: the weights file must end in .safetensors"
        named = re.search(r"-x(\d+)$", out.stem)
        if named and int(named.group(1)) != scale:
            return f"save as {out.name}: the name says x{named.group(1)} but the scale is x{scale}"
        return None

    def start(self, *_):
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        layer = self.layer_box.value
        problem = self._check(layer)
        if problem:
            show_error(problem)
            return
        out = Path(str(self.out_file.value)).expanduser()
        self.scratch = scratch = Path(tempfile.mkdtemp(prefix="tinyespcn-finetune-"))
        try:
            cfg = self.config(scratch / "layer.tif", scratch / "run")
        except (ValueError, TypeError, OSError) as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            show_error(f"Fine-tune: {exc}")
            return
        every = self.plan.preview_every if self.plan else max(1, cfg.steps // 10)
        current = tuple(self.viewer.dims.current_step)
        self.progress.value, self.progress.max = 0, cfg.steps
        work = _work(layer, cfg, scratch, out, every, current)
        worker = thread_worker(work)()
        self.worker = worker
        worker.yielded.connect(lambda item: self._tick(item, layer))
        worker.returned.connect(self._done)
        worker.errored.connect(lambda exc: show_error(f"{self.title} failed: {exc}"))
        worker.aborted.connect(lambda: self.status.set_value("cancelled; nothing written"))
        worker.finished.connect(self._idle)
        worker.finished.connect(lambda: shutil.rmtree(scratch, ignore_errors=True))  # Cancel never resumes the body
        self.run_btn.enabled, self.cancel_btn.enabled = False, True
        self.status.value = "preparing…"
        worker.start()

    def _tick(self, item, layer) -> None:
        kind, step, payload = item
        self.progress.value = min(step, self.progress.max)
        if kind == "preview":
            name = f"{layer.name} (fine-tune preview)"
            if name in self.viewer.layers:
                self.viewer.layers[name].data = payload
            else:
                plane_scale = tuple(layer.scale)[-2:]
                f = int(self.scale_box.value)
                self.viewer.add_image(payload, name=name, rgb=bool(layer.rgb),
                                      scale=tuple(s / f for s in plane_scale))  # fmt: skip
            self.status.value = f"step {step}/{self.progress.max}: preview updated"
        else:
            self.status.value = f"step {step}/{self.progress.max}" + (f", loss {payload:.4f}" if payload else "")

    def _done(self, out: Path) -> None:
        add_user_weights(out.stem, str(out))
        self.last_weights = out
        self.export_btn.enabled = True
        self.status.value = f"wrote {out}; it is listed in the upscale widget"

    def export(self, *_):
        """The last fine-tuned file as a bioimage.io package (`NAME.bioimageio.zip` beside it), in the background."""
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        from ...io.bioimageio_export import export_bioimageio

        if self.last_weights is None:
            return
        target = self.last_weights.with_name(f"{self.last_weights.stem}.bioimageio.zip")
        worker = thread_worker(export_bioimageio)(self.last_weights, target)
        worker.returned.connect(lambda res: self.status.set_value(f"wrote {res['path']} (bioimage.io test passed)"))
        worker.errored.connect(lambda exc: show_error(f"bioimage.io export: {exc}"))
        worker.finished.connect(lambda: setattr(self.export_btn, "enabled", True))
        self.export_btn.enabled = False
        self.status.value = f"exporting {target.name}…"
        self.exporter = worker
        worker.start()

    def cancel(self, *_):
        if self.worker is not None:
            self.worker.quit()

    def _idle(self):
        self.run_btn.enabled, self.cancel_btn.enabled = True, False


def _preview_plane(data, rgb: bool, current: tuple) -> np.ndarray:
    """The plane the viewer shows (its leading indices from the dims' current step)."""
    lead = data.ndim - (3 if rgb else 2)
    return np.asarray(data[tuple(current[:lead])])


def _work(layer, cfg, scratch: Path, out: Path, every: int, current: tuple):
    """The worker generator: write the layer, train in chunks (yielding progress and previews), export."""
    data, rgb = layer.data, bool(layer.rgb)

    def work():
        import tifffile

        from trainer.api import finetune_with_previews

        from ...engine.job import prepare
        from ...engine.options import UpscaleOptions

        try:
            tifffile.imwrite(scratch / "layer.tif", np.asarray(data))
            plane = _preview_plane(data, rgb, current)
            runs = finetune_with_previews(cfg, out, every, MAX_CHUNK, scratch / "preview.safetensors")
            for kind, step, value in runs:
                if kind == "step":
                    yield "step", step, value
                else:
                    options = UpscaleOptions(str(value), cfg.scale, tile=0, device="cpu", precision="fp32")
                    yield "preview", step, prepare(options).run_array(plane)
            return out
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return work
