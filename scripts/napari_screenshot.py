"""Regenerate docs/napari_screenshot.png: napari with the TinyESPCN widget docked on the x2 low-res sample.

Run under a display (`xvfb-run -a python scripts/napari_screenshot.py`). It opens the plugin's sample through
npe2 (as the File ▸ Open Sample menu does), docks the upscale widget, runs it with the bundled weights, waits
for the thread worker and saves a window screenshot.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's plugin code, not an older installed copy

import napari  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

OUT = REPO / "docs" / "napari_screenshot.png"


def main(out: Path = OUT) -> Path:
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 820)
    viewer.open_sample("tinyespcn-nodes", "portrait_lowres")
    src = viewer.layers[-1]
    dock, widget = viewer.window.add_plugin_dock_widget("tinyespcn-nodes", "TinyESPCN upscale")
    widget.layer_box.value = src
    widget.sharpen.value = True
    widget.start()
    app = QApplication.instance()
    while not widget.run_btn.enabled:  # re-enabled by a slot connected before the worker started
        app.processEvents()
        time.sleep(0.02)
    app.processEvents()
    src.visible = False  # show the result; the source stays in the layer list
    viewer.reset_view()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    viewer.screenshot(str(tmp), canvas_only=False, flash=False)
    tmp.replace(out)
    viewer.close()
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
