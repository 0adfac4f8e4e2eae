"""Animated GIF / PNG / WEBP and multi-page TIFF inputs (`io.frames`): every frame through the same job as a
still, written as one file of as many frames, one file at a time, with per-file errors and a clean Ctrl-C."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ...io.frames import Frames, open_frames, write_frames
from ...io.imagefiles import ImageFileError
from .batch import IMAGE_ERRORS, BatchReport, each_file

Plan = list[tuple[Path, Path]]


def split_frames(plan: Plan, max_pixels: int | None) -> tuple[Plan, Plan, dict[Path, Frames], int]:
    """(files of several frames, the rest, their frames, how many were refused): a file whose frames exceed
    the pixel limit is named on stderr and left out of both."""
    multi, rest, frames, refused = [], [], {}, 0
    for src, target in plan:
        try:
            found = open_frames(src, max_pixels)
        except ImageFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            refused += 1
            continue
        if found is None:
            rest.append((src, target))
        else:
            multi.append((src, target))
            frames[src] = found
    return multi, rest, frames, refused


def run_frames(
    plan: Plan,
    upscale: Callable[[np.ndarray], np.ndarray],
    frames: dict[Path, Frames],
    *,
    overwrite: bool = False,
    quality: int = 95,
    model: str = "",
) -> BatchReport:
    """`upscale(frame) -> frame` for every frame of every file in `plan`; `frames` from `split_frames`."""

    def one_file(src: Path, target: Path) -> list[tuple]:
        source, shapes = frames[src], []

        def upscaled() -> Iterator[np.ndarray]:
            for frame in source:
                out = upscale(frame)
                shapes.append((frame.shape, out.shape, out.dtype))
                yield out

        write_frames(target, upscaled(), source, overwrite=overwrite, quality=quality)
        return shapes

    report = BatchReport()
    for src, target, shapes in each_file(plan, report, one_file, IMAGE_ERRORS, ImageFileError):
        source = frames[src]
        (h, w, *_), (oh, ow, *_), dtype = shapes[0]
        what = f"{source.count} {'pages' if source.is_tiff else 'frames'}"
        print(f"{src} → {target} ({w}x{h} → {ow}x{oh}, {dtype}, {what}{', ' + model if model else ''})")
    return report
