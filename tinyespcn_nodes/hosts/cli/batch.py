"""Many files through one loaded model chain: the next image decodes and the previous one encodes while the
model runs, with at most one image ahead and one behind in memory, per-file errors, and a clean Ctrl-C.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ...io.imagefiles import ImageFileError, read_image_meta, write_image


@dataclass
class BatchReport:
    done: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # outputs that exist (no --overwrite)
    seconds: float = 0.0
    decode_seconds: float = 0.0
    encode_seconds: float = 0.0
    interrupted: bool = False

    def merge(self, other: BatchReport) -> None:
        """Count `other`'s files in this report (a later stage of the same run)."""
        self.done += other.done
        self.failed += other.failed
        self.skipped += other.skipped
        self.interrupted = self.interrupted or other.interrupted


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0


def run_batch(
    plan: list[tuple[Path, Path]],
    upscale,
    *,
    quiet: bool = False,
    png_level: int | None = None,
    quality: int | None = None,
    model: str = "",
    overwrite: bool = True,
    max_pixels: int | None = None,
) -> BatchReport:
    """`upscale(array, on_tile) -> array` for every (input, target) pair; errors are collected per file. The
    success line of each file names `model` when given. `overwrite=False`: a target that exists when its file
    is published is skipped, never replaced."""
    from tqdm import tqdm

    report = BatchReport()
    decode = partial(read_image_meta, max_pixels=max_pixels)
    t_start = time.perf_counter()
    bar = tqdm(total=len(plan), unit="img", disable=quiet, file=sys.stderr, dynamic_ncols=True)
    with (
        ThreadPoolExecutor(1, thread_name_prefix="decode") as readers,
        ThreadPoolExecutor(1, thread_name_prefix="encode") as writers,
    ):
        pending_read: Future | None = readers.submit(_timed, decode, plan[0][0]) if plan else None
        pending_write: tuple[Future, Path, Path, str] | None = None
        try:
            for i, (src, target) in enumerate(plan):
                read, pending_read = pending_read, None
                if i + 1 < len(plan):
                    pending_read = readers.submit(_timed, decode, plan[i + 1][0])
                try:
                    (img, meta), dt = read.result()
                    report.decode_seconds += dt
                    bar.set_postfix_str(src.name)

                    def on_tile(done: int, total: int, name=src.name) -> None:
                        bar.set_postfix_str(f"{name} tile {done}/{total}")

                    out = upscale(img, on_tile)
                except ImageFileError as exc:
                    _fail(report, src, str(exc), bar)
                    continue
                except (ValueError, TypeError) as exc:
                    _fail(report, src, f"{src}: {exc}", bar)
                    continue
                _finish_write(pending_write, report, bar, quiet)
                shape = f"{img.shape[1]}x{img.shape[0]} → {out.shape[1]}x{out.shape[0]}, {out.dtype}"
                shape += f", {model}" if model else ""
                extra = {"overwrite": overwrite} | ({} if png_level is None else {"png_level": png_level})
                extra |= {} if quality is None else {"quality": quality}
                job = writers.submit(_timed, write_image, target, out, meta=meta, **extra)
                pending_write = (job, src, target, shape)
                del img, out
            _finish_write(pending_write, report, bar, quiet)
            pending_write = None
        except KeyboardInterrupt:
            report.interrupted = True
            if pending_read is not None:
                pending_read.cancel()
            _finish_write(pending_write, report, bar, quiet)  # a started write completes; nothing is half-written
    bar.close()
    report.seconds = time.perf_counter() - t_start
    return report


def run_bands(plan: list[tuple[Path, Path]], upscale_file, *, quiet: bool = False, model: str = "") -> BatchReport:
    """Files too big for memory, one at a time: `upscale_file(src, target, on_band) -> (in shape, out shape,
    dtype)` streams each in bands (`big_tiff`), with a progress bar over its bands and a clean Ctrl-C."""
    from tqdm import tqdm

    def one_file(src: Path, target: Path):
        with tqdm(unit="band", disable=quiet, file=sys.stderr, dynamic_ncols=True, desc=src.name) as bar:

            def on_band(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return upscale_file(src, target, on_band)

    report = BatchReport()
    t_start = time.perf_counter()
    for src, target, (shape_in, shape_out, dtype) in each_file(plan, report, one_file, IMAGE_ERRORS, ImageFileError):
        if not quiet:
            by = f", {model}" if model else ""
            print(
                f"{src} → {target} ({shape_in[1]}x{shape_in[0]} → {shape_out[1]}x{shape_out[0]}, {dtype}{by}, in bands)"
            )
    report.seconds = time.perf_counter() - t_start
    return report


def _fail(report: BatchReport, src: Path, message: str, bar) -> None:
    report.failed.append((src, message))
    bar.write(f"error: {message}", file=sys.stderr)
    bar.update(1)


IMAGE_ERRORS = (ImageFileError, ValueError, TypeError, OSError)  # what fails one image file, not the batch


def each_file(
    plan: list[tuple[Path, Path]], report: BatchReport, work, errors: tuple, named: type, skips=(FileExistsError,)
):
    """`work(src, target)` for each file of `plan`, one at a time, yielding (src, target, result) for each that
    finished (counted done). An error in `skips` (an existing output) counts the file as skipped, one in
    `errors` as failed (named on stderr, `named` errors name their file already); Ctrl-C ends the batch."""
    for src, target in plan:
        try:
            result = work(src, target)
        except KeyboardInterrupt:
            report.interrupted = True
            return
        except skips:
            skip_existing(report, src, target)
            continue
        except errors as exc:
            record_failure(report, src, exc, named)
            continue
        report.done.append(target)
        yield src, target, result


def record_failure(report: BatchReport, src: Path, exc: Exception, named: type[Exception]) -> None:
    """A file that failed, on stderr and in the report; a `named` error already names its file."""
    message = str(exc) if isinstance(exc, named) else f"{src}: {exc}"  # always names the file
    report.failed.append((src, message))
    print(f"error: {message}", file=sys.stderr)


def skip_existing(report: BatchReport, src: Path, target: Path, bar=None) -> None:
    """An output that exists (no --overwrite): counted apart as skipped, on stderr (through the bar if any)."""
    message = f"skipped {src}: {target} exists (pass --overwrite to replace it)"
    report.skipped.append((src, message))
    (bar.write if bar is not None else print)(message, file=sys.stderr)


def _finish_write(pending, report: BatchReport, bar, quiet: bool = False) -> None:
    if pending is None:
        return
    future, src, target, shape = pending
    try:
        _, dt = future.result()
        report.encode_seconds += dt
        report.done.append(target)
        if not quiet:
            bar.write(f"{src} → {target} ({shape})", file=sys.stdout)
    except ImageFileError as exc:
        report.failed.append((src, str(exc)))
        bar.write(f"error: {exc}", file=sys.stderr)
    except FileExistsError:  # made by someone else while this file was computed: theirs is kept
        skip_existing(report, src, target, bar)
    except OSError as exc:
        report.failed.append((src, f"cannot write {target}: {exc.strerror or exc}"))
        bar.write(f"error: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
    bar.update(1)
