"""Many image files on a dask scheduler (`upscale FOLDER -o OUT --scheduler processes|tcp://...`).

One task per file: a worker reads, upscales (its models are loaded once per worker process by the
core's cache) and writes the file atomically; errors come back as text per file, never as a failed job.
The local default (`--scheduler threads`) stays `batch.run_batch`, which overlaps decode/encode with the
model in one process.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .batch import BatchReport


@dataclass(frozen=True)
class FileJob:
    """Everything a worker needs besides the file names (picklable)."""

    weights: str | None
    scale: int
    device: str = "auto"
    precision: str = "auto"
    tile: int = -1
    factor: float | None = None
    intensity: str = "auto"
    sharpen: bool = False
    antialias: bool = False
    png_level: int | None = None
    overwrite: bool = False  # never replace an existing target (FileExistsError: the file is skipped)
    max_pixels: int | None = None  # core.limits default


def upscale_file(src: str, target: str, job: FileJob) -> tuple[str, str | None]:
    """Runs on a worker: (target, None) when written, (src, message) when this file failed."""
    from ...engine.job import PostProcess, load_models, upscale_array
    from ...io.imagefiles import ImageFileError, read_image_meta, write_image

    try:
        img, meta = read_image_meta(Path(src), job.max_pixels)
        models = load_models(job.weights, job.scale, job.device, job.precision)
        post = PostProcess(sharpen=job.sharpen, antialias=job.antialias)
        out = upscale_array(img, models=models, tile=job.tile, post=post, factor=job.factor, intensity=job.intensity)
        extra = {} if job.png_level is None else {"png_level": job.png_level}
        write_image(Path(target), out, meta=meta, overwrite=job.overwrite, **extra)
        return target, None
    except FileExistsError:
        return src, f"skipped {src}: {target} exists (pass --overwrite to replace it)"
    except ImageFileError as exc:
        return src, str(exc)
    except OSError as exc:
        return src, f"cannot write {target}: {exc.strerror or exc}"
    except (ValueError, TypeError) as exc:
        return src, f"{src}: {exc}"


def run_on_scheduler(plan: list[tuple[Path, Path]], job: FileJob, scheduler: str, quiet: bool = False) -> BatchReport:
    """Every (input, target) pair as one task on `scheduler` (processes, or a dask.distributed address)."""
    import time

    from tqdm import tqdm

    report = BatchReport()
    t0 = time.perf_counter()
    pairs = [(str(s), str(t)) for s, t in plan]
    bar = tqdm(total=len(pairs), unit="img", disable=quiet, file=sys.stderr, dynamic_ncols=True)
    try:
        for name, error in _results(pairs, job, scheduler):
            if error is None:
                report.done.append(Path(name))
                if not quiet:
                    bar.write(f"→ {name}", file=sys.stdout)
            elif error.startswith("skipped "):
                report.skipped.append((Path(name), error))
                bar.write(error, file=sys.stderr)
            else:
                report.failed.append((Path(name), error))
                bar.write(f"error: {error}", file=sys.stderr)
            bar.update(1)
    except KeyboardInterrupt:  # workers write atomically: what is not done is simply absent
        report.interrupted = True
    bar.close()
    report.seconds = time.perf_counter() - t0
    return report


def _results(pairs: list[tuple[str, str]], job: FileJob, scheduler: str):
    if scheduler in ("processes", "sync"):
        import dask

        tasks = [dask.delayed(upscale_file, pure=False)(s, t, job) for s, t in pairs]
        yield from dask.compute(*tasks, scheduler=scheduler)
        return
    from ...io.zarr_job import connect

    with connect(scheduler) as client:
        from distributed import as_completed

        futures = [client.submit(upscale_file, s, t, job, pure=False) for s, t in pairs]
        for future in as_completed(futures):
            yield future.result()
