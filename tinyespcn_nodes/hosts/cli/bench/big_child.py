"""Bench child: one big TIFF through the CLI in a fresh process, its peak RSS, and probes of the written file
against untiled crops.

Run by `bench` as `python -m tinyespcn_nodes.hosts.cli.bench.big_child NAME LR_SIDE SRC.tif DST.tif`;
prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..allocator import retain_freed_memory

retain_freed_memory()  # as the CLI's own process does, before the engine allocates anything

import numpy as np  # noqa: E402
import tifffile  # noqa: E402

from ....core.tiling import context_margin  # noqa: E402
from ....engine.job import UpscaleOptions, load_models, prepare, upscale_array  # noqa: E402
from ....io.tiff import TiffRows, streamable  # noqa: E402
from ..main import main  # noqa: E402
from .rss import high_water  # noqa: E402

CROP = 40  # LR side of each probe


def write_input(src: str, size: int, step: int = 512) -> None:
    """A size² RGB TIFF written band by band: the input never sits in this process's memory whole."""
    rng = np.random.default_rng(0)

    def lr_rows():
        for y in range(0, size, step):
            rows = rng.integers(0, 256, (min(step, size - y), size, 3), dtype=np.uint8)
            rows[:, : size // 2] //= 2  # some structure: a darker half, so the probes are not all noise statistics
            yield rows

    tifffile.imwrite(src, lr_rows(), shape=(size, size, 3), dtype=np.uint8, photometric="rgb")


def probe(src: str, dst: str, models: list, size: int, scale: int) -> int:
    """Max |file − untiled crop with its context| in levels over three 40² LR crops (corner, centre, corner)."""
    with TiffRows(src) as lr, TiffRows(dst) as saved:
        ctx, worst = context_margin(models[0]) + 4, 0
        for y, x in ((0, 0), (size // 2 - 20, size // 2 - 20), (size - CROP, size - CROP)):
            y0, x0 = max(0, y - ctx), max(0, x - ctx)
            y1, x1 = min(size, y + CROP + ctx), min(size, x + CROP + ctx)
            ref = upscale_array(lr[y0:y1, x0:x1], models=models, tile=0)
            oy, ox = (y - y0) * scale, (x - x0) * scale
            want = ref[oy : oy + CROP * scale, ox : ox + CROP * scale].astype(int)
            got = saved[y * scale : (y + CROP) * scale, x * scale : (x + CROP) * scale].astype(int)
            worst = max(worst, int(np.abs(got - want).max()))
    return worst


def measure(name: str, size: int, src: str, dst: str) -> dict:
    scale = int(name.rsplit("-x", 1)[1])
    write_input(src, size)
    models = load_models(name, scale, "auto", "auto")
    banded = streamable(Path(src), Path(dst), prepare(UpscaleOptions(name, scale)))
    before = high_water()
    t0 = time.perf_counter()
    code = main(["upscale", src, "-o", dst, "--weights", name, "--scale", str(scale)])  # the CLI's defaults
    seconds = time.perf_counter() - t0
    peak = high_water()
    with TiffRows(dst) as saved:
        complete = code == 0 and saved.shape == (size * scale, size * scale, 3)
    return {"seconds": seconds, "peak_rss": peak, "rss_before": before, "banded": banded,
            "out_bytes": 3 * (size * scale) ** 2, "in_bytes": 3 * size**2, "complete": complete,
            "probe_max_levels": probe(src, dst, models, size, scale), "out_side": size * scale}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])))
