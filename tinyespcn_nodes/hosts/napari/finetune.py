"""napari dock widget "Fine-tune TinyESPCN": train the chosen weights further on the selected image layer.

The layer is written once to a TIFF (stacks: one training image per plane; 16-bit data through its
percentile window), the trainer runs in a generator `thread_worker` in short chunks of steps, so the
progress bar and the loss update live and Cancel stops within one chunk, saving the last checkpoint. The
new weights file appears in every open upscale widget's weights list.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, ProgressBar, PushButton, SpinBox

from .widgets import _image_layers, add_user_weights

CHUNKS = 50  # progress updates (and Cancel checks) per run, and at least every MAX_CHUNK steps
MAX_CHUNK = 20


class FineTuneWidget(Container):
    title = "Fine-tune TinyESPCN"

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        from ...core.catalog import bundled

        self.viewer = napari_viewer
        self.layer_box = ComboBox(label="image layer", choices=self._layer_choices)
        families = sorted({n.rsplit("-x", 1)[0] for n in bundled()}) or ["general"]
        self.weights = ComboBox(
            label="start from", choices=families, value="general" if "general" in families else families[0]
        )
        self.start_file = FileEdit(label="or this file", filter="*.safetensors", value="")
        self.scale_box = ComboBox(label="scale", choices=[2, 3, 4], value=2)
        self.degradation = ComboBox(label="degradation", choices=["microscopy", "bicubic"], value="microscopy")
        self.degradation.tooltip = "microscopy: PSF blur, camera binning, background, Poisson-Gaussian noise"
        self.steps = SpinBox(label="steps", value=2000, min=1, max=1_000_000, step=100)
        self.out_file = FileEdit(label="save as", mode="w", filter="*.safetensors",
                                 value=str(Path.home() / "tinyespcn-finetuned-x2.safetensors"))  # fmt: skip
        self.run_btn = PushButton(text="Fine-tune")
        self.cancel_btn = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(value=0, max=1, label="progress")
        self.status = Label(value="")
        self.extend([self.layer_box, self.weights, self.start_file, self.scale_box, self.degradation, self.steps,
                     self.out_file, self.run_btn, self.cancel_btn, self.progress, self.status])  # fmt: skip
        self.run_btn.changed.connect(self.start)
        self.cancel_btn.changed.connect(self.cancel)
        self.viewer.layers.events.inserted.connect(lambda e: self.layer_box.reset_choices())
        self.viewer.layers.events.removed.connect(lambda e: self.layer_box.reset_choices())
        self.worker = None

    def _layer_choices(self, _widget=None):
        return [(layer.name, layer) for layer in _image_layers(self.viewer)]

    def _start_weights(self) -> str:
        chosen = str(self.start_file.value or "")
        if chosen and chosen != "." and Path(chosen).is_file():
            return chosen
        return f"{self.weights.value}-x{self.scale_box.value}"

    def config(self, data_path: Path, run_dir: Path):
        """The trainer's config for this widget's choices (the same options `python -m trainer finetune` has)."""
        from trainer.config import FINETUNE_DEFAULTS, TrainConfig
        from trainer.models import adopt_init_architecture

        layer = self.layer_box.value
        side = min(layer.data.shape[-3:-1] if layer.rgb else layer.data.shape[-2:])
        scale = int(self.scale_box.value)
        patch = min(48, side // scale - 2)
        return adopt_init_architecture(TrainConfig().updated(FINETUNE_DEFAULTS).updated({
            "data": [str(data_path)], "dataset": "folder", "subset": None, "face_size": None, "scale": scale,
            "init": self._start_weights(), "degradation": self.degradation.value, "steps": int(self.steps.value),
            "patch": patch, "batch": 8, "warmup": min(100, int(self.steps.value) // 10), "val_sets": [],
            "run_dir": str(run_dir), "ckpt_every": max(1, int(self.steps.value) // 10), "log_every": 10**9,
            "workers": 1,
        }))  # fmt: skip

    def start(self, *_):
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        layer = self.layer_box.value
        if layer is None:
            show_error("Fine-tune: choose an image layer")
            return
        if getattr(layer, "multiscale", False):
            show_error(f"{layer.name}: multiscale layers are not supported; use the full-resolution level")
            return
        scale = int(self.scale_box.value)
        spatial = layer.data.shape[-3:-1] if layer.rgb else layer.data.shape[-2:]
        if min(spatial) < 16 * scale:
            show_error(f"{layer.name}: {spatial[0]}x{spatial[1]} is too small to fine-tune at x{scale} "
                       f"(at least {16 * scale} pixels per side)")  # fmt: skip
            return
        out = Path(str(self.out_file.value)).expanduser()
        if out.suffix != ".safetensors":
            show_error(f"save as {out}: the weights file must end in .safetensors")
            return
        scratch = Path(tempfile.mkdtemp(prefix="tinyespcn-finetune-"))
        data_path = scratch / "layer.tif"
        try:
            import tifffile

            tifffile.imwrite(data_path, np.asarray(layer.data))
            cfg = self.config(data_path, scratch / "run")
        except (ValueError, TypeError, OSError) as exc:
            show_error(f"Fine-tune: {exc}")
            return
        self.progress.value, self.progress.max = 0, cfg.steps

        def work():
            from trainer.loop import Trainer

            messages = []
            trainer = Trainer(cfg, log=messages.append)
            trainer.prepare()
            chunk = max(1, min(cfg.steps // CHUNKS, MAX_CHUNK))
            finished = False
            try:
                while trainer.step < cfg.steps:
                    last = (
                        trainer.fit(until=min(cfg.steps, trainer.step + chunk))
                        if trainer.step + chunk < cfg.steps
                        else trainer.fit()
                    )
                    yield trainer.step, last.get("loss")
                finished = True
            finally:
                if not finished:
                    trainer.checkpoint()  # Cancel: the run folder keeps the last step
            trainer.export(out)
            return out

        worker = thread_worker(work)()
        self.worker = worker
        worker.yielded.connect(self._tick)
        worker.returned.connect(self._done)
        worker.errored.connect(lambda exc: show_error(f"{self.title} failed: {exc}"))
        worker.aborted.connect(lambda: self.status.set_value(f"cancelled; last checkpoint in {cfg.run_path}"))
        worker.finished.connect(self._idle)
        self.run_btn.enabled, self.cancel_btn.enabled = False, True
        self.status.value = "preparing…"
        worker.start()

    def _tick(self, progress) -> None:
        step, loss = progress
        self.progress.value = min(step, self.progress.max)
        self.status.value = f"step {step}/{self.progress.max}" + (f", loss {loss:.4f}" if loss is not None else "")

    def _done(self, out: Path) -> None:
        add_user_weights(out.stem, str(out))
        self.status.value = f"wrote {out}; it is listed in the upscale widget"

    def cancel(self, *_):
        if self.worker is not None:
            self.worker.quit()

    def _idle(self):
        self.run_btn.enabled, self.cancel_btn.enabled = True, False
