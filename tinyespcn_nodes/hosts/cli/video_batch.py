"""Video files one after another, with a frames/s + ETA progress bar per file, per-file errors and a clean
Ctrl-C (the file being written is dropped, the finished ones stay)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ...io.video import FramesFn, upscale_video
from ...io.video_codec import DEFAULT_OPTIONS, VideoError, VideoOptions
from .batch import BatchReport, each_file


def run_videos(
    plan: list[tuple[Path, Path]],
    upscale_frames: FramesFn,
    opts: VideoOptions = DEFAULT_OPTIONS,
    *,
    quiet: bool = False,
) -> BatchReport:
    from tqdm import tqdm

    def one_file(src: Path, target: Path):
        with tqdm(unit="frame", disable=quiet, file=sys.stderr, dynamic_ncols=True, desc=src.name) as bar:

            def on_frames(done: int, total: int) -> None:
                bar.total = max(total, done) or None
                bar.update(done - bar.n)

            res = upscale_video(src, target, upscale_frames, opts, on_frames)
            bar.total = res.frames  # the header's count can be an estimate (AVI counts frame slots)
            bar.refresh()
            return res

    report = BatchReport()
    t_start = time.perf_counter()
    errors = (VideoError, ValueError, TypeError, OSError)
    # skips=(): an output that appears while a video is written counts as failed, as a video always did
    for src, target, res in each_file(plan, report, one_file, errors, VideoError, skips=()):
        if not quiet:
            (w, h), (ow, oh) = res.size_in, res.size_out
            extra = f", copied {', '.join(res.copied)}" if res.copied else ""
            print(f"{src} → {target} ({res.frames} frames, {w}x{h} → {ow}x{oh}, {res.codec} {res.pix_fmt}{extra})")
    report.seconds = time.perf_counter() - t_start
    return report
