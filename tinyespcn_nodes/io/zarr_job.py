"""`upscale IN.zarr -o OUT.zarr`: a zarr array or OME-Zarr image upscaled chunk by chunk on a dask scheduler.

Resumable: each output chunk is written by its own task, which then drops a completion marker in
`OUT.zarr.progress/`; a re-run with the same arguments skips marked chunks (a chunk half-written when
the run died has no marker and is written again). The job's fingerprint is stored in the output's
attributes, so a re-run with other arguments is refused instead of mixing two results. When every chunk
is done the markers are removed and the output is marked complete.

OME-Zarr (NGFF 0.4 `multiscales` attributes or 0.5 `ome.multiscales`): `--level` picks the input level;
the output is a new multiscale image whose level 0 is the result, with Y/X pixel sizes divided by the
scale and translations moved to the new pixel centres. Channels and Z/T planes are upscaled as
grayscale planes; plain arrays whose last axis has 3 or 4 entries are RGB(A).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.pixels import upscaled_geometry
from .store_guard import replace_refusal

if TYPE_CHECKING:
    from ..engine.options import UpscaleOptions

PROGRESS_SUFFIX = ".progress"
JOB_KEY = "tinyespcn_job"


class ZarrJobError(ValueError):
    """Bad input or a conflicting output: the message names the path and the cause."""


@dataclass(frozen=True)
class ZarrOutput:
    """Where a job's result goes: `job` identifies the job for resuming (with shapes, scale and weights);
    `ms`/`transforms`: the source's OME-Zarr multiscale entry and dataset transforms (None: a plain array)."""

    path: Path
    job: dict
    ms: dict | None = None
    transforms: list | None = None
    overwrite: bool = False


@dataclass
class JobReport:
    output: Path
    chunks: int
    written: int
    skipped: int
    interrupted: bool = False


def is_zarr(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.suffix.lower() == ".zarr" or (
        p.is_dir() and any((p / m).exists() for m in ("zarr.json", ".zarray", ".zgroup"))
    )


def _require_zarr():
    try:
        import dask.array  # noqa: F401
        import zarr
    except ImportError as exc:
        raise ZarrJobError(
            f"zarr input needs the dask extra: pip install 'tinyespcn-nodes[dask]' ({exc.name} missing)"
        ) from None
    return zarr


def _multiscales(attrs: dict) -> dict | None:
    if "multiscales" in attrs:
        return attrs["multiscales"][0]
    ome = attrs.get("ome")
    if isinstance(ome, dict) and "multiscales" in ome:
        return ome["multiscales"][0]
    return None


def open_source(path: Path, level: int = 0):
    """(zarr array, its multiscale entry or None, the dataset's transforms or None)."""
    zarr = _require_zarr()
    if not path.exists():
        raise ZarrJobError(f"{path}: not found")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises several kinds for "not a zarr store"
        raise ZarrJobError(f"{path}: not a readable zarr store ({exc})") from None
    if isinstance(node, zarr.Array):
        return node, None, None
    ms = _multiscales(dict(node.attrs))
    if ms is None:
        raise ZarrJobError(f"{path}: a zarr group without OME-Zarr multiscales metadata; give the array's path")
    datasets = ms["datasets"]
    if not 0 <= level < len(datasets):
        raise ZarrJobError(f"{path}: --level {level} does not exist (levels 0-{len(datasets) - 1})")
    return node[datasets[level]["path"]], ms, datasets[level].get("coordinateTransformations")


def _fingerprint(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _out_transforms(transforms: list | None, ndim: int, scale: int) -> list:
    scale_t = next((t["scale"] for t in transforms or [] if t.get("type") == "scale"), [1.0] * ndim)
    trans_t = next((t["translation"] for t in transforms or [] if t.get("type") == "translation"), [0.0] * ndim)
    new_scale, new_trans = upscaled_geometry(scale_t, trans_t, ndim, scale)
    return [{"type": "scale", "scale": list(new_scale)}, {"type": "translation", "translation": list(new_trans)}]


def _prepare_output(zarr, out: ZarrOutput, src_arr, out_shape, out_chunks, scale: int, fingerprint: str) -> bool:
    """Create the output store, or keep one of the same job for resuming; True when that job is complete."""
    dst, ms, overwrite = out.path, out.ms, out.overwrite
    if dst.exists():
        try:
            attrs = dict(zarr.open(str(dst), mode="r").attrs)
        except Exception:
            attrs = {}
        job = attrs.get(JOB_KEY, {})
        if job.get("fingerprint") == fingerprint and not overwrite:
            return bool(job.get("complete"))
        if not overwrite:
            why = "holds another job's result" if job else "exists"
            raise ZarrJobError(f"{dst}: {why}; pass --overwrite to replace it")
        refusal = replace_refusal(dst, out.job.get("src"), JOB_KEY)
        if refusal is not None:
            raise ZarrJobError(f"{dst}: {refusal}; --overwrite replaces only a zarr store this program wrote")
    job = {"fingerprint": fingerprint, "complete": False}
    if ms is None:
        array = zarr.create_array(str(dst), shape=out_shape, chunks=out_chunks, dtype=src_arr.dtype, fill_value=0,
                                  overwrite=True)  # fmt: skip
        array.attrs[JOB_KEY] = job
        return False
    group = zarr.open_group(str(dst), mode="w")
    group.create_array("0", shape=out_shape, chunks=out_chunks, dtype=src_arr.dtype, fill_value=0)
    entry = {
        "version": ms.get("version", "0.4"),
        "name": ms.get("name", dst.stem),
        "axes": ms.get("axes"),
        "datasets": [
            {"path": "0", "coordinateTransformations": _out_transforms(out.transforms, len(out_shape), scale)}
        ],
        "metadata": {"method": "tinyespcn-nodes upscale"},
    }
    group.attrs.update({"multiscales": [entry], JOB_KEY: job})
    return False


def _marker(progress: Path, index: tuple[int, ...]) -> Path:
    return progress / ".".join(map(str, index))


def write_chunk(block: np.ndarray, array_path: str, region: tuple[tuple[int, int], ...], marker: str) -> int:
    """Runs on a worker: write one output chunk, then (only then) its completion marker, atomically."""
    import zarr

    out = zarr.open_array(array_path, mode="r+")
    out[tuple(slice(a, b) for a, b in region)] = block
    tmp = f"{marker}.tmp{os.getpid()}"
    Path(tmp).write_bytes(b"")
    os.replace(tmp, marker)
    return 1


def upscale_zarr(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    options: UpscaleOptions | int = 2,
    weights: str | None = None,
    *,
    level: int = 0,
    scheduler: str = "threads",
    overwrite: bool = False,
    progress: bool = True,
) -> JobReport:
    """The whole job; `scheduler` is threads, processes, or a dask.distributed scheduler address. `options` may
    be a bare scale, with `weights` (`upscale_zarr(src, dst, 2, weights)`: every other option at its default)."""
    import dask.array as da

    from ..engine.options import UpscaleOptions

    if not isinstance(options, UpscaleOptions):
        options = UpscaleOptions(weights, options)

    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise ZarrJobError(f"{dst}: would overwrite the input; choose another -o")
    arr, ms, transforms = open_source(src, level)
    rgb = ms is None and arr.ndim >= 3 and arr.shape[-1] in (3, 4)
    settings = {"src": str(src.resolve()), "level": level, "precision": options.precision,
                "intensity": options.intensity}  # fmt: skip
    out = ZarrOutput(dst, settings, ms, transforms, overwrite)
    return write_upscaled(da.from_zarr(arr), out, options, rgb=rgb, scheduler=scheduler, progress=progress)


def write_upscaled(
    lazy,
    out: ZarrOutput,
    options: UpscaleOptions,
    *,
    rgb: bool,
    scheduler: str = "threads",
    progress: bool = True,
    on_chunk=None,
    should_stop=None,
) -> JobReport:
    """A dask array upscaled into the zarr store `out.path`, resumably. `out.job` (plus shapes, scale and
    weights) identifies the job for resuming. With `on_chunk(done, total)` the chunks run one after another in
    this process (a GUI's progress and Cancel: `should_stop()` is checked between chunks; finished ones stay)."""
    import dask

    from ..engine.job import upscale_dask

    zarr = _require_zarr()
    dst, ms, scale = Path(out.path), out.ms, options.scale
    out = replace(out, path=dst)
    up = upscale_dask(lazy, options, rgb=rgb)
    out_chunks = tuple(c[0] for c in up.chunks)
    settings = {**out.job, "scale": scale, "weights": str(options.weights), "shape": lazy.shape,
                "chunks": lazy.chunks}  # fmt: skip
    complete = _prepare_output(zarr, out, lazy, up.shape, out_chunks, scale, _fingerprint(settings))
    total = int(np.prod(up.numblocks))
    if complete:
        return JobReport(dst, total, 0, total)
    progress_dir = dst.with_name(dst.name + PROGRESS_SUFFIX)
    progress_dir.mkdir(exist_ok=True)
    array_path = str(dst / "0") if ms is not None else str(dst)
    starts = [np.cumsum((0, *c)) for c in up.chunks]
    blocks = up.to_delayed()
    tasks = []
    for index in np.ndindex(*up.numblocks):
        marker = _marker(progress_dir, index)
        if marker.exists():
            continue
        region = tuple((int(starts[ax][i]), int(starts[ax][i + 1])) for ax, i in enumerate(index))
        tasks.append(dask.delayed(write_chunk, pure=False)(blocks[index], array_path, region, str(marker)))
    skipped = total - len(tasks)
    if on_chunk is None:
        _compute(tasks, scheduler, progress)
    else:
        for i, task in enumerate(tasks):
            if should_stop is not None and should_stop():
                return JobReport(dst, total, i, skipped, interrupted=True)
            task.compute(scheduler="sync")
            on_chunk(skipped + i + 1, total)
    group = zarr.open(str(dst), mode="r+")
    group.attrs[JOB_KEY] = {**dict(group.attrs)[JOB_KEY], "complete": True}
    for f in progress_dir.iterdir():
        f.unlink()
    progress_dir.rmdir()
    return JobReport(dst, total, len(tasks), skipped)


def _compute(tasks: list, scheduler: str, progress: bool) -> None:
    import dask

    if not tasks:
        return
    if scheduler in ("threads", "processes", "sync"):
        if progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar():
                dask.compute(*tasks, scheduler=scheduler)
        else:
            dask.compute(*tasks, scheduler=scheduler)
        return
    from distributed import as_completed

    with connect(scheduler) as client:
        futures = client.compute(tasks)
        done = as_completed(futures)
        if progress:
            from tqdm import tqdm

            done = tqdm(done, total=len(futures), unit="chunk")
        for future in done:
            future.result()  # raises the task's error, after the scheduler's own retries


def connect(address: str):
    """A dask.distributed client of the scheduler at `address`, or a clear error naming it."""
    try:
        from distributed import Client
    except ImportError:
        raise ZarrJobError("--scheduler ADDRESS needs dask.distributed: pip install 'tinyespcn-nodes[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ZarrJobError(f"--scheduler {address}: no dask scheduler answers there ({exc})") from None
