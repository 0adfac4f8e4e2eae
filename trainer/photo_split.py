"""`python -m trainer photo-split`: a seeded train / validation split of a photo folder, built outside the tree.

The training half is a folder of links to the original files; the validation half is a centre crop of each
held-out photo saved as PNG (`crop` pixels square, so validation and the photo bench stay quick on CPUs).
Photo models never see the held-out images; `trainer bench --photo` measures on them.

`--val-like DIR` holds out the photos of an earlier split's validation folder instead of a seeded draw: every
source photo with the same name as one of DIR's crops, or whose centre crop is a near-duplicate of one of
them (16×16 difference hash within 24 of 256 bits, photo_set/build.py's threshold) under another name. A
larger set (the full 176-photo build) then keeps photos2k's 10 validation photos out of its training half,
and the real-photo table stays the same.
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
    p.add_argument(
        "--val-like",
        default=None,
        metavar="DIR",
        help="hold out the photos of this earlier validation folder (by name or near-duplicate crop) instead of "
        "--val random ones, e.g. ~/.cache/tinyespcn/data/photos2k-val",
    )


DUPLICATE_BITS = 24  # of 256: photo_set/build.py's near-duplicate threshold for its difference hash


def centre_crop(img, crop: int):
    side = min(crop, img.width, img.height)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))


def dhash(img) -> int:
    """16×16 difference hash of an image (grey, 17×16, left/right neighbours compared)."""
    import numpy as np
    from PIL import Image

    g = np.asarray(img.convert("L").resize((17, 16), Image.LANCZOS), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def held_like(files: list[Path], like: Path, crop: int) -> tuple[list[Path], list[str]]:
    """The source files that match `like`'s validation crops, and the names of `like` none of them matched."""
    from PIL import Image

    wanted = {f.stem: dhash(Image.open(f)) for f in list_images(like)}
    if not wanted:
        raise ValueError(f"--val-like {like}: no images there")
    held, found = [], set()
    for f in files:
        if f.stem in wanted:
            held.append(f)
            found.add(f.stem)
            continue
        h = dhash(centre_crop(Image.open(f).convert("RGB"), crop))
        twins = [name for name, w in wanted.items() if (h ^ w).bit_count() <= DUPLICATE_BITS]
        if twins:
            held.append(f)
            found.update(twins)
    return sorted(held), sorted(set(wanted) - found)


def split(
    source: Path, out: Path, n_val: int, crop: int, seed: int = 0, like: Path | None = None
) -> tuple[Path, Path, list[str]]:
    """Returns the train and validation folders and the held-out file names (sorted)."""
    from PIL import Image

    files = list_images(source)
    if like is not None:
        held, missing = held_like(files, like, crop)
        if missing:
            print(f"--val-like: not in {source} (nothing to hold out): {' '.join(missing)}")
    else:
        if len(files) <= n_val:
            raise ValueError(f"{source}: {len(files)} images, cannot hold out {n_val}")
        order = sorted(files)
        random.Random(seed).shuffle(order)
        held = sorted(order[:n_val])
    train_dir, val_dir = out / f"{source.name}-train", out / f"{source.name}-val"
    for d in (train_dir, val_dir):
        d.mkdir(parents=True, exist_ok=True)
    train = {f.name: f for f in files if f not in held}
    for stale in [p for p in train_dir.iterdir() if p.name not in train]:  # an earlier split's links
        stale.unlink()
    for stale in [p for p in val_dir.glob("*.png") if p.stem not in {f.stem for f in held}]:
        stale.unlink()
    for name, f in train.items():
        link = train_dir / name
        if not link.exists():
            link.symlink_to(f.resolve())
    for f in held:
        target = val_dir / f"{f.stem}.png"
        tmp = target.with_suffix(".tmp.png")
        centre_crop(Image.open(f).convert("RGB"), crop).save(tmp)
        tmp.replace(target)
    return train_dir, val_dir, [f.name for f in held]


def run(args: argparse.Namespace) -> int:
    like = Path(args.val_like).expanduser() if args.val_like else None
    if like is not None and not like.is_dir():
        raise SystemExit(f"--val-like {like}: folder not found")
    source = Path(args.source).expanduser()
    if not source.is_dir():
        raise SystemExit(f"photo-split: source folder {source} not found")
    train_dir, val_dir, held = split(source, Path(args.out).expanduser(), args.val, args.crop, args.seed, like)
    n_train = sum(1 for _ in train_dir.iterdir())
    print(f"train ({n_train}): {train_dir}\nvalidation ({len(held)}): {val_dir}\nheld out: {' '.join(held)}")
    return 0
