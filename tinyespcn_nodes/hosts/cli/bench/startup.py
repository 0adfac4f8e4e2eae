"""Whole-process wall time of a small-image upscale, start-up included, next to OpenCV dnn_superres doing the
same in a process of its own; and how fast `--help` and `models` answer (they import no torch)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from .child import REPO, child_argv


def _wall(argv: list[str], repeat: int) -> float:
    """Best wall time of `repeat` fresh processes (the OS file cache is warm after the first)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, cwd=REPO)
        best = min(best, time.perf_counter() - t0)
    return best


def _opencv(src: Path, dst: Path, pb: Path, scale: int, repeat: int) -> float | str:
    """Seconds, or why OpenCV's process could not upscale (absent contrib module or `.pb` file)."""
    import json

    argv = child_argv("opencv_child", str(src), str(dst), str(pb), "espcn", str(scale))
    res = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=REPO)
    answer = json.loads(res.stdout.strip().splitlines()[-1])
    return answer["skipped"] if "skipped" in answer else _wall(argv, repeat)


def startup_rows(image, pb_dir: Path, scale: int = 2, repeat: int = 3) -> dict:
    """`image` (HxWx3 uint8) as a PNG through `python -m tinyespcn_nodes upscale` (the CLI's defaults) and
    through OpenCV's ESPCN xN in a process of its own, PNG in and out both; `--help` and `models` alone."""
    cli = [sys.executable, "-m", "tinyespcn_nodes"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "small.png"
        Image.fromarray(image).save(src)
        ours = _wall([*cli, "upscale", str(src), "-o", str(Path(tmp) / "ours.png"), "--scale", str(scale)], repeat)
        opencv = _opencv(src, Path(tmp) / "opencv.png", pb_dir / f"ESPCN_x{scale}.pb", scale, repeat)
    return {
        "side": f"{image.shape[1]}x{image.shape[0]}", "scale": scale, "repeat": repeat,
        "help_s": _wall([*cli, "--help"], repeat), "models_s": _wall([*cli, "models"], repeat),
        "upscale_s": ours, "opencv_espcn_s": opencv,
    }  # fmt: skip
