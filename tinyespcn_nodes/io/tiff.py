"""Big TIFF in, big TIFF out, in bands: memory stays one band's, whatever the image size.

`TiffRows` reads rows of a single-image TIFF on demand: uncompressed contiguous files (what most writers
produce, Pillow and tifffile included) by plain file reads at computed offsets, everything else (compressed,
tiled) through tifffile's zarr store when the `dask` extra is installed. Never a memory map: mapped pages
count as the process's memory until the kernel drops them. The output is written as an uncompressed TIFF
block by block in place while the bands come (`engine.bands`; a very wide band in column blocks), into a
temp file renamed only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.files import atomic_path
from ..core.limits import pixel_limit_reason
from ..core.progress import Progress
from ..engine.bands import check_bandable, upscale_blocks
from ..engine.job import UpscaleJob
from .imagefiles import ImageFileError, tiff_icc

STREAM_ABOVE_BYTES = 64 * 2**20  # outputs larger than this stream (smaller ones take the in-memory path)
_LAYOUTS = {"YX", "YXS", "SYX"}
_DTYPES = (np.uint8, np.uint16, np.float32)
_SAMPLE_BLOCK = 256  # rows read at once when a strided row sample is asked for
_SAMPLE_BYTES = 16 * 2**20  # ... at most this many bytes: a very wide image reads its picked rows one by one


class TiffRows:
    """A lazy (H, W) or (H, W, C) view of a TIFF's first image: `rows[y0:y1]`, `rows[::k, ::k]`, crops."""

    def __init__(self, path: str | os.PathLike) -> None:
        import tifffile

        self.path = Path(path)
        try:
            self._tif = tifffile.TiffFile(self.path)
            series = self._tif.series[0]
        except Exception as exc:
            raise ImageFileError(self.path, f"cannot read TIFF ({exc})") from None
        self.axes, stored = series.axes, tuple(series.shape)
        self.dtype = np.dtype(series.dtype).newbyteorder("=")
        self._planar = self.axes == "SYX"
        self.shape = (*stored[1:], stored[0]) if self._planar else stored
        self._offset = series.dataoffset if series.keyframe.compression == 1 else None
        self._zarr = None
        self._disk_dtype = np.dtype(series.dtype).newbyteorder(self._tif.byteorder)
        self._row_items = int(np.prod(stored[-1:] if self._planar else stored[1:]))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def close(self) -> None:
        self._tif.close()

    def __enter__(self) -> TiffRows:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reason_not_streamable(self) -> str | None:
        if self.axes not in _LAYOUTS or (self.ndim == 3 and self.shape[2] not in (3, 4)):
            return f"layout {self.axes} {self.shape} (bands read one 2-D image, gray or RGB(A))"
        if self.dtype.type not in _DTYPES:
            return f"dtype {self.dtype}"
        if self._offset is None and self._open_zarr() is None:
            return "compressed or tiled TIFF without the dask extra (pip install 'tinyespcn-nodes[dask]')"
        return None

    def _open_zarr(self):
        if self._zarr is None:
            try:
                import zarr
            except ImportError:
                return None
            self._zarr = zarr.open(self._tif.series[0].aszarr(), mode="r")
        return self._zarr

    def _rows(self, y0: int, y1: int, x0: int = 0, x1: int | None = None) -> np.ndarray:
        """Rows [y0, y1), columns [x0, x1), in (rows, cols[, C]) order, native byte order: only those bytes read."""
        x1 = self.shape[1] if x1 is None else x1
        if self._offset is None:
            z = self._open_zarr()
            block = np.asarray(z[:, y0:y1, x0:x1] if self._planar else z[y0:y1, x0:x1])
        else:
            block = self._read_contiguous(y0, y1, x0, x1)
        if self._planar:
            block = np.moveaxis(block, 0, -1)
        return np.ascontiguousarray(block, dtype=self.dtype)

    def _read_contiguous(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        (h, w), n, item = self.shape[:2], max(0, y1 - y0), self._disk_dtype.itemsize
        planes = self.shape[2] if self._planar else 1
        per_pixel, width = self._row_items // w, max(0, x1 - x0)  # samples of one pixel in a stored row
        out = np.empty((planes, n, width * per_pixel), self._disk_dtype)
        whole = width == w  # full rows: one read per plane
        with open(self.path, "rb") as f:
            for p in range(planes):
                for r in [0] if whole else range(n):
                    f.seek(self._offset + ((p * h + y0 + r) * w + x0) * per_pixel * item)
                    target = out[p] if whole else out[p, r]
                    if target.nbytes and f.readinto(memoryview(target).cast("B")) != target.nbytes:
                        raise ImageFileError(self.path, "TIFF is truncated (its pixel data ends early)")
        return out.reshape((planes, n, width) if self._planar else (n, width, *self.shape[2:]))

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows, rest = key[0], key[1:]
        if not isinstance(rows, slice):
            raise TypeError("TiffRows takes slices")
        x0, x1 = 0, self.shape[1]
        if rest and isinstance(rest[0], slice):  # read only the columns asked for
            x0, stop, x_step = rest[0].indices(self.shape[1])
            x1, rest = max(x0, stop), (slice(None, None, x_step), *rest[1:])
        start, stop, step = rows.indices(self.shape[0])
        if step == 1:
            return self._rows(start, max(start, stop), x0, x1)[(slice(None), *rest)]
        if stop <= start:
            return self._rows(0, 0, x0, x1)[(slice(None), *rest)]
        row_bytes = max(1, (x1 - x0) * self._row_items // self.shape[1] * self._disk_dtype.itemsize)
        fit = max(1, _SAMPLE_BYTES // row_bytes)  # rows one read may hold
        if step > fit:  # rows far apart: read each picked row alone
            picked = [self._rows(y, y + 1, x0, x1)[(slice(None), *rest)] for y in range(start, stop, step)]
            return np.concatenate(picked)
        block = step * max(1, min(_SAMPLE_BLOCK, fit) // step)  # whole steps per read: rows stay on the grid
        picked = [
            self._rows(y, min(stop, y + block), x0, x1)[::step][(slice(None), *rest)] for y in range(start, stop, block)
        ]
        return np.concatenate(picked)


def streamable(src: Path, target: Path, job: UpscaleJob) -> bool:
    """Whether this file goes through bands: a TIFF to a TIFF, integer scale, tiled, big output, layout and
    models that bands reproduce exactly (else the ordinary in-memory path runs)."""
    models = job.models
    if job.options.factor or job.options.tile == 0 or {src.suffix.lower(), target.suffix.lower()} - {".tif", ".tiff"}:
        return False
    try:
        with TiffRows(src) as rows:
            if rows.reason_not_streamable() is not None:
                return False
            scale = int(np.prod([m.scale for m in models]))
            out_bytes = rows.dtype.itemsize * int(np.prod(rows.shape)) * scale * scale
            check_bandable(models, *rows.shape[:2])
    except (ImageFileError, ValueError):
        return False
    return out_bytes > STREAM_ABOVE_BYTES


def upscale_tiff(
    src: str | os.PathLike,
    target: str | os.PathLike,
    job: UpscaleJob,
    progress: Progress | None = None,
    rows: int | None = None,
    overwrite: bool = True,
    max_pixels: int | None = None,
) -> tuple[tuple[int, ...], tuple[int, ...], np.dtype]:
    """`src` upscaled block by block by `job` into the TIFF `target` (atomically; with `overwrite=False` an
    existing target is never replaced: FileExistsError); returns (in shape, out shape, dtype). The size its
    header claims is checked first (`max_pixels`, default `core.limits`). `progress` counts blocks (and its
    stop is checked inside them)."""
    with TiffRows(src) as source:
        reason = source.reason_not_streamable()
        if reason is not None:
            raise ImageFileError(src, f"cannot be read in bands: {reason}")
        reason = pixel_limit_reason(source.shape[1], source.shape[0], 1, max_pixels)
        if reason is not None:
            raise ImageFileError(src, reason)
        shape = (source.shape[0] * job.scale, source.shape[1] * job.scale, *source.shape[2:])
        blocks = upscale_blocks(source, job, rows=rows, progress=progress)
        tags = {"photometric": "rgb", "planarconfig": "contig"} if source.ndim == 3 else {"photometric": "minisblack"}
        if source.ndim == 3 and source.shape[2] == 4:
            tags["extrasamples"] = [2]  # unassociated alpha
        tags["bigtiff"] = source.dtype.itemsize * int(np.prod(shape)) > 2**32 - 2**26
        with atomic_path(target, overwrite=overwrite) as tmp:
            write_blocks(tmp, blocks, shape, source.dtype, iccprofile=tiff_icc(source._tif), **tags)
        return source.shape, shape, source.dtype


def write_blocks(path: Path, blocks, shape: tuple[int, ...], dtype: np.dtype, **tags) -> None:
    """An uncompressed TIFF of `shape` at `path`, filled from `blocks` ((row, column, array), any order): the
    header and a sparse pixel area first, then each block written in place, so memory is one block's."""
    import tifffile

    tifffile.imwrite(path, shape=shape, dtype=dtype, **tags)
    with tifffile.TiffFile(path) as tif:
        offset, disk = tif.series[0].dataoffset, np.dtype(dtype).newbyteorder(tif.byteorder)
    width, pixel = shape[1], int(np.prod(shape[2:])) * disk.itemsize
    with open(path, "r+b") as f:
        for y, x, block in blocks:
            data = np.ascontiguousarray(block, dtype=disk)
            whole = data.shape[1] == width  # full rows: one write
            for r, part in [(0, data)] if whole else enumerate(data):
                f.seek(offset + ((y + r) * width + x) * pixel)
                f.write(memoryview(part).cast("B"))
