"""`python -m trainer eval | export | bench`."""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from tinyespcn_nodes.core.shared import shared_path

from .bench_sets import SET_NAMES
from .photo_bench import DEFAULT_PHOTO_VAL

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BASELINES = REPO / "weights" / "baselines"
DEFAULT_CROPS = ("Set5=butterfly", "Set14=img_005", "Faces=")
CHAINED_AT_X8 = ("general-x2", "seed-x2", "balanced-x2", "fast-x2")


def add_parsers(sub) -> None:
    ev = sub.add_parser("eval", help="score weights files on benchmark sets (Y-PSNR/SSIM, border = scale, + LPIPS)")
    ev.add_argument("weights", nargs="+", help=".safetensors files of any registered architecture, or bundled names")
    _add_common(ev)
    ex = sub.add_parser("export", help="run folder or checkpoint → safetensors weights with full metadata")
    ex.add_argument("source", help="run folder (uses its last.pt) or a checkpoint file")
    ex.add_argument("--out", required=True, help="destination .safetensors")
    ex.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    ex.add_argument("--no-measure", action="store_true", help="skip re-measuring the validation metrics")
    ex.add_argument(
        "--note", default=None, help="free text stored with the training metadata (shown in the model card)"
    )
    ex.add_argument(
        "--blend-with", default=None, metavar="CLEAN",
        help="mix the run's weights with this clean file of the same architecture (name or path; trainer/blend.py)",
    )  # fmt: skip
    ex.add_argument("--blend", type=float, default=1.0, metavar="T", help="share of the run's weights in the mix, 0-1")
    be = sub.add_parser("bench", help="full benchmark: bicubic, bundled models, baselines, OpenCV; Markdown/JSON/crops")
    be.add_argument("--weights", nargs="*", default=None, help="weights to compare (default: every bundled model)")
    be.add_argument(
        "--baselines",
        nargs="*",
        default=None,
        help=f"baseline weights (default: {DEFAULT_BASELINES.relative_to(REPO)}/*)",
    )
    be.add_argument(
        "--opencv",
        default=str(shared_path("weights", "opencv_dnn_superres")),  # follows TINYESPCN_SHARED
        help="folder with OpenCV dnn_superres .pb files ('' = none; default: %(default)s)",
    )
    be.add_argument(
        "--crops",
        nargs="*",
        default=list(DEFAULT_CROPS),
        metavar="SET=IMAGE",
        help="images shown in the crop grids (empty IMAGE = the set's first)",
    )
    be.add_argument("--card", default=None, help="also render the model card here (e.g. weights/MODEL_CARD.md)")
    be.add_argument("--readme", default=None, help="also replace the benchmark block of this README")
    be.add_argument(
        "--photo-val",
        default=str(DEFAULT_PHOTO_VAL),
        help="held-out photos for the real-photo table (trainer photo-split; default: %(default)s)",
    )
    be.add_argument(
        "--photo-only",
        action="store_true",
        help="run only the real-photo table (and put only its block into --card / --readme)",
    )
    be.add_argument("--no-faces", action="store_true", help="leave the held-out faces out of the real-photo table")
    _add_common(be)
    pc = sub.add_parser("photo-cases", help="Y-PSNR gain over bicubic per real-photo case for any weights files")
    pc.add_argument("weights", nargs="+", help=".safetensors files or bundled names of one scale")
    pc.add_argument("--scale", type=int, default=None, help="default: the first file's scale")
    pc.add_argument("--photo-val", default=str(DEFAULT_PHOTO_VAL), help="held-out photos (default: %(default)s)")
    pc.add_argument("--set", default=None, help="a benchmark set instead (e.g. Faces, WildFaces: never trained on)")
    pc.add_argument("--limit", type=int, default=0, help="--set: its first N images (0 = all)")
    pc.add_argument(
        "--strengths", nargs="+", type=float, default=[1.0], metavar="S",
        help="restoration strengths for photo/portrait names (mixed with their clean partner; default: 1)",
    )  # fmt: skip
    pc.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    from .photo_split import add_parser as add_photo_split
    from .preview import add_parser as add_preview

    add_photo_split(sub)
    add_preview(sub)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sets", nargs="*", default=None, help=f"{' '.join(SET_NAMES)} (default: those present)")
    p.add_argument("--limit", type=int, default=0, help="at most N images per set (0 = all)")
    p.add_argument("--scales", nargs="*", type=int, default=None, help="default: the scales of the weights")
    p.add_argument("--no-lpips", action="store_true", help="leave out LPIPS")
    p.add_argument("--out", default=None, help="folder for results.md/json and crop grids")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")


def machine_description(device: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    features = []
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), cpu)
        flags = set(next((ln.split(":", 1)[1].split() for ln in info if ln.startswith("flags")), []))
        features = [name for flag, name in (("avx512f", "AVX-512"), ("amx_bf16", "AMX-BF16")) if flag in flags]
    except OSError:
        pass
    if features:
        cpu += f" ({', '.join(features)})"
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return f"{cpu}, {os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads (torch {torch.__version__})"


def run(args: argparse.Namespace) -> int:
    import torch

    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    if args.command == "export":
        from .export import export_run

        if args.blend_with:
            from functools import partial

            from .blend import export_blended

            export = partial(export_run, use_ema=not args.raw)
            path = export_blended(export, Path(args.source), Path(args.out), args.blend_with, args.blend, args.note)
        else:
            path = export_run(args.source, args.out, use_ema=not args.raw, measure=not args.no_measure, note=args.note)
        print(f"wrote {path}")
        return 0
    if args.command in ("eval", "bench"):
        return _benchmark(args)
    if args.command == "photo-cases":
        from tinyespcn_nodes.core.catalog import resolve_weights
        from tinyespcn_nodes.core.weights import load_model

        from .bench_sets import load_set
        from .evaluate import load_pairs
        from .photo_bench import files_table

        scale = args.scale or load_model(resolve_weights(args.weights[0]))[1].scales[0]
        pairs = (
            load_set(args.set, scale, limit=args.limit)
            if args.set
            else load_pairs(Path(args.photo_val).expanduser(), scale)
        )
        print(files_table(args.weights, scale, pairs, torch.device("cpu"), args.strengths))
        return 0
    if args.command == "photo-split":
        from .photo_split import run as photo_split

        return photo_split(args)
    if args.command == "preview":
        from .preview import run as preview

        return preview(args)
    raise SystemExit(f"unknown command {args.command}")


def _benchmark(args: argparse.Namespace) -> int:

    from tinyespcn_nodes.core.catalog import bundled, resolve_weights
    from tinyespcn_nodes.engine.models import pick_device

    from .bench_report import markdown, write_outputs
    from .bench_sets import available_sets
    from .lpips import shared_lpips
    from .quality_bench import bicubic_row, chained_row, model_rows, opencv_rows, run_scale

    device = pick_device(args.device)
    if args.command == "bench" and args.photo_only:
        return _photo_bench(args, device)
    if args.command == "eval":
        weights = [resolve_weights(w) for w in args.weights]
        baselines, opencv_dir, crops = [], None, {}
    else:
        weights = [resolve_weights(w) for w in args.weights] if args.weights is not None else list(bundled().values())
        baselines = (
            [Path(b) for b in args.baselines]
            if args.baselines is not None
            else sorted(DEFAULT_BASELINES.glob("*.safetensors"))
        )
        opencv_dir = Path(args.opencv) if args.opencv else None
        crops = dict(c.split("=", 1) for c in args.crops)
    sets = args.sets or available_sets()
    if not sets:
        raise SystemExit("no benchmark sets found (expected ../shared/data/benchmarks beside the checkout)")
    lpips = None if args.no_lpips else shared_lpips()
    if lpips is None and not args.no_lpips:
        print("LPIPS left out: ../shared/weights/alexnet_features.safetensors or the LPIPS heads are missing")
    rows_by_file = [r for w in [*weights, *baselines] for r in model_rows(w, device)]
    scales = args.scales or sorted({r.scale for r in rows_by_file}) or [2, 3, 4]
    if 8 in scales:  # x8 without an x8 file is x2 three times: show that path for each bundled x2 product tier
        rows_by_file += [chained_row(w, device) for w in weights if w.stem in CHAINED_AT_X8]
    results = []
    for scale in scales:
        rows = [bicubic_row(scale), *[r for r in rows_by_file if r.scale == scale]]
        if opencv_dir:
            rows += opencv_rows(opencv_dir, scale)
        results.append(run_scale(scale, rows, sets, lpips, crops, limit=args.limit))
    machine = machine_description(str(device))
    protocol = (
        "Y-channel PSNR (dB) / SSIM (11×11 Gaussian, σ 1.5) with a border of `scale` pixels on 8-bit outputs; LR = "
        "MATLAB-bicubic (antialiased) downscale of the HR mod-cropped to the scale"
        + ("; LPIPS = AlexNet v0.1 on full RGB images (lower is better)" if lpips is not None else "")
        + "; Faces = the 20 CelebA-HQ faces held out from the portrait fine-tune, resized to 512²"
        + "; WildFaces = square face crops of the 7 portraits_wild photos (another source, never trained on), 512²"
        + f"; ms = best of 3 for one 256² LR input on {machine}. (n) = images per set."
    )
    table = markdown(results, protocol)
    print(table)
    if args.out:
        for kind, path in write_outputs(results, Path(args.out), protocol, machine).items():
            print(f"wrote {kind}: {path}")
    if args.command == "bench" and (args.card or args.readme):
        from .checkpoint import write_text_atomic
        from .model_card import render, update_readme

        if args.card:
            card = Path(args.card)
            crop_links = (
                [os.path.relpath(Path(args.out) / f"crops_x{r.scale}.png", card.parent) for r in results]
                if args.out
                else []
            )
            shipped = [w for w in weights if w.parent.resolve() == (REPO / "weights").resolve()]
            write_text_atomic(card, render(shipped or weights, table, crop_links, machine, baselines))
            print(f"wrote model card: {card}")
        if args.readme:
            update_readme(Path(args.readme), table)
            print(f"updated {args.readme}")
        if Path(args.photo_val).expanduser().is_dir():
            _photo_bench(args, device)
    return 0


def _photo_bench(args: argparse.Namespace, device) -> int:
    from .face_bench import faces_table, load_face_sets
    from .lpips import shared_lpips
    from .photo_bench import photo_scales, photo_table, put_block

    lpips = None if args.no_lpips else shared_lpips()
    if lpips is None and not args.no_lpips:
        print("LPIPS left out: ../shared/weights/alexnet_features.safetensors or the LPIPS heads are missing")
    opencv_dir = Path(args.opencv) if args.opencv else None
    table = photo_table(Path(args.photo_val), lpips, device, opencv_dir)
    if not args.no_faces:
        faces = faces_table(device, photo_scales(), lambda scale: load_face_sets(scale, args.limit))
        table = f"{table}\n\n{faces}".strip()
    print(table)
    if args.card:
        if args.photo_only:
            from tinyespcn_nodes.core.catalog import bundled

            from .photo_bench import refresh_card_files

            shipped = [p for p in bundled().values() if p.parent.resolve() == (REPO / "weights").resolve()]
            refresh_card_files(Path(args.card), shipped, sorted(DEFAULT_BASELINES.glob("*.safetensors")))
        put_block(Path(args.card), table, heading="## Real-photo degradations (held-out photos)")
        print(f"updated model card: {args.card}")
    if args.readme:
        put_block(Path(args.readme), table)
        print(f"updated {args.readme}")
    return 0
