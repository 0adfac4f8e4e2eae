"""Video files through the model, streamed: a decode thread → bounded queue → the model in batches (this
thread) → bounded queue → an encode thread. Never more than `VideoOptions.queue` frames wait on either side,
so memory does not grow with the clip's length.

Kept: every frame with its own timestamp (variable frame rate too), the frame rate, the rotation, the
colour tags, 10-bit depth, and every audio and subtitle stream, copied packet for packet. The output is
written to a temp file renamed into place only when complete (`core.files.atomic_path`), so Ctrl-C or an
error never leaves a file that looks finished.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .video_codec import DEFAULT_OPTIONS, EncoderPlan, VideoError, VideoOptions, check_size, choose_encoder, require_av

FramesFn = Callable[[np.ndarray], np.ndarray]  # BHWC uint8/uint16 frames → the upscaled BHWC frames
ProgressFn = Callable[[int, int], None]  # (frames done, frames expected; 0 = unknown)
_END = ("end",)
_POLL = 0.2  # seconds between checks of the stop flag while a queue is full or empty


@dataclass
class VideoResult:
    frames: int = 0
    size_in: tuple[int, int] = (0, 0)  # width, height
    size_out: tuple[int, int] = (0, 0)
    codec: str = ""
    pix_fmt: str = ""
    copied: list[str] = field(default_factory=list)  # "audio aac", "subtitle subrip" …
    decoded: int = 0  # frames the decode thread has produced so far
    max_ahead: int = 0  # most frames ever decoded but not yet through the model: the memory bound at work


class _Pipe:
    """A bounded queue whose put/get give up when `stop` is set, and the first error any stage raised."""

    def __init__(self, size: int, stop: threading.Event) -> None:
        self.q: queue.Queue = queue.Queue(max(1, size))
        self.stop = stop

    def put(self, item) -> None:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise _Stopped

    def get(self):
        while not self.stop.is_set():
            try:
                return self.q.get(timeout=_POLL)
            except queue.Empty:
                continue
        raise _Stopped


class _Stopped(Exception):
    pass


class _Stage(threading.Thread):
    def __init__(self, name: str, fn, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.fn, self.stop, self.error = fn, stop, None

    def run(self) -> None:
        try:
            self.fn()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
            self.stop.set()


def expected_frames(stream) -> int:
    """The stream's frame count from its header, else duration × rate; 0 when neither is known."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if stream.duration and stream.time_base and rate:
        return round(float(stream.duration * stream.time_base * rate))
    container = stream.container
    if container.duration and rate:
        return round(container.duration / 1_000_000 * float(rate))
    return 0


def _rgb_format(pix_fmt: str | None, av) -> str:
    deep = False
    if pix_fmt:
        try:
            deep = max(c.bits for c in av.VideoFormat(pix_fmt).components) > 8
        except Exception:
            deep = False
    return "rgb48le" if deep else "rgb24"


def _colour(stream) -> dict:
    """Colour tags of the input stream: the YUV↔RGB conversions use them and the output carries them."""
    cc = stream.codec_context
    return {"colorspace": cc.colorspace, "color_range": cc.color_range,
            "color_primaries": cc.color_primaries, "color_trc": cc.color_trc}  # fmt: skip


def _matrix(value: int):
    """A colorspace swscale knows (709, 601, 2020 …), or None: swscale's default (BT.601) both ways."""
    from av.video.reformatter import Colorspace

    return Colorspace(value) if value in Colorspace._value2member_map_ else None


def _open_input(av, src: Path):
    try:
        inp = av.open(str(src), "r")
    except (av.FFmpegError, OSError) as exc:
        raise VideoError(src, f"cannot open as a video ({exc})") from None
    streams = [s for s in inp.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        inp.close()
        raise VideoError(src, "has no video stream")
    return inp, streams[0]


def _copy_streams(av, inp, out, target: Path, video) -> tuple[dict, list[str]]:
    """Audio and subtitle streams, copied unchanged; a container that cannot hold one is a clear error."""
    mapping, copied = {}, []
    supported = out.supported_codecs
    for s in inp.streams:
        if s.index == video.index or s.type not in ("audio", "subtitle"):
            continue
        name = s.codec_context.name if s.codec_context is not None else s.codec.name
        if name not in supported:
            raise VideoError(
                target, f"{s.type} stream #{s.index} ({name}) cannot go into a {target.suffix} file unchanged; "
                f"write {Path(inp.name).suffix or 'the input container'} instead",
            )  # fmt: skip
        o = out.add_stream_from_template(s)
        for k, v in s.metadata.items():
            if k.upper() != "DURATION":  # Matroska's per-stream tag, rewritten by the muxer
                o.metadata[k] = v
        o.disposition = s.disposition
        mapping[s.index] = o
        copied.append(f"{s.type} {name}")
    return mapping, copied


def _open_output(av, tmp: Path, target: Path, inp, video, plan: EncoderPlan, width: int, height: int):
    options = {"movflags": "+faststart"} if target.suffix.lower() in (".mp4", ".mov") else {}
    out = av.open(str(tmp), "w", format=_format_name(av, target), options=options)
    try:
        for k, v in inp.metadata.items():
            if k.lower() not in ("encoder", "duration"):
                out.metadata[k] = v
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        o = out.add_stream(plan.codec, rate=rate, options=plan.options)
        o.width, o.height, o.pix_fmt = width, height, plan.pix_fmt
        o.codec_context.time_base = video.time_base  # the input's own timestamps, so VFR stays VFR
        o.codec_context.framerate = rate
        if video.sample_aspect_ratio:
            o.sample_aspect_ratio = video.sample_aspect_ratio
        for k, v in _colour(video).items():
            setattr(o.codec_context, k, v)
        for k, v in video.metadata.items():
            if k.upper() != "DURATION":
                o.metadata[k] = v
        o.thread_type = "AUTO"
        mapping, copied = _copy_streams(av, inp, out, target, video)
    except BaseException:
        out.close()
        raise
    return out, o, mapping, copied


def _format_name(av, target: Path) -> str:
    return {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}.get(target.suffix.lower(), "mp4")


def upscale_video(
    src: str | os.PathLike,
    target: str | os.PathLike,
    upscale_frames: FramesFn,
    opts: VideoOptions = DEFAULT_OPTIONS,
    on_frames: ProgressFn | None = None,
) -> VideoResult:
    """Decode `src`, run `upscale_frames` on batches of `opts.batch` frames, encode to `target` (atomically)."""
    from ..core.files import atomic_path

    av = require_av()
    src, target = Path(src), Path(target)
    inp, video = _open_input(av, src)
    try:
        in_codec = video.codec_context.name
        in_fmt = video.codec_context.format.name if video.codec_context.format else None
        with av.open(os.devnull, "w", format=_format_name(av, target)) as probe:
            plan = choose_encoder(av, target, set(probe.supported_codecs), in_codec, in_fmt, opts)
        with atomic_path(target) as tmp:
            result = _stream(_Run(av, inp, video, Path(tmp), target, plan, upscale_frames, opts, on_frames))
    except av.FFmpegError as exc:
        raise VideoError(src, f"FFmpeg failed: {exc}") from None
    finally:
        inp.close()
    return result


@dataclass(frozen=True)
class _Run:
    """One `upscale_video` call: PyAV, the open input and its video stream, the temp file and the target it
    becomes, the encoder plan, the engine call, the options and the progress callback."""

    av: Any
    inp: Any
    video: Any
    tmp: Path
    target: Path
    plan: EncoderPlan
    upscale_frames: FramesFn
    opts: VideoOptions
    on_frames: ProgressFn | None


def _stream(run: _Run) -> VideoResult:
    av, inp, video, plan, opts = run.av, run.inp, run.video, run.plan, run.opts
    stop = threading.Event()
    decoded, encoded = _Pipe(opts.queue, stop), _Pipe(opts.queue, stop)
    rgb = _rgb_format(video.codec_context.format.name if video.codec_context.format else None, av)
    colour = _colour(video)
    matrix, rng = _matrix(colour["colorspace"]), colour["color_range"]
    total = expected_frames(video)
    result = VideoResult(codec=plan.codec, pix_fmt=plan.pix_fmt)
    copy_ids = {s.index for s in inp.streams if s.type in ("audio", "subtitle")}
    video.thread_type = "AUTO"
    rotation = [0]

    def read() -> None:
        count = 0
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        for packet in inp.demux([video, *(s for s in inp.streams if s.index in copy_ids)]):
            if packet.stream.index != video.index:
                if packet.dts is not None:
                    decoded.put(("packet", packet))
                continue
            for frame in packet.decode():
                if count == 0:
                    if frame.interlaced_frame:
                        raise VideoError(inp.name, "is interlaced; deinterlace it first (e.g. ffmpeg -vf bwdif)")
                    rotation[0] = frame.rotation
                    result.size_in = (frame.width, frame.height)
                pts, tb = frame.pts, frame.time_base or video.time_base
                if pts is None:  # no timestamps (some AVI): the frame's place at the nominal rate
                    pts, tb = count, 1 / rate
                arr = frame.to_ndarray(format=rgb, src_colorspace=matrix, src_color_range=rng)
                decoded.put(("frame", arr, pts, tb))
                count += 1
                result.decoded = count
        decoded.put(_END)

    state: dict = {}

    def write() -> None:
        out, ostream, mapping = state["out"], state["stream"], state["mapping"]
        while (item := encoded.get()) is not _END:
            if item[0] == "packet":
                packet = item[1]
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
                continue
            _, arr, pts, tb = item
            frame = av.VideoFrame.from_ndarray(arr, rgb)
            frame = frame.reformat(format=plan.pix_fmt, dst_colorspace=matrix, dst_color_range=rng)
            frame.pts, frame.time_base = pts, tb
            for p in ostream.encode(frame):
                out.mux(p)
        for p in ostream.encode():
            out.mux(p)

    reader = _Stage("video-decode", read, stop)
    writer = _Stage("video-encode", write, stop)
    reader.start()
    try:
        result.frames = _run_model(run, decoded, encoded, state, writer, result, rotation, total)
        encoded.put(_END)
        writer.join()
    except _Stopped:  # a stage stopped the pipe: its own error says why
        pass
    finally:
        stop.set()
        reader.join()
        if writer.is_alive():
            writer.join()
        if "out" in state:
            state["out"].close()
    for stage in (reader, writer):
        if stage.error is not None:
            raise stage.error
    if result.frames == 0:
        raise VideoError(inp.name, "has no decodable video frames")
    return result


def _run_model(run: _Run, decoded, encoded, state, writer, result, rotation, total) -> int:
    """This thread's part: batches of decoded frames → the model → the encoder's queue. Returns frames done."""
    opts, target, plan, av = run.opts, run.target, run.plan, run.av
    done, ended = 0, False
    while not ended:
        frames, held = [], []
        while len(frames) < max(1, opts.batch):
            item = decoded.get()
            if item is _END:
                ended = True
                break
            (frames if item[0] == "frame" else held).append(item)
        if frames:
            result.max_ahead = max(result.max_ahead, result.decoded - done)
            batch = np.stack([f[1] for f in frames])
            out = run.upscale_frames(batch)  # the one call into the engine
            if "out" not in state:
                height, width = out.shape[1:3]
                check_size(target, plan, width, height, av)
                o = _open_output(av, run.tmp, target, run.inp, run.video, plan, width, height)
                state["out"], state["stream"], state["mapping"], result.copied = o
                if rotation[0]:
                    state["stream"].set_display_rotation(rotation[0])
                result.size_out = (width, height)
                writer.start()
            for (_, _, pts, tb), arr in zip(frames, out):
                encoded.put(("frame", arr, pts, tb))
            done += len(frames)
            del batch, out
            if run.on_frames is not None:
                run.on_frames(done, total)
        if "out" in state:
            for item in held:
                encoded.put(item)
    return done
