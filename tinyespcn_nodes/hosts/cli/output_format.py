"""Which file format an output is written in: the input's own by default, or the one `--format` names.

A JPEG in gives a JPEG out (quality 95, 4:4:4 chroma), a WEBP a WEBP, PNG and TIFF stay PNG and TIFF, so a
photo does not silently become a PNG ten times its size. ICC profile and EXIF are kept in every format.
"""

from __future__ import annotations

from pathlib import Path

FORMATS = ("keep", "png", "jpeg", "webp", "tiff")
SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}
ACCEPTED = {"png": {".png"}, "jpeg": {".jpg", ".jpeg"}, "webp": {".webp"}, "tiff": {".tif", ".tiff"}}
DEFAULT_QUALITY = 95


def output_suffix(src: Path, fmt: str = "keep") -> str:
    """The output suffix for input `src`: its own (lower-cased) with `keep`, else the format's."""
    return src.suffix.lower() if fmt == "keep" else SUFFIX[fmt]


def check_format_matches(target: Path, fmt: str) -> None:
    """An `-o FILE.EXT` and a `--format` that disagree are refused in one line (which one was meant?)."""
    if fmt != "keep" and target.suffix.lower() not in ACCEPTED[fmt]:
        raise ValueError(f"-o {target}: its suffix disagrees with --format {fmt}; change one of them")
