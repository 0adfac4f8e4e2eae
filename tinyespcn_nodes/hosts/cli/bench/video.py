"""`python -m tinyespcn_nodes bench --video`: video and streaming rows, measured in one run.

* frames/s of 720p → 1440p x2 with fast-x2 and the default x2 model: the whole CLI path (decode → model in
  batches → libx264 encode, `io.video.upscale_video`) and the model alone on the same decoded frames, next
  to OpenCV dnn_superres ESPCN x2 on those frames; on a CUDA device also fp16 with batched frames;
* peak RSS of a 4096² PNG → 8192² PNG x2 (fast-x2) through the CLI in a child process, minus the output's
  bytes (the banded PNG writer), and the same for a JPEG output.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ....core.catalog import default_name
from ....core.files import write_text_atomic
from ....engine.job import load_models, upscale_array
from ....io.opencv_peer import load_opencv_superres
from .child import run_child
from .rows import SHARED_PB, _test_image

CLIP_SIZE = (1280, 720)


def make_clip(path: Path, frames: int, size: tuple[int, int] = CLIP_SIZE) -> Path:
    """A 720p H.264 clip of a photo panning a few pixels per frame (real detail, real motion)."""
    import av

    w, h = size
    photo = _test_image((w + 2 * frames, h + frames))  # (width, height)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24, options={"crf": "18"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[i : i + h, 2 * i : 2 * i + w]), "rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def decoded_frames(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])


def _frames_fn(models, tile: int = -1):
    def upscale_frames(frames: np.ndarray) -> np.ndarray:
        return upscale_array(frames, models=models, tile=tile, intensity=None)  # as hosts/cli/main._frames_fn

    return upscale_frames


def video_rows(frames: int = 12, device: str = "auto") -> list[dict]:
    from ....io.video import upscale_video
    from ....io.video_codec import VideoOptions

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", frames)
        lr = decoded_frames(clip)
        for name in ("fast-x2", default_name(2)):
            models = load_models(name, 2, device)
            fn = _frames_fn(models)
            fn(lr[:1])  # warm-up
            t0 = time.perf_counter()
            res = upscale_video(clip, Path(tmp) / "out.mp4", fn, VideoOptions())
            whole = time.perf_counter() - t0
            t0 = time.perf_counter()
            for i in range(0, len(lr), 4):
                fn(lr[i : i + 4])
            model_only = time.perf_counter() - t0
            rows.append({"name": name, "device": str(next(models[0].parameters()).device), "frames": res.frames,
                         "pipeline_fps": res.frames / whole, "model_fps": len(lr) / model_only,
                         "codec": f"{res.codec} {res.pix_fmt}"})  # fmt: skip
        rows.append(_opencv_row(lr))
        if torch.cuda.is_available():
            rows += [_cuda_row(name, lr) for name in ("fast-x2", default_name(2))]
    return rows


def _opencv_row(lr: np.ndarray) -> dict:
    sr, reason = load_opencv_superres(SHARED_PB / "ESPCN_x2.pb", "espcn", 2)
    if sr is None:
        return {"name": "OpenCV ESPCN x2", "skipped": reason or "not available"}
    bgr = [np.ascontiguousarray(f[..., ::-1]) for f in lr]
    sr.upsample(bgr[0])
    t0 = time.perf_counter()
    for f in bgr:
        sr.upsample(f)
    return {"name": "OpenCV ESPCN x2", "device": "cpu", "frames": len(bgr),
            "model_fps": len(bgr) / (time.perf_counter() - t0)}  # fmt: skip


def _cuda_row(name: str, lr: np.ndarray, batch: int = 8) -> dict:
    models = load_models(name, 2, "cuda", "fp16")
    x = torch.from_numpy(lr).cuda()
    from ....engine.job import process_bchw

    def run() -> None:
        for i in range(0, len(lr), batch):
            process_bchw(x[i : i + batch].permute(0, 3, 1, 2), models, tile=0)
        torch.cuda.synchronize()

    run()
    t0 = time.perf_counter()
    run()
    return {"name": f"{name} fp16, {batch} frames a call", "device": "cuda", "frames": len(lr),
            "model_fps": len(lr) / (time.perf_counter() - t0)}  # fmt: skip


def still_rows(side: int = 4096) -> list[dict]:
    """Peak RSS of a side² PNG → (2·side)² PNG / JPEG through the CLI, each in a fresh process (`still_child`)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.png"
        Image.fromarray(_test_image(side)).save(src, compress_level=1)
        for suffix in (".png", ".jpg"):
            t0 = time.perf_counter()
            data = run_child("still_child", str(src), str(Path(tmp) / f"out{suffix}"))
            out_bytes = 3 * (2 * side) ** 2
            rows.append({"format": suffix.lstrip("."), "side": side, "seconds": time.perf_counter() - t0,
                         "peak_rss_mb": data["peak_rss"] / 2**20, "out_mb": out_bytes / 2**20,
                         "peak_minus_output_mb": (data["peak_rss"] - out_bytes) / 2**20, "code": data["code"]})  # fmt: skip
    return rows


def run_video_bench(
    frames: int = 12, device: str = "auto", out: str | None = None, stills: bool = True, readme: str | None = None
) -> None:
    """Print the rows; `out` also writes them to a file, `readme` into its `video-bench` block."""
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    w, h = CLIP_SIZE
    say(f"video: {frames} frames {w}x{h} H.264 → {2 * w}x{2 * h} x2, default tile; pipeline = decode + model "
        "+ encode (the CLI's defaults), model = the same frames already decoded")  # fmt: skip
    for r in video_rows(frames, device):
        if "skipped" in r:
            say(f"  {r['name']:<32} skipped: {r['skipped']}")
            continue
        pipe = f"pipeline {r['pipeline_fps']:6.2f} frames/s ({r['codec']}), " if "pipeline_fps" in r else ""
        say(f"  {r['name']:<32} {r['device']:<5} {pipe}model {r['model_fps']:6.2f} frames/s")
    if not torch.cuda.is_available():
        say("  (no CUDA device in this run: no fp16 / real-time rows)")
    if stills:
        say("big stills through the CLI (fast-x2, default path), peak RSS of the whole process:")
        for r in still_rows():
            say(f"  {r['side']}² PNG → {2 * r['side']}² {r['format'].upper():<4} peak {r['peak_rss_mb']:.0f} MB, "
                f"minus the output's {r['out_mb']:.0f} MB = {r['peak_minus_output_mb']:.0f} MB, "
                f"{r['seconds']:.0f} s, exit {r['code']}")  # fmt: skip
    if out:
        write_text_atomic(out, "\n".join(lines) + "\n")
    if readme:
        from ..readme_block import replace_block

        replace_block(Path(readme), "video-bench", "```\n" + "\n".join(lines) + "\n```")
