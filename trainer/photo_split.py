"""`python -m trainer photo-split`: a seeded train / validation split of a photo folder, built outside the tree.

The training half is a folder of links to the original files; the validation half is a centre crop of each
held-out photo saved as PNG (`crop` pixels square, so validation and the photo bench stay quick on CPUs).
Photo models never see the held-out images; `trainer bench --photo` measures on them.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from .sources import list_images

DEFAULT_OUT = "~/.cache/tinyespcn/data"


def add_parser(sub) -> None:
    p = sub.add_parser("photo-split", help="seeded train/validation split of a photo folder (links + PNG crops)")
    p.add_argument("source", help="folder of photos, e.g. ../shared/data/train/photos2k")
    p.add_argument("--out", default=DEFAULT_OUT, help="writes NAME-train/ and NAME-val/ here (default: %(default)s)")
    p.add_argument("--val", type=int, default=10, help="photos held out (default: %(default)s)")
    p.add_argument("--crop", type=int, default=480, help="side of the validation centre crops (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default: %(default)s)")


def split(source: Path, out: Path, n_val: int, crop: int, seed: int = 0) -> tuple[Path, Path, list[str]]:
    """Returns the train and validation folders and the held-out file names (sorted)."""
    from PIL import Image

    files = list_images(source)
    if len(files) <= n_val:
        raise ValueError(f"{source}: {len(files)} images, cannot hold out {n_val}")
    order = sorted(files)
    random.Random(seed).shuffle(order)
    held = sorted(order[:n_val])
    train_dir, val_dir = out / f"{source.name}-train", out / f"{source.name}-val"
    for d in (train_dir, val_dir):
        d.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f not in held:
            link = train_dir / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
    for f in held:
        img = Image.open(f).convert("RGB")
        side = min(crop, img.width, img.height)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        target = val_dir / f"{f.stem}.png"
        tmp = target.with_suffix(".tmp.png")
        img.crop((left, top, left + side, top + side)).save(tmp)
        tmp.replace(target)
    return train_dir, val_dir, [f.name for f in held]


def run(args: argparse.Namespace) -> int:
    train_dir, val_dir, held = split(Path(args.source), Path(args.out).expanduser(), args.val, args.crop, args.seed)
    print(f"train: {train_dir}\nvalidation ({len(held)}): {val_dir}\nheld out: {' '.join(held)}")
    return 0
