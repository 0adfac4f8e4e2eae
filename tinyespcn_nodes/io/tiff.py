"""Big TIFF in, big TIFF out, in bands: memory stays one band's, whatever the image size.

`TiffRows` reads rows of a single-image TIFF on demand: uncompressed contiguous files (what most writers
produce, Pillow and tifffile included) by plain file reads at computed offsets, everything else (compressed,
tiled) through tifffile's zarr store when the `dask` extra is installed. Never a memory map: mapped pages
count as the process's memory until the kernel drops them. The output is written as an uncompressed TIFF
strip by strip while the bands come (`core.banded`), into a temp file renamed only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.files import atomic_path
from ..engine.bands import check_bandable, upscale_bands
from .imagefiles import ImageFileError, tiff_icc

STREAM_ABOVE_BYTES = 64 * 2**20  # outputs larger than this stream (smaller ones take the in-memory path)
_LAYOUTS = {"YX", "YXS", "SYX"}
_DTYPES = (np.uint8, np.uint16, np.float32)
_SAMPLE_BLOCK = 256  # rows read at once when a strided row sample is asked for


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

    def _rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows [y0, y1) in (rows, W[, C]) order, native byte order."""
        if self._offset is None:
            block = np.asarray(self._open_zarr()[:, y0:y1] if self._planar else self._open_zarr()[y0:y1])
        else:
            h, n, item = self.shape[0], y1 - y0, self._disk_dtype.itemsize
            planes = self.shape[2] if self._planar else 1
            parts = []
            with open(self.path, "rb") as f:
                for p in range(planes):
                    f.seek(self._offset + (p * h + y0) * self._row_items * item)
                    parts.append(np.fromfile(f, self._disk_dtype, n * self._row_items))
            stored = (planes, n, self.shape[1]) if self._planar else (n, *self.shape[1:])
            block = np.stack(parts).reshape(stored)
        if self._planar:
            block = np.moveaxis(block, 0, -1)
        return np.ascontiguousarray(block, dtype=self.dtype)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows, rest = key[0], key[1:]
        if not isinstance(rows, slice):
            raise TypeError("TiffRows takes slices")
        start, stop, step = rows.indices(self.shape[0])
        if step == 1:
            return self._rows(start, max(start, stop))[(slice(None), *rest)]
        if stop <= start:
            return self._rows(0, 0)[(slice(None), *rest)]
        block = step * max(1, _SAMPLE_BLOCK // step)  # whole steps per read, so the picked rows stay on the grid
        picked = [self._rows(y, min(stop, y + block))[::step][(slice(None), *rest)] for y in range(start, stop, block)]
        return np.concatenate(picked)


def streamable(src: Path, target: Path, models: list, *, tile: int, factor: float | None) -> bool:
    """Whether this file goes through bands: a TIFF to a TIFF, integer scale, tiled, big output, layout and
    models that bands reproduce exactly (else the ordinary in-memory path runs)."""
    if factor or tile == 0 or {src.suffix.lower(), target.suffix.lower()} - {".tif", ".tiff"}:
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
    models: list,
    *,
    on_band=None,
    should_stop=None,
    overwrite: bool = True,
    **options,
) -> tuple[tuple[int, ...], tuple[int, ...], np.dtype]:
    """`src` upscaled band by band into the TIFF `target` (atomically; with `overwrite=False` an existing
    target is never replaced: FileExistsError); returns (in shape, out shape, dtype).
    `options` go to `core.banded.upscale_bands` (tile, post, intensity)."""
    import tifffile

    with TiffRows(src) as rows:
        reason = rows.reason_not_streamable()
        if reason is not None:
            raise ImageFileError(src, f"cannot be read in bands: {reason}")
        scale = int(np.prod([m.scale for m in models]))
        shape = (rows.shape[0] * scale, rows.shape[1] * scale, *rows.shape[2:])
        bands = upscale_bands(rows, models, on_band=on_band, should_stop=should_stop, **options)
        extra = {"photometric": "rgb", "planarconfig": "contig"} if rows.ndim == 3 else {"photometric": "minisblack"}
        if rows.ndim == 3 and rows.shape[2] == 4:
            extra["extrasamples"] = [2]  # unassociated alpha
        big = rows.dtype.itemsize * int(np.prod(shape)) > 2**32 - 2**26
        with atomic_path(target, overwrite=overwrite) as tmp:
            tifffile.imwrite(
                tmp, bands, shape=shape, dtype=rows.dtype, iccprofile=tiff_icc(rows._tif), bigtiff=big, **extra,
            )  # fmt: skip
        return rows.shape, shape, rows.dtype
