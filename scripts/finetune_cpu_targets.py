"""Time the napari fine-tune widget at its defaults on a 512² layer: the CPU targets of the widget.

    xvfb-run -a python scripts/finetune_cpu_targets.py [--size 512] [--weights general]

Opens a napari viewer (not shown) with a synthetic 512x512 16-bit fluorescence plane, docks the real
FineTuneWidget, lets it measure the step time and size the run (finetune_plan), clicks Fine-tune and
records, from the click: seconds to the first preview layer and to the finished weights file. The targets
are a first preview within ~30 s and the end within ~3 min on 2 cores. Torch uses the threads it is given
(OMP_NUM_THREADS); say how loaded the machine was when quoting the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's plugin code, not an older installed copy
sys.path.insert(0, str(REPO / "scripts"))

FIRST_PREVIEW_TARGET_S, FINISH_TARGET_S = 30.0, 180.0


def wait_for(app, done, timeout: float) -> float:
    """Process Qt events until done() is true; the seconds it took (raises on timeout)."""
    t0 = time.perf_counter()
    while not done():
        app.processEvents()
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"not done within {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="side of the square layer (default 512)")
    ap.add_argument("--weights", default="general", help="family the widget starts from (default general)")
    args = ap.parse_args(argv)

    import napari
    import torch
    from microscopy_finetune import synthetic_stack
    from qtpy.QtWidgets import QApplication

    import tinyespcn_nodes.engine.job as engine_job
    from tinyespcn_nodes.hosts.napari.finetune import FineTuneWidget

    preview_s: list[float] = []
    real_upscale = engine_job.upscale_array

    def timed_upscale(*a, **k):  # the widget's previews: how much of the run they take
        t = time.perf_counter()
        out = real_upscale(*a, **k)
        preview_s.append(time.perf_counter() - t)
        return out

    engine_job.upscale_array = timed_upscale
    plane = synthetic_stack(planes=1, size=args.size)[0]
    viewer = napari.Viewer(show=False)
    app = QApplication.instance()
    layer = viewer.add_image(plane, name="cells")
    widget = FineTuneWidget(viewer, measure=False)
    widget.weights.value = args.weights
    with tempfile.TemporaryDirectory() as tmp:
        widget.out_file.value = Path(tmp) / f"{args.weights}-finetuned-x{widget.scale_box.value}.safetensors"
        widget.measure()  # what opening the widget does: time a few real steps, set the default steps
        measure_s = wait_for(app, lambda: widget.plan is not None, 300)
        plan = widget.plan
        preview = f"{layer.name} (fine-tune preview)"
        widget.start()
        t0 = time.perf_counter()
        first_s = wait_for(app, lambda: preview in viewer.layers, 600)
        wait_for(app, lambda: widget.run_btn.enabled, 1200)
        finish_s = time.perf_counter() - t0
        written = Path(str(widget.out_file.value)).is_file()
    viewer.close()
    print(f"layer {args.size}x{args.size} uint16, start {args.weights}-x{widget.scale_box.value}, "
          f"torch threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"estimate shown after    {measure_s:6.1f} s: {widget.estimate.value}")
    print(f"default run             {plan.steps} steps, patch/batch from finetune_plan, preview every "
          f"{plan.preview_every} steps")  # fmt: skip
    print(f"first preview layer     {first_s:6.1f} s after the click (target ~{FIRST_PREVIEW_TARGET_S:.0f} s)")
    print(f"finished, weights saved {finish_s:6.1f} s after the click (target ~{FINISH_TARGET_S:.0f} s)")
    train_s = finish_s - sum(preview_s)
    print(f"previews                {len(preview_s)} x {sum(preview_s) / max(len(preview_s), 1):.1f} s = "
          f"{sum(preview_s):.1f} s; the rest {train_s:.1f} s = {train_s / plan.steps:.2f} s/step "
          f"(measured before Run: {plan.step_seconds:.2f})")  # fmt: skip
    print(f"status: {widget.status.value}")
    ok = written and first_s <= FIRST_PREVIEW_TARGET_S and finish_s <= FINISH_TARGET_S
    print("targets met" if ok else "targets NOT met")
    return 0 if written else 1


if __name__ == "__main__":
    raise SystemExit(main())
