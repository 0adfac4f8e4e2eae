"""Big PNG / JPEG / WEBP outputs in bands: the output never sits in memory twice.

The input is read whole (it is the scale² smaller side); its output rows come band by band from
`engine.bands` (equal to the in-memory result). A PNG is deflated row band by row band into the file
(`png_rows`); JPEG and WEBP need the whole picture for Pillow's encoders, so the bands are pasted into one
Pillow image allocated once and saved from there. Peak memory: the input, the output's bytes (JPEG/WEBP
only; a PNG not even that), one band and one tile.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.files import atomic_path
from ..core.progress import Progress
from ..engine.bands import check_bandable, upscale_bands
from ..engine.job import UpscaleJob
from .imagefiles import PNG_LEVEL, ImageFileError, read_image_meta
from .png_rows import write_png_rows
from .tiff import STREAM_ABOVE_BYTES

STILL_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
_IN_SUFFIXES = STILL_SUFFIXES | {".bmp", ".tif", ".tiff"}


def _header_shape(src: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) from the file header without decoding the pixels, or None for what Pillow cannot tell."""
    from PIL import Image

    try:
        with Image.open(src) as im:
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF says: transposed on reading
                w, h = h, w
            if im.mode in ("I;16", "I;16B", "I;16L"):
                return (h, w), np.dtype(np.uint16)
            channels = {"L": 1, "LA": 4, "RGBA": 4, "PA": 4}.get(im.mode, 3)
            deep = src.suffix.lower() == ".png" and im.info.get("bitdepth", 8) == 16
            return (h, w, channels), np.dtype(np.uint16 if deep else np.uint8)
    except Exception:
        return None


def streamable_still(src: Path, target: Path, job: UpscaleJob) -> bool:
    """Whether this file's output goes through bands: a PNG/JPEG/WEBP target, integer scale, tiled, an output
    above `STREAM_ABOVE_BYTES`, and models that bands reproduce exactly."""
    models = job.models
    if (
        job.options.factor
        or job.options.tile == 0
        or target.suffix.lower() not in STILL_SUFFIXES
        or src.suffix.lower() not in _IN_SUFFIXES
    ):
        return False
    if src.suffix.lower() in (".tif", ".tiff") and target.suffix.lower() in (".tif", ".tiff"):
        return False  # `tiff` streams those from disk too
    head = _header_shape(src)
    if head is None:
        return False
    shape, dtype = head
    if len(shape) == 3 and shape[2] == 4 and target.suffix.lower() in (".jpg", ".jpeg"):
        return False  # no alpha in JPEG: the in-memory path says so
    scale = job.scale
    try:
        check_bandable(models, *shape[:2])
    except ValueError:
        return False
    return dtype.itemsize * int(np.prod(shape)) * scale * scale > STREAM_ABOVE_BYTES


def upscale_still(
    src: str | os.PathLike,
    target: str | os.PathLike,
    job: UpscaleJob,
    progress: Progress | None = None,
    *,
    png_level: int | None = None,
    quality: int = 95,
    max_pixels: int | None = None,
) -> tuple[tuple[int, ...], tuple[int, ...], np.dtype]:
    """`src` upscaled band by band by `job` into `target` (atomically); returns (in shape, out shape, dtype).
    `progress` counts bands (its stop is checked inside them); `max_pixels` as `read_image_meta`."""
    src, target = Path(src), Path(target)
    img, meta = read_image_meta(src, max_pixels=max_pixels)
    suffix = target.suffix.lower()
    if img.dtype not in (np.uint8, np.uint16) or (img.dtype != np.uint8 and suffix != ".png"):
        raise ImageFileError(target, f"cannot store {img.dtype} data as {suffix} (use .png or .tif)")
    shape = (img.shape[0] * job.scale, img.shape[1] * job.scale, *img.shape[2:])
    bands = upscale_bands(img, job, progress=progress)
    with atomic_path(target) as tmp:
        if suffix == ".png":
            with open(tmp, "wb") as f:
                write_png_rows(f, shape, img.dtype, bands, meta, PNG_LEVEL if png_level is None else png_level)
        else:
            _save_pillow(tmp, shape, bands, meta, quality)
    return img.shape, shape, img.dtype


def _save_pillow(tmp: Path, shape: tuple[int, ...], bands, meta, quality: int) -> None:
    from PIL import Image

    channels = 1 if len(shape) == 2 else shape[2]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    canvas = Image.new(mode, (shape[1], shape[0]))  # the one output-sized allocation
    y = 0
    for band in bands:
        rows = band[..., 0] if band.ndim == 3 and channels == 1 else band
        canvas.paste(Image.fromarray(np.ascontiguousarray(rows)), (0, y))
        y += band.shape[0]
    params = {"quality": quality}
    if tmp.suffix.lower() in (".jpg", ".jpeg"):
        params["subsampling"] = 0  # 4:4:4, as `imagefiles.write_image`
    if meta.icc:
        params["icc_profile"] = meta.icc
    if meta.exif:
        params["exif"] = meta.exif
    canvas.save(tmp, format=Image.registered_extensions()[tmp.suffix.lower()], **params)
