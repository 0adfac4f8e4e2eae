"""`python -m tinyespcn_nodes {upscale,demo,models,info,bench,convert,export-onnx,export-bioimageio,install-comfyui}`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...io.imagefiles import READ_SUFFIXES, WRITE_SUFFIXES, ImageFileError
from ...io.video_codec import VIDEO_SUFFIXES, VIDEO_WRITE_SUFFIXES, VideoOptions, is_video, video_suffix
from .allocator import retain_freed_memory
from .arg_types import factor_arg, quality_arg, strength_arg
from .output_format import DEFAULT_QUALITY, FORMATS, check_format_matches, output_suffix

DEFAULT_OUT = "tinyespcn_out"
DEVICE_HELP = "auto (default: CUDA, else MPS, else CPU), cpu, cuda or mps"


def _collect_inputs(inputs: list[str]) -> list[Path]:
    from ...core.files import is_temp_name

    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(
                f
                for f in p.iterdir()
                if f.suffix.lower() in READ_SUFFIXES | VIDEO_SUFFIXES and not is_temp_name(f.name) and f.is_file()
            )
        elif p.is_file():
            files.append(p)
        else:
            from ...io.imagefiles import missing_reason

            raise SystemExit(f"error: input {p}: {missing_reason(p).replace('file not found', 'does not exist')}")
    if not files:
        raise SystemExit("error: no image or video files among the inputs")
    return files


def plan_outputs(
    files: list[Path], output: str | None, scale: float, tag: str | None = None, fmt: str = "keep"
) -> list[tuple[Path, Path]]:
    """(input, target) pairs. One input and an `-o` with an image suffix is the output file itself; otherwise
    `-o` is a folder and each target is `STEM_TAG.EXT` (TAG `x2`, or `x2_fast-x2` for a non-default model; EXT
    the input's own unless `fmt` names one). Two inputs that would share a name (x.jpg and x.png with
    `--format png`) keep apart as `x_jpg_x2.png`, never overwriting each other."""
    tag = tag or f"x{scale:g}"
    if output and Path(output).name.lower() in WRITE_SUFFIXES:
        raise ValueError(f"-o {output}: a file name needs a stem (e.g. out{Path(output).name}); a folder needs no dot")
    if (
        output
        and len(files) == 1
        and Path(output).suffix.lower() in WRITE_SUFFIXES | VIDEO_WRITE_SUFFIXES
        and not Path(output).is_dir()
    ):
        if is_video(files[0]) != is_video(output):
            kind = "a video" if is_video(files[0]) else "an image"
            raise ValueError(f"-o {output}: {files[0]} is {kind}, so the output must be {kind} file too")
        if not is_video(output):
            check_format_matches(Path(output), fmt)
        return [(files[0], Path(output))]
    out_dir = Path(output or DEFAULT_OUT)
    if out_dir.is_file():
        raise ValueError(f"-o {out_dir}: is a file; with several inputs -o must be a folder")
    taken: set[str] = set()
    plan = []
    for f in files:
        suffix = video_suffix(f) if is_video(f) else output_suffix(f, fmt)
        name = f"{f.stem}_{tag}{suffix}"
        if name.lower() in taken:
            alt = f"{f.stem}_{f.suffix.lower().lstrip('.')}_{tag}{suffix}"
            print(f"note: {f} would also become {name}; writing {alt} instead", file=sys.stderr)
            name = alt
        n = 2
        while name.lower() in taken:
            name, n = f"{f.stem}_{n}_{tag}{suffix}", n + 1
        taken.add(name.lower())
        plan.append((f, out_dir / name))
    return plan


def cmd_upscale(args: argparse.Namespace) -> int:
    from PIL import Image

    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # our header check (--max-pixels) rules
    try:
        return _cmd_upscale(args)
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit


def _cmd_upscale(args: argparse.Namespace) -> int:
    if not args.inputs:
        from .demo import run_demo

        path = run_demo(Path(args.output or DEFAULT_OUT), weights=args.weights, device=args.device, tile=args.tile)
        print(f"wrote {path}")
        return 0
    from ...core.files import clean_stale_temps
    from ...core.filters import PostProcess
    from ...core.progress import Progress
    from ...engine.job import prepare
    from ...engine.options import UpscaleOptions
    from ...io.stills import streamable_still, upscale_still
    from ...io.tiff import streamable, upscale_tiff
    from ...io.zarr_job import is_zarr
    from .batch import BatchReport, run_bands, run_batch
    from .model_choice import model_label, model_name, output_tag, pick_scale

    args.scale = pick_scale(args.weights, args.scale, args.factor)  # `--weights general-x4` alone runs x4
    if any(is_zarr(i) for i in args.inputs):
        return _upscale_zarr(args)
    files = _collect_inputs(args.inputs)
    from ...core.strength import default_for_files
    from ...engine.chain import scale_for_factor

    weights = default_for_files(args.weights, files, scale_for_factor(args.factor) if args.factor else args.scale)
    if weights != args.weights:
        print(f"JPEG/WEBP input: using {weights} (--weights general keeps the clean model)", file=sys.stderr)
        args.weights = weights
    options = upscale_options(args, UpscaleOptions, PostProcess(sharpen=args.sharpen, antialias=args.antialias))
    job = prepare(options, "--tile")  # a bad file or tile fails once, here
    models, scale = job.models, options.target_scale
    name = model_name(args.weights, scale)
    label = model_label(name, len(models))
    plan = plan_outputs(
        files, args.output, args.factor or scale, output_tag(name, args.factor or scale, scale), args.format
    )
    inputs = {f.resolve() for f in files}
    failures, skipped = 0, 0
    todo = []
    for folder in {t.parent for _, t in plan}:
        for stale in clean_stale_temps(folder):
            print(f"note: removed {stale}, left by an interrupted run", file=sys.stderr)
    for f, target in plan:
        if target.resolve() in inputs:
            print(f"error: {target} would overwrite an input; choose another -o", file=sys.stderr)
            failures += 1
        elif target.is_dir():
            print(f"error: {target} is a folder; choose another -o", file=sys.stderr)
            failures += 1
        elif target.exists() and not args.overwrite:
            print(f"skipped {f}: {target} exists (pass --overwrite to replace it)", file=sys.stderr)
            skipped += 1
        else:
            todo.append((f, target))

    def upscale(img, on_tile):
        return job.run_array(img, Progress(on_tile))

    def upscale_big(src, target, on_band):
        if src in stills:  # PNG / JPEG / WEBP out, band by band
            return upscale_still(
                src, target, job, Progress(on_band), png_level=args.png_level, quality=args.quality,
                max_pixels=args.max_pixels,
            )  # fmt: skip
        return upscale_tiff(src, target, job, Progress(on_band), overwrite=args.overwrite, max_pixels=args.max_pixels)

    videos = [(f, t) for f, t in todo if is_video(f)]  # streamed frame by frame here, on any scheduler
    todo = [p for p in todo if p not in videos]
    from .frames_batch import run_frames, split_frames

    multi, todo, frames, refused = split_frames(todo, args.max_pixels)  # animations, multi-page TIFFs: here too
    failures += refused
    stills: set[Path] = set()
    if args.scheduler != "threads":  # one task per file on dask workers (models loaded once per worker)
        from .cluster import FileJob, run_on_scheduler

        file_job = FileJob(options, args.png_level, args.overwrite, args.max_pixels)
        report = run_on_scheduler(todo, file_job, args.scheduler)
    else:
        stills = {f for f, t in todo if streamable_still(f, t, job)}
        big = [(f, t) for f, t in todo if f in stills or streamable(f, t, job)]
        small = [p for p in todo if p not in big]
        report = (
            run_batch(
                small,
                upscale,
                png_level=args.png_level,
                quality=args.quality,
                model=label,
                overwrite=args.overwrite,
                max_pixels=args.max_pixels,
            )  # fmt: skip
            if small
            else BatchReport()
        )
        if big and not report.interrupted:
            banded = run_bands(big, upscale_big, model=label)
            report.done += banded.done
            report.failed += banded.failed
            report.skipped += banded.skipped
            report.interrupted = banded.interrupted
    if multi and not report.interrupted:
        report.merge(
            run_frames(multi, job.run_array, frames, overwrite=args.overwrite, quality=args.quality, model=label)
        )
    if videos and not report.interrupted:
        from .video_batch import run_videos

        clips = run_videos(videos, _frames_fn(job), _video_options(args))
        report.done += clips.done
        report.failed += clips.failed
        report.interrupted = clips.interrupted
    failures += len(report.failed)
    skipped += len(report.skipped)
    if report.interrupted:
        print(f"interrupted: {len(report.done)} of {len(plan)} file(s) written, none left partial", file=sys.stderr)
        return 130
    if failures:
        print(
            f"{failures} of {len(plan)} file(s) failed" + (f", {skipped} skipped (exists)" * bool(skipped)),
            file=sys.stderr,
        )
    elif skipped:
        print(f"{len(report.done)} of {len(plan)} file(s) written, {skipped} skipped (exists)", file=sys.stderr)
    return 1 if failures else 0


def upscale_options(args: argparse.Namespace, options_cls, post):
    """The `upscale` arguments as engine options (`--half` is the old name of `--precision auto`)."""
    return options_cls(
        weights=args.weights, scale=args.scale, factor=args.factor or None, tile=args.tile, device=args.device,
        precision="auto" if args.half else args.precision, intensity=args.intensity, post=post,
        strength=getattr(args, "strength", 1.0),
    )  # fmt: skip


def _frames_fn(job):
    """Video frames (BHWC) through the same job as images; no per-frame intensity window (it would flicker)."""
    from dataclasses import replace

    frames_job = type(job)(replace(job.options, intensity=None), job.models)

    def upscale_frames(frames):
        return frames_job.run_array(frames)

    return upscale_frames


def _video_options(args: argparse.Namespace) -> VideoOptions:
    if args.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {args.batch}")
    if args.crf is not None and not 0 <= args.crf <= 63:
        raise ValueError(f"--crf must be in 0-63, got {args.crf}")
    return VideoOptions(codec=args.codec, crf=args.crf, pix_fmt=args.pix_fmt, batch=args.batch)


def _upscale_zarr(args: argparse.Namespace) -> int:
    from ...core.filters import PostProcess
    from ...engine.options import UpscaleOptions
    from ...io.zarr_job import upscale_zarr

    if len(args.inputs) != 1 or not args.output:
        raise ValueError("a zarr input is upscaled alone, into a new store: upscale IN.zarr -o OUT.zarr")
    if args.factor or args.sharpen or args.antialias or args.strength != 1.0:
        raise ValueError("zarr inputs take --scale only (no --factor, --sharpen, --antialias or --strength)")
    try:
        options = upscale_options(args, UpscaleOptions, PostProcess())
        report = upscale_zarr(
            args.inputs[0], args.output, options, level=args.level, scheduler=args.scheduler, overwrite=args.overwrite
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: finished chunks of {args.output} are kept; run the same command to resume", file=sys.stderr
        )
        return 130
    print(f"wrote {report.output}: {report.written} chunk(s) written, {report.skipped} already done")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ...core.model_table import model_rows, render_markdown, render_text
    from .readme_block import replace_block

    if args.update_costs:
        from ...core.model_table import write_cost_table

        print(f"wrote {write_cost_table()}")
    rows = model_rows()
    if args.readme:
        replace_block(Path(args.readme), "models", render_markdown(rows))
        print(f"updated the models table in {args.readme}")
        return 0
    print(render_markdown(rows) if args.markdown else render_text(rows))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .info import describe

    print(describe(args.weights))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.video:
        from .bench.video import run_video_bench

        run_video_bench(frames=args.video_frames, device=args.device, out=args.out, readme=args.readme)
        return 0
    from .bench.report import BenchPlan, run_bench

    plan = BenchPlan(
        width=args.width, height=args.height, scales=tuple(args.scales), device=args.device,
        memory_test=not args.skip_memory, folder_test=not args.skip_folder, big_test=not args.skip_big,
        startup_test=not args.skip_startup,
    )  # fmt: skip
    run_bench(plan, out=args.out)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from ...core.arch.tinyespcn import TinyESPCNConfig
    from ...core.weights import convert_pth

    if Path(args.dst).resolve() == Path(args.src).resolve():
        raise ValueError(f"convert: the output {args.dst} is the input; choose another name")
    cfg = TinyESPCNConfig(scale=args.scale, residual=args.residual)
    print(f"wrote {convert_pth(args.src, args.dst, cfg)}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from ...io.onnx_export import export_onnx

    res = export_onnx(args.weights, args.out, args.scale)
    check = (
        "onnxruntime not installed: not checked"
        if res["max_abs_diff"] is None
        else (f"onnxruntime vs torch max |diff| {res['max_abs_diff']:.1e}")
    )
    print(f"wrote {res['path']} (x{res['scale']}, dynamic height/width; {check})")
    return 0


def cmd_export_bioimageio(args: argparse.Namespace) -> int:
    from ...io.bioimageio_export import export_bioimageio

    res = export_bioimageio(args.weights, args.out, args.scale, name=args.name)
    print(f"wrote {res['path']} (x{res['scale']}, halo {res['halo']} output px; bioimageio test: {res['test']})")
    return 0


def cmd_install_comfyui(args: argparse.Namespace) -> int:
    from ..comfy.install import install

    for line in install(Path(args.comfyui), link=not args.copy):
        print(line)
    return 0


def tile_arg(text: str) -> int:
    """`--tile`: "auto" (largest tile that fits the memory budget), 0 (whole image) or a side in LR pixels."""
    from ...core.defaults import AUTO_TILE

    if text.strip().lower() == "auto":
        return AUTO_TILE
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, 0 or a positive integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected auto, 0 or a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ...core.defaults import DEFAULT_PRECISION, DEFAULT_TILE, DEVICE_CHOICES, PRECISIONS

    p = argparse.ArgumentParser(prog="python -m tinyespcn_nodes", description="TinyESPCN super-resolution")
    sub = p.add_subparsers(dest="command")
    up = sub.add_parser("upscale", help="upscale files/folders (no input: the bundled demo portrait)")
    up.add_argument(
        "inputs", nargs="*", help="image or video files (.mp4 .mkv .mov .webm .avi) or folders of them, "
        "or one zarr / OME-Zarr store (.zarr)",
    )  # fmt: skip
    up.add_argument(
        "-o",
        "--output",
        help=f"output file when there is one input and it has an image suffix (.png, .tif, .jpg …), "
        f"else an output folder of STEM_xS.EXT files (STEM_xS_MODEL.EXT for a non-default model; default ./{DEFAULT_OUT})",
    )
    up.add_argument(
        "--format", choices=FORMATS, default="keep",
        help="output file format: keep (default) = the input's own (JPEG quality --quality with 4:4:4 chroma, WEBP, "
        "PNG, TIFF; ICC profile and EXIF kept in every format), or png, jpeg, webp, tiff",
    )  # fmt: skip
    up.add_argument(
        "--quality", type=quality_arg, default=DEFAULT_QUALITY, metavar="1-100",
        help=f"JPEG/WEBP quality (default {DEFAULT_QUALITY}; PNG and TIFF are lossless)",
    )  # fmt: skip
    up.add_argument(
        "--overwrite", action="store_true",
        help="replace output files that already exist (default: off; without it they are skipped, and a file that "
        "appears while the run works is never replaced)",
    )  # fmt: skip
    up.add_argument(
        "--max-pixels", type=int, default=None, metavar="N",
        help="largest image read, in pixels x frames, whole or in bands (default 16384x16384 = 268435456; a "
        "header claiming more is refused as a decompression bomb)",
    )  # fmt: skip
    up.add_argument(
        "--png-level", type=int, choices=range(10), default=None, metavar="0-9",
        help="zlib level of PNG outputs (default 1: fastest, somewhat larger files than Pillow's 6; lossless at any level)",
    )  # fmt: skip
    up.add_argument(
        "--intensity",
        choices=("auto", "range", "percentile"),
        default="auto",
        help="how values reach the model: auto (default) = dtype range for 8-bit files, 0.1-99.9%% percentiles "
        "for 16-bit and float files (dim micrographs); range = the dtype's range; percentile = always",
    )
    up.add_argument(
        "--scale",
        type=int,
        choices=(2, 3, 4, 8),
        default=None,
        help="2, 3, 4, or 8 (an x8 file, or an x2 file run three times; default at x8: general-x2 three times). "
        "Default: the scale of the --weights file (general-x4 runs x4), else 2",
    )
    up.add_argument(
        "--factor",
        type=factor_arg,
        default=None,
        help="any factor in (1, 8], e.g. 1.5 or 2.5: the smallest model scale that reaches it, then an exact "
        "Lanczos resize inside the same tile loop (overrides --scale; default: none, the model's scale)",
    )
    up.add_argument(
        "--weights",
        help="bundled name (general-x4, fast-x2, pyramid-x8 …; a family such as fast takes --scale) or a "
        ".safetensors path; `python -m tinyespcn_nodes models` lists them (default: general-xS for the scale)",
    )
    up.add_argument(
        "--strength", type=strength_arg, default=1.0,
        help="photo and portrait models (photo-x2/x4, photo-fast-x2, portrait-x2/x4): restoration strength 0-1, "
        "0 = their clean model (general-x2, balanced-x4, fast-x2), 1 = full JPEG/noise/blur removal (default: 1)",
    )  # fmt: skip
    up.add_argument(
        "--sharpen", action="store_true", help="unsharp mask (radius 1.2, 100%%, threshold 1) (default: off)"
    )
    up.add_argument(
        "--antialias", action="store_true", help="MSAA-style anti-alias (Lanczos ×2, blur 0.5, back) (default: off)"
    )
    up.add_argument(
        "--tile",
        type=tile_arg,
        default=DEFAULT_TILE,
        help="LR tile side: auto (default: the largest that fits the memory budget), 0 = whole image, or N",
    )
    up.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help=DEVICE_HELP)
    up.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
        help="auto (default) = fp16 on CUDA (an overflowing tile is redone in fp32), bf16 on CPUs with native "
        "bf16 (AVX-512 BF16/AMX), else fp32; measured cost <= 0.02 dB Y-PSNR on Set5/Set14",
    )
    up.add_argument(
        "--half", action="store_true", help="same as --precision auto (kept for old scripts) (default: off)"
    )
    up.add_argument(
        "--scheduler", default="threads",
        help="threads (default: one process), processes, or the address of a running dask.distributed "
        "scheduler (tcp://HOST:PORT): zarr chunks or image files become tasks on its workers; an interrupted "
        "zarr run re-run with the same arguments skips finished chunks",
    )  # fmt: skip
    up.add_argument("--level", type=int, default=0, help="OME-Zarr inputs: the multiscale level to upscale (default 0)")
    up.add_argument(
        "--codec", help="video encoder (libx264, libx265, libvpx-vp9, libsvtav1, ffv1 …; default: the input's "
        "codec when this FFmpeg can write it into the output container, else libx264, or libvpx-vp9 for .webm)",
    )  # fmt: skip
    up.add_argument(
        "--crf", type=int, help="video quality, lower = better (default: visually lossless, 16 for libx264, "
        "18 libx265, 20 libvpx-vp9, 24 libsvtav1)",
    )  # fmt: skip
    up.add_argument(
        "--pix-fmt", help="video pixel format (default yuv420p, which every player decodes; a 10-bit input stays "
        "10-bit: yuv420p10le)",
    )  # fmt: skip
    up.add_argument("--batch", type=int, default=4, help="video frames per model call (default 4)")
    up.set_defaults(func=cmd_upscale)
    demo = sub.add_parser("demo", help="the side-by-side demo on the bundled portrait")
    demo.add_argument("-o", "--output", help=f"folder for demo_side_by_side.png (default ./{DEFAULT_OUT})")
    demo.add_argument("--weights", help="x2 weights: bundled name or .safetensors path (default: general-x2)")
    demo.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help=DEVICE_HELP)
    demo.add_argument("--tile", type=tile_arg, default=DEFAULT_TILE, help="LR tile side: auto (default), 0 or N")
    demo.set_defaults(func=cmd_upscale, inputs=[], scale=2)
    models = sub.add_parser("models", help="one row per bundled file: scale, MACs per LR pixel, use, stored quality")
    models.add_argument(
        "--markdown", action="store_true", help="print a Markdown table, as in the README (default: plain text)"
    )
    models.add_argument(
        "--readme", default=None,
        help="rewrite the 'Choosing a model' table of this README between its models:begin/end markers (default: none)",
    )  # fmt: skip
    models.add_argument(
        "--update-costs", action="store_true",
        help="recount every shipped file's MACs into tinyespcn_nodes/data/model_costs.json, which lets `models` "
        "answer without importing torch (default: off)",
    )  # fmt: skip
    models.set_defaults(func=cmd_models)
    info = sub.add_parser("info", help="true parameter and MAC counts of every config and bundled file")
    info.add_argument("--weights", nargs="*", help="weights files to describe too (default: none)")
    info.set_defaults(func=cmd_info)
    bench = sub.add_parser("bench", help="speed and memory ratios measured in one run")
    bench.add_argument("--width", type=int, default=1920, help="width of the user-path photo (default 1920)")
    bench.add_argument("--height", type=int, default=1080, help="height of the user-path photo (default 1080)")
    bench.add_argument("--skip-folder", action="store_true", help="skip the 16-photo folder run (default: off)")
    bench.add_argument("--out", help="also write the printed report here, e.g. docs/bench.txt (default: none)")
    bench.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4], help="scales to time (default 2 3 4)")
    bench.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help=DEVICE_HELP)
    bench.add_argument(
        "--video", action="store_true", help="only the video and streaming rows: 720p → 1440p frames/s (whole "
        "path and model only, vs OpenCV ESPCN) and the 4096² → 8192² PNG/JPEG peak RSS (default: off)",
    )  # fmt: skip
    bench.add_argument("--video-frames", type=int, default=12, help="frames in the --video clip (default 12)")
    bench.add_argument(
        "--readme", help="with --video: also write the rows into this file's video-bench block (default: none)"
    )
    bench.add_argument(
        "--skip-startup", action="store_true", help="skip the whole-process start-up rows vs OpenCV (default: off)"
    )
    bench.add_argument("--skip-memory", action="store_true", help="skip the 2048² → 8192² peak-RSS run (default: off)")
    bench.add_argument(
        "--skip-big", action="store_true", help="skip the 8192² → 16384² big-image rows, ~2 GB disk (default: off)"
    )
    bench.set_defaults(func=cmd_bench)
    conv = sub.add_parser("convert", help="seed .pth state_dict → safetensors (weights_only load)")
    conv.add_argument("src", help="seed state_dict (.pth), read with weights_only=True")
    conv.add_argument("dst", help="output .safetensors file")
    conv.add_argument("--scale", type=int, default=2, help="the scale the seed file was trained for (default 2)")
    conv.add_argument(
        "--residual", action="store_true", help="the seed file has the residual trunk variant (default: off)"
    )
    conv.set_defaults(func=cmd_convert)
    onx = sub.add_parser("export-onnx", help="the deployed (folded) model as ONNX with dynamic height/width")
    onx.add_argument("weights", help="bundled name (e.g. fast-x2) or a .safetensors path")
    onx.add_argument("out", help="output .onnx file")
    onx.add_argument(
        "--scale", type=int, default=None, help="scale when WEIGHTS is a bare tier name (default: the file's own)"
    )
    onx.set_defaults(func=cmd_export_onnx)
    bio = sub.add_parser("export-bioimageio", help="a bioimage.io model package (.zip) for deepImageJ, napari …")
    bio.add_argument("weights", help="bundled name (e.g. general-x2) or a .safetensors path")
    bio.add_argument("out", help="output .zip file")
    bio.add_argument("--scale", type=int, default=None, help="scale when WEIGHTS is a bare tier name (default: none)")
    bio.add_argument("--name", default=None, help="the model's name in the package (default: from the file)")
    bio.set_defaults(func=cmd_export_bioimageio)
    inst = sub.add_parser("install-comfyui", help="link this pack into a ComfyUI folder (its weights come along)")
    inst.add_argument("comfyui", help="path of the ComfyUI checkout (the folder holding custom_nodes/)")
    inst.add_argument("--copy", action="store_true", help="copy instead of symlinking (default: off, symlink)")
    inst.set_defaults(func=cmd_install_comfyui)
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line; `argv` None means this process's own arguments, so its allocator is ours to tune."""
    if argv is None:
        retain_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no subcommand: say what there is (the demo is `demo`)
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (OSError, ImageFileError, ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
