"""`python -m trainer preview`: a grid image of training pairs as a degradation preset makes them.

Each cell is one sampled LR patch (nearest-neighbour enlarged by the scale, so blocks and noise stay visible)
beside its HR target; the patches are exactly what a run with the same --seed draws at steps 0, 1, ...
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

import numpy as np
import torch

from .config import CHOICES


def add_parser(sub) -> None:
    p = sub.add_parser("preview", help="write a grid PNG of sampled training pairs (LR enlarged | HR)")
    p.add_argument("--data", nargs="+", required=True, help="image folders, as for pretrain")
    p.add_argument("--out", required=True, help="destination .png")
    p.add_argument("--degradation", choices=CHOICES["degradation"], default="real", help="preset (default: real)")
    p.add_argument("--scale", type=int, default=2, choices=(2, 3, 4), help="upscaling factor (default: 2)")
    p.add_argument("--patch", type=int, default=48, help="LR patch side (default: 48)")
    p.add_argument("--count", type=int, default=24, help="pairs in the grid (default: 24)")
    p.add_argument("--images", type=int, default=32, help="images decoded to sample from (default: 32)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    p.add_argument(
        "--real-options", nargs="*", default=[], metavar="FIELD=V[,V]",
        help="override ranges of the real preset, as pretrain takes them (e.g. jpeg_quality=15,80)",
    )  # fmt: skip


def preview_grid(args: argparse.Namespace) -> np.ndarray:
    """uint8 [H,W,3] grid of `count` pairs; rows of four pairs."""
    from .config import real_degradation, real_option
    from .degradations import Microscopy
    from .patches import Degradation, build_pool, sample_batch
    from .sources import lsdir_refs

    refs = [r for d in args.data for r in lsdir_refs(Path(d).expanduser(), args.scale)]
    random.Random(args.seed).shuffle(refs)
    pool = build_pool(refs[: args.images], args.scale, args.patch, workers=1)
    deg = Degradation(
        microscopy=Microscopy() if args.degradation == "microscopy" else None,
        real=real_degradation(dict(map(real_option, args.real_options))) if args.degradation == "real" else None,
    )
    cells = []
    for step in range(args.count):
        lr, hr = sample_batch(pool, 1, args.patch, args.seed, step, deg)
        big = lr.repeat_interleave(args.scale, -1).repeat_interleave(args.scale, -2)
        cells.append(torch.cat([big, torch.ones_like(big[..., :4]), hr], -1)[0])
    cols = 4
    rows = math.ceil(len(cells) / cols)
    h, w, gap = cells[0].shape[1], cells[0].shape[2], 8
    grid = torch.ones(3, rows * (h + gap) - gap, cols * (w + gap) - gap)
    for i, cell in enumerate(cells):
        y, x = (i // cols) * (h + gap), (i % cols) * (w + gap)
        grid[:, y : y + h, x : x + w] = cell
    return (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from tinyespcn_nodes.core.files import atomic_path

    if args.count < 1 or args.patch < 8:
        raise ValueError("preview: --count must be >= 1 and --patch >= 8")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"preview: --out {out} must end in .png")
    grid = preview_grid(args)
    with atomic_path(out) as tmp:
        Image.fromarray(grid, "RGB").save(tmp, format="PNG")
    print(f"wrote {out} ({args.count} pairs, {args.degradation}, x{args.scale})")
    return 0
