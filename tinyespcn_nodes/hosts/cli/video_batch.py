"""Video files one after another, with a frames/s + ETA progress bar per file, per-file errors and a clean
Ctrl-C (the file being written is dropped, the finished ones stay)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ...io.video import FramesFn, upscale_video
from ...io.video_codec import DEFAULT_OPTIONS, VideoError, VideoOptions
from .batch import BatchReport, record_failure


def run_videos(
    plan: list[tuple[Path, Path]],
    upscale_frames: FramesFn,
    opts: VideoOptions = DEFAULT_OPTIONS,
    *,
    quiet: bool = False,
) -> BatchReport:
    from tqdm import tqdm

    report = BatchReport()
    t_start = time.perf_counter()
    for src, target in plan:
        try:
            with tqdm(unit="frame", disable=quiet, file=sys.stderr, dynamic_ncols=True, desc=src.name) as bar:

                def on_frames(done: int, total: int, bar=bar) -> None:
                    bar.total = max(total, done) or None
                    bar.update(done - bar.n)

                res = upscale_video(src, target, upscale_frames, opts, on_frames)
                bar.total = res.frames  # the header's count can be an estimate (AVI counts frame slots)
                bar.refresh()
        except KeyboardInterrupt:
            report.interrupted = True
            break
        except (VideoError, ValueError, TypeError, OSError) as exc:
            record_failure(report, src, exc, VideoError)
            continue
        report.done.append(target)
        if not quiet:
            (w, h), (ow, oh) = res.size_in, res.size_out
            extra = f", copied {', '.join(res.copied)}" if res.copied else ""
            print(f"{src} → {target} ({res.frames} frames, {w}x{h} → {ow}x{oh}, {res.codec} {res.pix_fmt}{extra})")
    report.seconds = time.perf_counter() - t_start
    return report
