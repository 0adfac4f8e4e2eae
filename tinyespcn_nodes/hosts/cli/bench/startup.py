"""Whole-process wall time of a small-image upscale, start-up included, next to OpenCV dnn_superres doing the
same in a process of its own; and how fast `--help` and `models` answer (they import no torch)."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from .child import REPO, child_argv


def _wall(argv: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system) of `repeat` fresh processes (the OS file cache is warm
    after the first). The CPU time holds on a busy machine, where the wall time also counts waiting."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, cwd=REPO)
        best = min(best, time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best_cpu = min(best_cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best, best_cpu


def _opencv(src: Path, dst: Path, pb: Path, scale: int, repeat: int) -> tuple[float, float] | str:
    """(wall, CPU) seconds, or why OpenCV's process could not upscale (absent contrib module or `.pb` file)."""
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
    (help_s, help_cpu), (models_s, models_cpu) = _wall([*cli, "--help"], repeat), _wall([*cli, "models"], repeat)
    row = {"side": f"{image.shape[1]}x{image.shape[0]}", "scale": scale, "repeat": repeat, "help_s": help_s,
           "help_cpu_s": help_cpu, "models_s": models_s, "models_cpu_s": models_cpu, "upscale_s": ours[0],
           "upscale_cpu_s": ours[1]}  # fmt: skip
    if isinstance(opencv, str):
        return {**row, "opencv_espcn_s": opencv}
    return {**row, "opencv_espcn_s": opencv[0], "opencv_espcn_cpu_s": opencv[1]}
