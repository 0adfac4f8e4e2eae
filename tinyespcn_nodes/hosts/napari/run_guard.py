"""The upscale/filter widgets' run plumbing that is not Qt layout: one run's inputs taken on the UI thread,
its intensity window computed in the worker, the measured speed, the size estimate, the probe and the
confirmation before a large in-memory result (the rules themselves: run_size)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .layers import plane_indices
from .run_size import PROBE_SIDE, RunSize, confirmation, run_size

# input pixels per second measured on this machine: (widget kind, parameter values) → rate
RATES: dict[tuple, float] = {}


class RunRefused(ValueError):
    """A user error found in the worker (intensity window, weights, tile): shown as its one line."""


def error_text(title: str, exc: BaseException) -> str:
    return str(exc) if isinstance(exc, RunRefused) else f"{title} failed: {exc}"


@dataclass
class Run:
    """One run's inputs, all taken on the UI thread before the worker starts (no pixel read)."""

    layer: object
    rgb: bool
    current: tuple | None
    window_rule: object  # an intensity mode for choose_window, or a fixed Window
    build: object  # window -> process(plane, progress)
    size: RunSize
    planes: list = field(init=False)

    def __post_init__(self) -> None:
        self.planes = plane_indices(self.layer.data.shape, self.rgb, self.current)


def run_window(layer, run: Run):
    """The layer's one intensity window (every plane shares it, so stacks do not flicker); in the worker."""
    from ...core.intensity import Window, choose_window

    if isinstance(run.window_rule, Window):
        return run.window_rule
    try:
        return choose_window(layer.data, run.window_rule, rgb=run.rgb)
    except (ValueError, TypeError) as exc:
        raise RunRefused(f"{layer.name}: {exc}") from None


class SizedRuns:
    """Mixed into the widgets' base: needs layer_box, current_only, estimate, status, run_btn,
    parameter_widgets_list, factor(), _idle(), _start_memory(run) and title."""

    def _ask(self, run: Run, limit: int) -> None:
        question = confirmation(run.size, self.rate(), limit)
        if question is None or self.confirm(question):
            self._start_memory(run)
        else:
            self.status.value = f"not started: {run.size.text(self.rate())}"

    def confirm(self, question: str) -> bool:
        """Ask the user (a modal Yes/No box); tests replace this."""
        from qtpy.QtWidgets import QMessageBox

        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        answer = QMessageBox.question(self.native, self.title, question, buttons, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _size(self, layer) -> RunSize:
        return run_size(layer.data.shape, layer.data.dtype, bool(layer.rgb), self.factor(), self.current_only.value)

    def rate_key(self) -> tuple:
        """What the speed depends on: the widget kind and its parameter values."""
        return (type(self).__name__, *(str(getattr(w, "value", "")) for w in self.parameter_widgets_list))

    def rate(self) -> float | None:
        """Input pixels per second measured for these settings (a probe or an earlier run), or None."""
        return RATES.get(self.rate_key())

    def _update_estimate(self, *_) -> None:
        layer = self.layer_box.value
        self.estimate.value = "" if layer is None else self._size(layer).text(self.rate())

    def _probe(self, run: Run, then) -> None:
        """Time the processor on a random PROBE_SIDE² plane in the background, store the rate, then `then()`."""
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        key, build, rgb = self.rate_key(), run.build, run.rgb

        def probe() -> float:
            plane = np.random.default_rng(0).random((PROBE_SIDE, PROBE_SIDE, *((3,) if rgb else ())), np.float32)
            process = build(None)
            process(plane, None)  # the first run loads and warms up
            t0 = time.perf_counter()
            process(plane, None)
            return PROBE_SIDE**2 / max(time.perf_counter() - t0, 1e-6)

        worker = thread_worker(probe)()
        self.worker = worker
        worker.returned.connect(lambda r: (RATES.__setitem__(key, r), self._idle(), self._update_estimate(), then()))
        worker.errored.connect(lambda exc: (self._idle(), show_error(error_text(self.title, exc))))
        self.run_btn.enabled = False
        self.status.value = "measuring the speed…"
        worker.start()
