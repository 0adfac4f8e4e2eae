"""Image files in and out: EXIF orientation honoured, 16-bit kept 16-bit, atomic writes, clear errors.

Pillow reads 8-bit images and 16-bit grayscale; it truncates 16-bit RGB PNGs to 8 bits, so those are
read with OpenCV when installed (else refused with a message) and written by a small PNG encoder here.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

READ_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
WRITE_SUFFIXES = READ_SUFFIXES
# zlib level of 8-bit PNG outputs: 1 trades somewhat larger files for a much faster encode than Pillow's
# default 6 (PNG stays lossless); at 6, encoding took most of the wall time of the bench's folder row
PNG_LEVEL = 1
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageMeta:
    """What an output keeps of its input: the ICC colour profile and EXIF (orientation already applied)."""

    icc: bytes | None = None
    exif: bytes | None = None


class ImageFileError(ValueError):
    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


def _png_is_16bit_color(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(33)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 33:
        return False
    bit_depth, color_type = head[24], head[25]
    return bit_depth == 16 and color_type in (2, 6)


def _read_16bit_color_png(path: Path) -> np.ndarray:
    try:
        import cv2
    except ImportError:
        raise ImageFileError(
            path, "16-bit RGB PNG needs OpenCV to read without losing bits: pip install 'tinyespcn-nodes[io16]'"
        ) from None
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageFileError(path, "OpenCV could not decode this PNG (truncated or corrupt?)")
    return arr[..., [2, 1, 0, 3][: arr.shape[-1]]] if arr.ndim == 3 else arr


def read_image(path: str | os.PathLike) -> np.ndarray:
    """HW or HWC (3 or 4) array, uint8 or uint16 (or float32 for float TIFFs), upright per EXIF."""
    return read_image_meta(path)[0]


def _meta_of(im) -> ImageMeta:
    exif = im.getexif()
    exif.pop(EXIF_ORIENTATION, None)  # the pixels are already upright
    return ImageMeta(icc=im.info.get("icc_profile") or None, exif=exif.tobytes() if len(exif) else None)


def tiff_icc(tif) -> bytes | None:
    """The ICC profile of an open `tifffile.TiffFile`'s first page, if it has one."""
    tag = tif.pages[0].tags.get(34675)  # InterColorProfile
    return bytes(tag.value) if tag is not None else None


def read_image_meta(path: str | os.PathLike, max_pixels: int | None = None) -> tuple[np.ndarray, ImageMeta]:
    """`read_image` plus the metadata an output should carry (ICC profile, EXIF without orientation).

    The size a header claims is checked before decoding (`max_pixels`, default `core.limits`); a file of
    several frames or pages, and a float image with NaN/Inf, are refused with a message naming what it holds."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageFileError(path, missing_reason(path))
    if path.suffix.lower() == ".png" and _png_is_16bit_color(path):
        _check_size(path, *_png_size(path), 1, max_pixels)
        arr = _read_16bit_color_png(path)
        with Image.open(path) as im:
            return arr, _meta_of(im)
    if path.suffix.lower() in {".tif", ".tiff"}:
        try:
            import tifffile
        except ImportError:
            tifffile = None
        if tifffile is not None:
            arr, icc = _read_tiff(path, max_pixels)
            return _finite(path, arr), ImageMeta(icc=icc)
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            _check_size(path, im.width, im.height, frames, max_pixels)
            if frames > 1:
                raise ImageFileError(
                    path, f"holds {frames} frames ({im.format}); only single-frame images are upscaled: split it first"
                )
            im = ImageOps.exif_transpose(im)
            im.load()
            meta = _meta_of(im)
            if im.mode in ("I;16", "I;16B", "I;16L"):
                return np.array(im, dtype=np.uint16), meta
            if im.mode == "I":
                arr = np.array(im)
                arr = arr.astype(np.uint16) if arr.min() >= 0 and arr.max() <= 65535 else arr.astype(np.float32)
                return arr, meta
            if im.mode == "F":
                return _finite(path, np.array(im, dtype=np.float32)), meta
            if im.mode in ("L", "RGB", "RGBA"):
                return np.array(im), meta
            if im.mode in ("LA", "PA") or "transparency" in im.info:
                return np.array(im.convert("RGBA")), meta
            return np.array(im.convert("RGB")), meta
    except UnidentifiedImageError:
        if path.suffix.lower() in {".tif", ".tiff"}:
            raise ImageFileError(path, "this TIFF needs tifffile: pip install tifffile") from None
        raise ImageFileError(path, "not a recognised image file") from None
    except Image.DecompressionBombError as exc:  # Pillow's own limit, below ours: same advice
        raise ImageFileError(path, f"{exc}; pass --max-pixels N to allow it") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        if isinstance(exc, ImageFileError):
            raise
        raise ImageFileError(path, f"cannot decode image (truncated or corrupt?): {exc}") from None


def missing_reason(path: Path) -> str:
    """`file not found`, or what the name really is: a folder, a broken link, a link loop."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return "symbolic link loop"
        except OSError as exc:
            if exc.errno == 40:  # ELOOP
                return "symbolic link loop"
            return f"broken symbolic link (points to {os.readlink(path)})"
    if path.is_dir():
        return "is a folder, not a file"
    return "file not found"


def _check_size(path: Path, width: int, height: int, frames: int, max_pixels: int | None) -> None:
    from ..core.limits import pixel_limit_reason

    reason = pixel_limit_reason(width, height, frames, max_pixels)
    if reason is not None:
        raise ImageFileError(path, reason)


def _png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


_TIFF_LAYOUTS = {"YX", "YXS", "SYX"}


_MAX_PAGES = 1000


def _page_count(tif) -> int:
    """Pages of an open TiffFile, counted one by one up to _MAX_PAGES."""
    n = 1
    while n < _MAX_PAGES:
        try:
            tif.pages[n]
        except Exception:  # IndexError at the end; tifffile's own errors for a damaged chain
            break
        n += 1
    return n


def _read_tiff(path: Path, max_pixels: int | None) -> tuple[np.ndarray, bytes | None]:
    """One gray or RGB(A) image; its size checked from the header first. Several pages or planes are refused
    with the real shape named."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if _page_count(tif) >= _MAX_PAGES:  # a damaged IFD chain: never walk it all (tif.series would)
                raise ImageFileError(path, f"holds {_MAX_PAGES} or more pages (a damaged or hostile page chain?)")
            series = tif.series[0]
            axes, shape = series.axes, tuple(series.shape)
            height, width = (shape[-3], shape[-2]) if axes.endswith("S") else (shape[-2], shape[-1])
            samples = shape[-1] if axes.endswith("S") else shape[0] if axes == "SYX" else 1
            _check_size(path, width, height, math.prod(shape) // (height * width * samples or 1), max_pixels)
            if len(tif.series) > 1 or axes not in _TIFF_LAYOUTS:
                raise ImageFileError(path, _tiff_layout_reason(tif, axes, shape))
            if samples not in (1, 3, 4):
                raise ImageFileError(path, f"{samples} samples per pixel (shape {shape}); expected gray, RGB or RGBA")
            arr = series.asarray()
            if tuple(arr.shape) != shape or arr.size == 0 or arr.dtype != series.dtype:  # tifffile's fallback
                raise ImageFileError(
                    path, f"cannot read TIFF (truncated or corrupt: got {arr.shape}, expected {shape})"
                )
            icc = tiff_icc(tif)
    except ImageFileError:
        raise
    except Exception as exc:
        raise ImageFileError(path, f"cannot read TIFF ({exc})") from None
    if axes == "SYX":
        arr = np.moveaxis(arr, 0, -1)
    return np.ascontiguousarray(arr), icc


def _tiff_layout_reason(tif, axes: str, shape: tuple) -> str:
    pages = len(tif.pages)
    what = f"{pages} pages" if pages > 1 else f"{len(tif.series)} images" if len(tif.series) > 1 else "several planes"
    return (
        f"holds {what} (axes {axes}, shape {shape}); only one gray or RGB(A) image per file is upscaled: split it first"
    )


def _finite(path: Path, arr: np.ndarray) -> np.ndarray:
    """A float image with NaN/Inf is refused, saying how many and where the first one is."""
    if arr.dtype.kind != "f":
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise ImageFileError(
            path,
            f"{int(bad.sum())} non-finite value(s) (NaN/Inf), the first at row {first[0]}, column {first[1]}; "
            "replace them (e.g. with 0) first",
        )
    return arr


def _png16(arr: np.ndarray, meta: ImageMeta = ImageMeta()) -> bytes:
    """Minimal 16-bit PNG encoder (gray, RGB or RGBA; filter 0), with iCCP / eXIf chunks from `meta`."""
    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    color_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = arr.astype(">u2").reshape(h, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    extra = chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(meta.icc)) if meta.icc else b""
    if meta.exif:
        extra += chunk(b"eXIf", meta.exif.removeprefix(b"Exif\x00\x00"))
    body = chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def write_image(
    path: str | os.PathLike,
    arr: np.ndarray,
    quality: int = 95,
    meta: ImageMeta = ImageMeta(),
    png_level: int = PNG_LEVEL,
    overwrite: bool = True,
) -> Path:
    """Write atomically (temp file + rename); uint16 stays 16-bit in PNG/TIFF; ICC and EXIF from `meta` kept.
    `overwrite=False`: FileExistsError if `path` exists when the file is published (never replaced)."""
    from PIL import Image

    from ..core.files import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path, overwrite=overwrite) as tmp:
        if arr.dtype == np.uint16 and suffix == ".png":
            tmp.write_bytes(_png16(arr if arr.ndim == 2 or arr.shape[2] != 1 else arr[..., 0], meta))
        elif arr.dtype in (np.uint16, np.float32) and suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(tmp, arr, iccprofile=meta.icc)
        elif arr.dtype != np.uint8:
            raise ImageFileError(path, f"cannot store {arr.dtype} data as {suffix} (use .png or .tif)")
        else:
            if suffix in (".jpg", ".jpeg") and arr.ndim == 3 and arr.shape[2] == 4:
                raise ImageFileError(path, "JPEG cannot store the alpha channel; write .png, .webp or .tif")
            img = Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
            params = {"quality": quality} if suffix in (".jpg", ".jpeg", ".webp") else {}
            if suffix in (".jpg", ".jpeg"):
                params["subsampling"] = 0  # 4:4:4: upscaled detail in the colour channels is not halved again
            if suffix == ".png":
                params["compress_level"] = png_level
            if meta.icc and suffix != ".bmp":
                params["icc_profile"] = meta.icc
            if meta.exif and suffix in (".jpg", ".jpeg", ".webp", ".png", ".tif", ".tiff"):
                params["exif"] = meta.exif
            img.save(tmp, format=Image.registered_extensions().get(suffix), **params)
    return path
