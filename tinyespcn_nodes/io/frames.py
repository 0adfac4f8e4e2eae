"""Files of several frames or pages: animated GIF / PNG / WEBP and multi-page TIFF, read frame by frame.

Every frame is its own image (as if the file had been split first): a page is never merged into the channels
of another. Animations keep each frame's duration and the loop count; a TIFF stays a TIFF of as many pages.
The size check counts every frame (pixels x frames against `--max-pixels`) before any is decoded. A TIFF is
written page by page as the pages come (one page in memory); an animation holds its output frames until
Pillow's encoder has them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..core.files import atomic_path
from ..core.limits import pixel_limit_reason
from .imagefiles import ImageFileError

ANIMATED_SUFFIXES = {".gif", ".png", ".webp"}  # Pillow writes these as animations
TIFF_SUFFIXES = {".tif", ".tiff"}
FRAME_SUFFIXES = ANIMATED_SUFFIXES | TIFF_SUFFIXES
MAX_FRAMES = 1000  # a longer page chain is refused (damaged or hostile), as the single-image reader does


@dataclass(frozen=True)
class Frames:
    """What a multi-frame file holds, from its header: iterate it for the frames (HW / HWC arrays)."""

    path: Path
    count: int
    width: int
    height: int
    durations: tuple[int, ...] = ()  # ms per frame (animations)
    loop: int | None = None  # the animation's loop count (0: forever; None: play once)

    @property
    def is_tiff(self) -> bool:
        return self.path.suffix.lower() in TIFF_SUFFIXES

    def __iter__(self) -> Iterator[np.ndarray]:
        return _tiff_pages(self.path) if self.is_tiff else _pillow_frames(self.path)


def open_frames(path: str | os.PathLike, max_pixels: int | None = None) -> Frames | None:
    """The frames of `path` if it holds more than one, else None (a single image: the ordinary path reads it).
    A frame count x size above `max_pixels` (default `core.limits`) raises ImageFileError naming the file."""
    path = Path(path)
    if path.suffix.lower() not in FRAME_SUFFIXES or not path.is_file():
        return None
    try:
        frames = _tiff_header(path) if path.suffix.lower() in TIFF_SUFFIXES else _pillow_header(path)
    except ImageFileError:
        raise
    except Exception:
        return None  # not readable as frames: the single-image reader names the problem
    if frames is None or frames.count < 2:
        return None
    reason = pixel_limit_reason(frames.width, frames.height, frames.count, max_pixels)
    if reason is not None:
        raise ImageFileError(path, reason)
    return frames if frames.is_tiff else replace(frames, durations=_durations(path))


def _pillow_header(path: Path) -> Frames | None:
    from PIL import Image

    with Image.open(path) as im:
        count = getattr(im, "n_frames", 1)
        if count < 2:
            return None
        if count > MAX_FRAMES:
            raise ImageFileError(path, f"holds {count} frames, more than {MAX_FRAMES}: split it first")
        return Frames(path, count, im.width, im.height, loop=im.info.get("loop"))


def _durations(path: Path) -> tuple[int, ...]:
    """Each frame's duration in ms (WEBP tells it only once a frame is decoded)."""
    from PIL import Image

    durations = []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            if "duration" not in im.info:
                im.load()
            durations.append(int(im.info.get("duration", 0) or 0))
    return tuple(durations)


def _tiff_header(path: Path) -> Frames | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        pages = []
        for page in tif.pages:
            pages.append(page)
            if len(pages) > MAX_FRAMES:
                raise ImageFileError(path, f"holds more than {MAX_FRAMES} pages (a damaged or hostile page chain?)")
        if len(pages) < 2:
            return None
        sizes = [(p.imagelength, p.imagewidth) for p in pages]
        height, width = max(sizes, key=lambda hw: hw[0] * hw[1])  # the count x the largest page: conservative
        return Frames(path, len(pages), width, height)


def _pillow_frames(path: Path) -> Iterator[np.ndarray]:
    """Each frame composited as shown (RGBA when any frame has transparency, else RGB or L)."""
    from PIL import Image

    with Image.open(path) as im:
        alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        gray = im.mode in ("L", "I;16", "I")
        mode = "RGBA" if alpha else "L" if gray else "RGB"
        for i in range(im.n_frames):
            im.seek(i)
            yield np.array(im.convert(mode))


def _tiff_pages(path: Path) -> Iterator[np.ndarray]:
    """Each page as (H, W) or (H, W, C): gray, RGB or RGBA; other layouts are named, never reshaped."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        for n, page in enumerate(tif.pages):
            try:
                arr = page.asarray()
            except Exception as exc:
                raise ImageFileError(path, f"cannot read page {n + 1} ({exc})") from None
            if page.axes == "SYX" or (arr.ndim == 3 and page.planarconfig == 2):
                arr = np.moveaxis(arr, 0, -1)
            if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
                raise ImageFileError(
                    path, f"page {n + 1} has shape {arr.shape} (axes {page.axes}); expected gray, RGB or RGBA"
                )
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise ImageFileError(path, f"page {n + 1} holds non-finite values (NaN/Inf); replace them first")
            yield np.ascontiguousarray(arr)


def write_frames(
    target: str | os.PathLike,
    frames: Iterable[np.ndarray],
    source: Frames,
    *,
    overwrite: bool = True,
    quality: int = 95,
) -> Path:
    """Every frame into `target` atomically: a multi-page TIFF page by page, or an animation (GIF / PNG /
    WEBP) with the source's durations and loop. `overwrite=False`: FileExistsError if `target` exists then."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in FRAME_SUFFIXES:
        raise ImageFileError(
            target,
            f"{suffix} holds one image, {source.path.name} has {source.count} frames: write .gif, .png, .webp or .tif",
        )
    with atomic_path(target, overwrite=overwrite) as tmp:
        if suffix in TIFF_SUFFIXES:
            _write_tiff_pages(tmp, frames)
        else:
            _write_animation(tmp, target, frames, source, quality)
    return target


def _write_tiff_pages(tmp: Path, frames: Iterable[np.ndarray]) -> None:
    import tifffile

    with tifffile.TiffWriter(tmp, bigtiff=False) as tif:
        for frame in frames:
            rgb = frame.ndim == 3 and frame.shape[2] in (3, 4)
            page = frame[..., 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame
            extra = {"extrasamples": [2]} if rgb and frame.shape[2] == 4 else {}
            tif.write(page, photometric="rgb" if rgb else "minisblack", metadata=None, contiguous=False, **extra)


def _write_animation(tmp: Path, target: Path, frames: Iterable[np.ndarray], source: Frames, quality: int) -> None:
    from PIL import Image

    images = []
    for frame in frames:
        if frame.dtype != np.uint8:
            raise ImageFileError(target, f"cannot store {frame.dtype} frames as {target.suffix} (use .tif)")
        images.append(Image.fromarray(frame[..., 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame))
    suffix = target.suffix.lower()
    params: dict = {"save_all": True, "append_images": images[1:]}
    if any(source.durations):
        params["duration"] = list(source.durations)
    if source.loop is not None or suffix != ".gif":  # a GIF without a loop count plays once
        params["loop"] = source.loop or 0
    if images[0].mode == "RGBA" and suffix == ".gif":
        params["disposal"] = 2  # whole frames with transparency: clear before the next
    if suffix == ".webp":
        params["quality"] = quality
    images[0].save(tmp, format=Image.registered_extensions()[suffix], **params)
