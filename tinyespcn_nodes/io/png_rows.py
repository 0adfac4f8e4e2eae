"""A PNG written band by band: rows are Paeth-filtered and deflated (zlib) as they come, so the writer holds
one band, never the image. 8 or 16 bits, gray / RGB / RGBA, with the iCCP and eXIf chunks of `ImageMeta`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np

from .imagefiles import ImageMeta

_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → PNG colour type (gray, gray+alpha, RGB, RGBA)
_IDAT_BYTES = 1 << 20  # compressed bytes per IDAT chunk, at most
_FILTER_ROWS = 32  # rows filtered at once


def _chunk(f: BinaryIO, tag: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


def _paeth(rows: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    """PNG filter 4 of `rows` (n, stride) uint8 with `above` the row before them, as (n, 1 + stride) bytes."""
    x = rows.astype(np.int16)
    b = np.concatenate([above[None].astype(np.int16), x[:-1]])  # up
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]  # left
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]  # up-left
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    out = np.empty((x.shape[0], x.shape[1] + 1), np.uint8)
    out[:, 0] = 4
    out[:, 1:] = (x - pred).astype(np.uint8)  # modulo 256
    return out


def write_png_rows(
    f: BinaryIO,
    shape: tuple[int, ...],
    dtype: np.dtype,
    bands: Iterable[np.ndarray],
    meta: ImageMeta | None = None,
    level: int = 1,
) -> None:
    """Write a PNG of `shape` (H, W) or (H, W, C) and `dtype` (uint8/uint16) from `bands` of whole rows."""
    h, w = shape[:2]
    channels = 1 if len(shape) == 2 else shape[2]
    dtype = np.dtype(dtype)
    if dtype not in (np.uint8, np.uint16) or channels not in _COLOR_TYPE:
        raise ValueError(f"PNG stores uint8/uint16 with 1-4 channels, not {dtype} with {channels}")
    depth = 8 * dtype.itemsize
    bpp = channels * dtype.itemsize
    f.write(b"\x89PNG\r\n\x1a\n")
    _chunk(f, b"IHDR", struct.pack(">IIBBBBB", w, h, depth, _COLOR_TYPE[channels], 0, 0, 0))
    meta = meta or ImageMeta()
    if meta.icc:
        _chunk(f, b"iCCP", b"icc\x00\x00" + zlib.compress(meta.icc))
    if meta.exif:
        _chunk(f, b"eXIf", meta.exif.removeprefix(b"Exif\x00\x00"))
    z = zlib.compressobj(level)
    above = np.zeros(w * bpp, np.uint8)
    pending, written = b"", 0
    for band in bands:
        band = np.asarray(band, dtype=dtype)
        if band.shape[0] == 0:
            continue
        raw = (band.astype(">u2") if depth == 16 else band).reshape(band.shape[0], -1).view(np.uint8)
        if raw.shape[1] != w * bpp:
            raise ValueError(f"a band of width {band.shape[1]} in a PNG of width {w}")
        for i in range(0, raw.shape[0], _FILTER_ROWS):  # the filter's int16 temporaries stay a few MB
            part = raw[i : i + _FILTER_ROWS]
            pending += z.compress(_paeth(part, above, bpp).tobytes())
            above = part[-1].copy()
        written += band.shape[0]
        while len(pending) >= _IDAT_BYTES:
            _chunk(f, b"IDAT", pending[:_IDAT_BYTES])
            pending = pending[_IDAT_BYTES:]
    if written != h:
        raise ValueError(f"the bands held {written} rows for a PNG of height {h}")
    _chunk(f, b"IDAT", pending + z.flush())
    _chunk(f, b"IEND", b"")
