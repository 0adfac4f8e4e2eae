"""The benchmark sets under the standard protocol: HR mod-cropped to the scale, LR by MATLAB bicubic.

Set5 and BSD100 come as HR folders; Set14 as SelfExSR `image_SRF_<s>/img_NNN_SRF_<s>_HR.png` per scale;
the face set is the 20 CelebA-HQ faces the portrait fine-tune holds out (same seeded split), resized to 512².
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tinyespcn_nodes.core.shared import shared_path

from .evaluate import Pair, load_pairs, make_pair, pairs_from_refs
from .sources import face_split

SHARED_DATA = shared_path("data")
SET_NAMES = ("Set5", "Set14", "BSD100", "Faces")
FACE_SIZE = 512
FACE_HOLDOUT = 20
FACE_SEED = 0


def face_holdout(root: Path, holdout: int = FACE_HOLDOUT, seed: int = FACE_SEED) -> list:
    """The held-out face refs: identical to what `finetune --holdout 20 --seed 0` validates on."""
    return face_split(root, "train", None, holdout, seed)[1]


def load_set(name: str, scale: int, data_root: Path = SHARED_DATA, limit: int = 0) -> list[Pair]:
    bench = data_root / "benchmarks"
    if name == "Set5":
        return load_pairs(bench / "Set5" / "HR", scale, limit)
    if name == "BSD100":
        return load_pairs(bench / "BSD100" / "HR", scale, limit)
    if name == "Set14":
        srf = scale if scale <= 4 else 4  # no SRF_8 folder: its x4 HR, mod-cropped again to 8, is the same crop
        folder = bench / "Set14" / f"image_SRF_{srf}"
        files = sorted(folder.glob(f"*_SRF_{srf}_HR.png"))
        if not files:
            raise FileNotFoundError(f"no Set14 HR images in {folder}")
        return [make_pair(f.name.split("_SRF_")[0], Image.open(f), scale) for f in files[: limit or None]]
    if name == "Faces":
        held = face_holdout(data_root / "faces" / "celebahq")
        return pairs_from_refs(held[: limit or None], scale, FACE_SIZE)
    raise ValueError(f"unknown benchmark set {name!r}; choose from {SET_NAMES}")


def available_sets(data_root: Path = SHARED_DATA) -> list[str]:
    bench = data_root / "benchmarks"
    present = {
        "Set5": (bench / "Set5" / "HR").is_dir(),
        "Set14": (bench / "Set14").is_dir(),
        "BSD100": (bench / "BSD100" / "HR").is_dir(),
        "Faces": (data_root / "faces" / "celebahq").is_dir(),
    }
    return [n for n in SET_NAMES if present[n]]
