"""`python -m tinyespcn_nodes {upscale,demo,info,bench,convert,export-onnx,install-comfyui}`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .allocator import retain_freed_memory
from .imagefiles import READ_SUFFIXES, WRITE_SUFFIXES, ImageFileError

DEFAULT_OUT = "tinyespcn_out"


def _collect_inputs(inputs: list[str]) -> list[Path]:
    from ..core.files import is_temp_name

    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(
                f for f in p.iterdir() if f.suffix.lower() in READ_SUFFIXES and not is_temp_name(f.name) and f.is_file()
            )
        elif p.is_file():
            files.append(p)
        else:
            from .imagefiles import missing_reason

            raise SystemExit(f"error: input {p}: {missing_reason(p).replace('file not found', 'does not exist')}")
    if not files:
        raise SystemExit("error: no image files among the inputs")
    return files


def _output_suffix(src: Path) -> str:
    return ".png" if src.suffix.lower() in (".jpg", ".jpeg", ".webp", ".bmp") else src.suffix.lower()


def plan_outputs(files: list[Path], output: str | None, scale: float) -> list[tuple[Path, Path]]:
    """(input, target) pairs. One input and an `-o` with an image suffix is the output file itself; otherwise
    `-o` is a folder and each target is `STEM_xS.EXT`. Two inputs that would share a name (x.jpg and x.png)
    keep apart as `x_jpg_x2.png`, never overwriting each other."""
    if output and Path(output).name.lower() in WRITE_SUFFIXES:
        raise ValueError(f"-o {output}: a file name needs a stem (e.g. out{Path(output).name}); a folder needs no dot")
    if output and len(files) == 1 and Path(output).suffix.lower() in WRITE_SUFFIXES and not Path(output).is_dir():
        return [(files[0], Path(output))]
    out_dir = Path(output or DEFAULT_OUT)
    if out_dir.is_file():
        raise ValueError(f"-o {out_dir}: is a file; with several inputs -o must be a folder")
    taken: set[str] = set()
    plan = []
    for f in files:
        name = f"{f.stem}_x{scale:g}{_output_suffix(f)}"
        if name.lower() in taken:
            alt = f"{f.stem}_{f.suffix.lower().lstrip('.')}_x{scale:g}{_output_suffix(f)}"
            print(f"note: {f} would also become {name}; writing {alt} instead", file=sys.stderr)
            name = alt
        n = 2
        while name.lower() in taken:
            name, n = f"{f.stem}_{n}_x{scale:g}{_output_suffix(f)}", n + 1
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
    from ..core.files import clean_stale_temps
    from ..core.pipeline import PostProcess, load_models, scale_for_factor, upscale_array
    from ..core.tiling import check_tile
    from .batch import run_bands, run_batch
    from .big_tiff import streamable, upscale_tiff
    from .zarr_job import is_zarr

    if any(is_zarr(i) for i in args.inputs):
        return _upscale_zarr(args)
    files = _collect_inputs(args.inputs)
    scale = scale_for_factor(args.factor) if args.factor else args.scale
    plan = plan_outputs(files, args.output, args.factor or args.scale)
    precision = "auto" if args.half else args.precision
    models = load_models(args.weights, scale, args.device, precision)  # a bad file fails once, here
    for m in models:
        check_tile(args.tile, m, "--tile")
    post = PostProcess(sharpen=args.sharpen, antialias=args.antialias)
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
        return upscale_array(
            img, models=models, tile=args.tile, post=post, on_tile=on_tile, factor=args.factor,
            intensity=args.intensity,
        )  # fmt: skip

    def upscale_big(src, target, on_band):
        return upscale_tiff(
            src, target, models, tile=args.tile, post=post, intensity=args.intensity, on_band=on_band,
            overwrite=args.overwrite,
        )  # fmt: skip

    if args.scheduler != "threads":  # one task per file on dask workers (models loaded once per worker)
        from .cluster_batch import FileJob, run_on_scheduler

        job = FileJob(
            args.weights, scale, args.device, precision, args.tile, args.factor, args.intensity, args.sharpen,
            args.antialias, args.png_level, args.overwrite, args.max_pixels,
        )  # fmt: skip
        report = run_on_scheduler(todo, job, args.scheduler)
    else:
        big = [(f, t) for f, t in todo if streamable(f, t, models, tile=args.tile, factor=args.factor)]
        report = run_batch(
            [p for p in todo if p not in big], upscale, png_level=args.png_level, overwrite=args.overwrite,
            max_pixels=args.max_pixels,
        )  # fmt: skip
        if big and not report.interrupted:
            banded = run_bands(big, upscale_big)
            report.done += banded.done
            report.failed += banded.failed
            report.skipped += banded.skipped
            report.interrupted = banded.interrupted
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


def _upscale_zarr(args: argparse.Namespace) -> int:
    from .zarr_job import upscale_zarr

    if len(args.inputs) != 1 or not args.output:
        raise ValueError("a zarr input is upscaled alone, into a new store: upscale IN.zarr -o OUT.zarr")
    if args.factor or args.sharpen or args.antialias:
        raise ValueError("zarr inputs take --scale only (no --factor, --sharpen or --antialias)")
    try:
        report = upscale_zarr(
            args.inputs[0], args.output, args.scale, args.weights, level=args.level, scheduler=args.scheduler,
            overwrite=args.overwrite, device=args.device, precision="auto" if args.half else args.precision,
            intensity=args.intensity, tile=args.tile,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(
            f"interrupted: finished chunks of {args.output} are kept; run the same command to resume", file=sys.stderr
        )
        return 130
    print(f"wrote {report.output}: {report.written} chunk(s) written, {report.skipped} already done")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .info import describe

    print(describe(args.weights))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .speed_bench import run_bench

    run_bench(
        width=args.width, height=args.height, scales=args.scales, device=args.device,
        memory_test=not args.skip_memory, folder_test=not args.skip_folder, big_test=not args.skip_big, out=args.out,
    )  # fmt: skip
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from ..core.arch.tinyespcn import TinyESPCNConfig
    from ..core.weights import convert_pth

    if Path(args.dst).resolve() == Path(args.src).resolve():
        raise ValueError(f"convert: the output {args.dst} is the input; choose another name")
    cfg = TinyESPCNConfig(scale=args.scale, residual=args.residual)
    print(f"wrote {convert_pth(args.src, args.dst, cfg)}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .onnx_export import export_onnx

    res = export_onnx(args.weights, args.out, args.scale)
    check = (
        "onnxruntime not installed: not checked"
        if res["max_abs_diff"] is None
        else (f"onnxruntime vs torch max |diff| {res['max_abs_diff']:.1e}")
    )
    print(f"wrote {res['path']} (x{res['scale']}, dynamic height/width; {check})")
    return 0


def cmd_install_comfyui(args: argparse.Namespace) -> int:
    from ..hosts.comfy_install import install

    for line in install(Path(args.comfyui), link=not args.copy):
        print(line)
    return 0


def tile_arg(text: str) -> int:
    """`--tile`: "auto" (largest tile that fits the memory budget), 0 (whole image) or a side in LR pixels."""
    from ..core.defaults import AUTO_TILE

    if text.strip().lower() == "auto":
        return AUTO_TILE
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, 0 or a positive integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected auto, 0 or a positive integer, got {text!r}")
    return value


def factor_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (1, 8], got {text!r}") from None
    if not 1 < value <= 8:
        raise argparse.ArgumentTypeError(f"expected a number in (1, 8], got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ..core.defaults import DEFAULT_TILE
    from ..core.devices import DEFAULT_PRECISION, DEVICE_CHOICES, PRECISIONS

    p = argparse.ArgumentParser(prog="python -m tinyespcn_nodes", description="TinyESPCN super-resolution")
    sub = p.add_subparsers(dest="command")
    up = sub.add_parser("upscale", help="upscale files/folders (no input: the bundled demo portrait)")
    up.add_argument("inputs", nargs="*", help="image files or folders, or one zarr / OME-Zarr store (.zarr)")
    up.add_argument(
        "-o",
        "--output",
        help=f"output file when there is one input and it has an image suffix (.png, .tif, .jpg …), "
        f"else an output folder (default ./{DEFAULT_OUT})",
    )
    up.add_argument(
        "--overwrite", action="store_true",
        help="replace output files that already exist (without it they are skipped, and a file that appears "
        "while the run works is never replaced)",
    )  # fmt: skip
    up.add_argument(
        "--max-pixels", type=int, default=None, metavar="N",
        help="largest image decoded whole, in pixels (default 16384x16384 = 268435456; a header claiming more "
        "is refused as a decompression bomb)",
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
        default=2,
        help="2, 3, 4, or 8 (an x8 file, or an x2 file run three times; default at x8: general-x2 three times)",
    )
    up.add_argument(
        "--factor",
        type=factor_arg,
        default=None,
        help="any factor in (1, 8], e.g. 1.5 or 2.5: the smallest model scale that reaches it, then an exact "
        "Lanczos resize inside the same tile loop (overrides --scale)",
    )
    up.add_argument("--weights", help="bundled name (general, portrait, general-x2 …) or a .safetensors path")
    up.add_argument("--sharpen", action="store_true", help="unsharp mask (radius 1.2, 100%%, threshold 1)")
    up.add_argument("--antialias", action="store_true", help="MSAA-style anti-alias (Lanczos ×2, blur 0.5, back)")
    up.add_argument(
        "--tile",
        type=tile_arg,
        default=DEFAULT_TILE,
        help="LR tile side: auto (default: the largest that fits the memory budget), 0 = whole image, or N",
    )
    up.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    up.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
        help="auto (default) = fp16 on CUDA (an overflowing tile is redone in fp32), bf16 on CPUs with native "
        "bf16 (AVX-512 BF16/AMX), else fp32; measured cost <= 0.02 dB Y-PSNR on Set5/Set14",
    )
    up.add_argument("--half", action="store_true", help="same as --precision auto (kept for old scripts)")
    up.add_argument(
        "--scheduler", default="threads",
        help="threads (default: one process), processes, or the address of a running dask.distributed "
        "scheduler (tcp://HOST:PORT): zarr chunks or image files become tasks on its workers; an interrupted "
        "zarr run re-run with the same arguments skips finished chunks",
    )  # fmt: skip
    up.add_argument("--level", type=int, default=0, help="OME-Zarr inputs: the multiscale level to upscale")
    up.set_defaults(func=cmd_upscale)
    demo = sub.add_parser("demo", help="the side-by-side demo on the bundled portrait")
    demo.add_argument("-o", "--output")
    demo.add_argument("--weights")
    demo.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    demo.add_argument("--tile", type=tile_arg, default=DEFAULT_TILE)
    demo.set_defaults(func=cmd_upscale, inputs=[], scale=2)
    info = sub.add_parser("info", help="true parameter and MAC counts of every config and bundled file")
    info.add_argument("--weights", nargs="*", help="weights files to describe too")
    info.set_defaults(func=cmd_info)
    bench = sub.add_parser("bench", help="speed and memory ratios measured in one run")
    bench.add_argument("--width", type=int, default=1920, help="width of the user-path photo")
    bench.add_argument("--height", type=int, default=1080, help="height of the user-path photo")
    bench.add_argument("--skip-folder", action="store_true", help="skip the 16-photo folder run")
    bench.add_argument("--out", help="also write the printed report here (docs/bench.txt)")
    bench.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    bench.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    bench.add_argument("--skip-memory", action="store_true", help="skip the 2048² → 8192² peak-RSS run")
    bench.add_argument("--skip-big", action="store_true", help="skip the 8192² → 16384² big-image rows (~2 GB disk)")
    bench.set_defaults(func=cmd_bench)
    conv = sub.add_parser("convert", help="seed .pth state_dict → safetensors (weights_only load)")
    conv.add_argument("src")
    conv.add_argument("dst")
    conv.add_argument("--scale", type=int, default=2)
    conv.add_argument("--residual", action="store_true")
    conv.set_defaults(func=cmd_convert)
    onx = sub.add_parser("export-onnx", help="the deployed (folded) model as ONNX with dynamic height/width")
    onx.add_argument("weights", help="bundled name (e.g. fast-x2) or a .safetensors path")
    onx.add_argument("out", help="output .onnx file")
    onx.add_argument("--scale", type=int, default=None, help="scale when WEIGHTS is a bare tier name")
    onx.set_defaults(func=cmd_export_onnx)
    inst = sub.add_parser("install-comfyui", help="link this pack and its weights into a ComfyUI folder")
    inst.add_argument("comfyui", help="path of the ComfyUI checkout (the folder holding custom_nodes/)")
    inst.add_argument("--copy", action="store_true", help="copy instead of symlinking")
    inst.set_defaults(func=cmd_install_comfyui)
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line; `argv` None means this process's own arguments, so its allocator is ours to tune."""
    if argv is None:
        retain_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["demo", *(argv or [])])
    try:
        return args.func(args)
    except (OSError, ImageFileError, ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
