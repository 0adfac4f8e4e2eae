"""What a video output is made of: the encoder, its quality and pixel format, chosen from the input and the
user's `--codec` / `--crf` / `--pix-fmt`, and checked before any frame is decoded.

Defaults: the input's codec when the bundled FFmpeg can encode it into the output container (else H.264, or
VP9 for .webm), a visually lossless CRF, yuv420p (what every player decodes), 10-bit kept 10-bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".webm", ".avi"}
VIDEO_WRITE_SUFFIXES = {".mp4", ".mkv", ".mov", ".webm"}
EXTRA_HINT = "pip install 'tinyespcn-nodes[video]'"

# decoder name → the encoder that writes the same format
SAME_FORMAT_ENCODER = {
    "h264": "libx264",
    "hevc": "libx265",
    "vp9": "libvpx-vp9",
    "vp8": "libvpx",
    "av1": "libsvtav1",
    "ffv1": "ffv1",
}
# encoder → (the CRF that looks the same as the input at normal viewing, extra options the CRF needs)
CRF_DEFAULTS = {
    "libx264": (16, {}),
    "libx265": (18, {}),
    "libvpx-vp9": (20, {"b": "0"}),
    "libvpx": (8, {"b": "20M"}),
    "libsvtav1": (24, {}),
}
FALLBACK = {".webm": "libvpx-vp9"}  # every other container takes H.264


class VideoError(ValueError):
    """A one-line, user-facing problem with a video file or a video option."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


def require_av():
    """The PyAV module, or an ImportError whose message names the extra to install."""
    try:
        import av
    except ImportError:
        raise ImportError(f"video files need PyAV: {EXTRA_HINT}") from None
    return av


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def video_suffix(src: Path) -> str:
    """The output suffix of a video input: its own, but AVI (read, not written) becomes Matroska."""
    return ".mkv" if src.suffix.lower() == ".avi" else src.suffix.lower()


@dataclass(frozen=True)
class VideoOptions:
    """The user's choices (None = the default described in the module docstring)."""

    codec: str | None = None
    crf: int | None = None
    pix_fmt: str | None = None
    batch: int = 4  # frames per model call
    queue: int = 8  # frames waiting between decode → model → encode (each side): the memory bound


DEFAULT_OPTIONS = VideoOptions()


@dataclass(frozen=True)
class EncoderPlan:
    codec: str
    pix_fmt: str
    options: dict[str, str]


def _encodable(av, name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # PyAV raises UnknownCodecError (a ValueError) or FFmpeg errors depending on version
        return False
    return True


def _ten_bit(av, pix_fmt: str | None) -> bool:
    if not pix_fmt:
        return False
    try:
        fmt = av.VideoFormat(pix_fmt)
    except Exception:
        return False
    return max(c.bits for c in fmt.components) > 8


def choose_encoder(
    av, target: Path, supported: set[str], in_codec: str, in_pix_fmt: str | None, opts: VideoOptions
) -> EncoderPlan:
    """The encoder, pixel format and quality options for `target` (a container accepting `supported`)."""
    if opts.codec:
        codec = opts.codec
        if not _encodable(av, codec):
            raise VideoError(target, f"--codec {codec}: this FFmpeg build has no such encoder")
        if codec not in supported and av.codec.Codec(codec, "w").name not in supported:
            raise VideoError(target, f"--codec {codec}: a {target.suffix} file cannot hold it")
    else:
        codec = SAME_FORMAT_ENCODER.get(in_codec, "")
        if not codec or codec not in supported or not _encodable(av, codec):
            codec = FALLBACK.get(target.suffix.lower(), "libx264")
    formats = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
    if opts.pix_fmt:
        pix_fmt = opts.pix_fmt
        if formats and pix_fmt not in formats:
            raise VideoError(target, f"--pix-fmt {pix_fmt}: {codec} takes {', '.join(formats)}")
    elif _ten_bit(av, in_pix_fmt):
        deep = [f for f in ("yuv420p10le", in_pix_fmt) if f in formats]
        if not deep:
            raise VideoError(target, f"the input is 10-bit and {codec} cannot encode 10-bit; pass --codec libx265")
        pix_fmt = deep[0]
    elif codec == "ffv1" and in_pix_fmt in formats:  # lossless in, lossless out: the input's own format
        pix_fmt = in_pix_fmt
    else:
        pix_fmt = "yuv420p" if "yuv420p" in formats or not formats else formats[0]
    options: dict[str, str] = {}
    if codec in CRF_DEFAULTS:
        crf, extra = CRF_DEFAULTS[codec]
        options = {**extra, "crf": str(crf if opts.crf is None else opts.crf)}
    elif opts.crf is not None:
        raise VideoError(target, f"--crf applies to {', '.join(CRF_DEFAULTS)}; {codec} has no CRF")
    return EncoderPlan(codec, pix_fmt, options)


def check_size(target: Path, plan: EncoderPlan, width: int, height: int, av) -> None:
    """Chroma-subsampled formats need even sides: say so before decoding (x3 of an odd-sized clip)."""
    fmt = av.VideoFormat(plan.pix_fmt, 2, 2)  # a 2x2 picture: subsampled chroma planes are 1 wide/high
    chroma = fmt.components[1:] if not fmt.is_rgb else []
    odd = any((c.width < 2 and width % 2) or (c.height < 2 and height % 2) for c in chroma)
    if odd:
        raise VideoError(
            target, f"the output would be {width}x{height}; {plan.pix_fmt} needs even sides: "
            "pass --pix-fmt yuv444p or another --factor",
        )  # fmt: skip
