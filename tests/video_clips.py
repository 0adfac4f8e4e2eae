"""Tiny generated video clips for the video tests (a few frames, a few dozen pixels: fast on 2 cores)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

MS = Fraction(1, 1000)


def make_clip(
    path: Path,
    *,
    frames: int = 5,
    size: tuple[int, int] = (32, 24),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    steps_ms: list[int] | None = None,
    rotation: int | None = None,
    audio: bool = False,
    subtitle: str | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """A clip of random frames; `steps_ms` gives each frame's duration (variable frame rate when they differ)."""
    import av

    w, h = size
    steps = steps_ms or [100] * frames
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=10, options=options or {})
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.codec_context.time_base = MS
        if rotation is not None:
            v.set_display_rotation(rotation)
        webm = path.suffix == ".webm"
        a = c.add_stream("libopus" if webm else "aac", rate=48000 if webm else 8000) if audio else None
        s = c.add_mux_stream(subtitle) if subtitle else None
        if s is not None:
            s.time_base = MS
        t, rng = 0, np.random.default_rng(0)
        deep = "10" in pix_fmt
        for i in range(frames):
            img = rng.random((h, w, 3))
            arr = (img * 65535).astype(np.uint16) if deep else (img * 255).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(arr, "rgb48le" if deep else "rgb24").reformat(format=pix_fmt)
            f.pts, f.time_base = t, MS
            t += steps[i % len(steps)]
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            n = int(a.rate * t / 1000)
            fr = av.AudioFrame.from_ndarray(np.zeros((1, n), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = a.rate, 0
            for p in [*a.encode(fr), *a.encode()]:
                c.mux(p)
        if s is not None:
            pk = av.Packet(b"hello")
            pk.pts, pk.dts, pk.duration, pk.time_base, pk.stream = 0, 0, 300, MS, s
            c.mux(pk)
    return path


def probe(path: Path) -> dict:
    """What the tests compare: per-stream codec, the video frames' timestamps (seconds), sizes, rotation,
    pixel format, and the copied streams' packets."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        c.seek(0)
        packets = {
            s.index: [(float(p.pts * p.time_base), bytes(p)) for p in c.demux(s) if p.size]
            for s in c.streams
            if s.type in ("audio", "subtitle")
        }
        return {
            "codec": v.codec_context.name,
            "times": [round(float(f.pts * f.time_base), 4) for f in frames],
            "size": (frames[0].width, frames[0].height),
            "rotation": frames[0].rotation,
            "pix_fmt": frames[0].format.name,
            "streams": [(s.type, s.codec_context.name) for s in c.streams if s.type != "video"],
            "packets": packets,
            "first": frames[0].to_ndarray(format="rgb24"),
        }
