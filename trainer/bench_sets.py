"""The benchmark sets under the standard protocol: HR mod-cropped to the scale, LR by MATLAB bicubic.

Set5 and BSD100 come as HR folders; Set14 as SelfExSR `image_SRF_<s>/img_NNN_SRF_<s>_HR.png` per scale;
the face set is the 20 CelebA-HQ faces the portrait fine-tune holds out (same seeded split), resized to 512².
WildFaces are square face crops of the 7 `faces/portraits_wild` photos (another source, never trained on),
EXIF-oriented and resized to 512², which also averages their JPEG blocks away: a portrait model's gain must
hold there, not only on CelebA-HQ's own processing.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tinyespcn_nodes.core.shared import shared_path

from .evaluate import Pair, load_pairs, make_pair, pairs_from_refs
from .sources import decode_rgb, face_split

SHARED_DATA = shared_path("data")
SET_NAMES = ("Set5", "Set14", "BSD100", "Faces", "WildFaces")
FACE_SIZE = 512
FACE_HOLDOUT = 20
FACE_SEED = 0
# square face crops (left, top, side) in pixels of each EXIF-oriented photo, chosen by eye: eyes to chin plus
# some hair, as CelebA-HQ frames its faces
WILD_FACE_BOXES = {
    "2020-12-10_175750.jpg": (162, 347, 1390),
    "2020-12-17_185036.jpg": (486, 378, 1188),
    "20200320.101220.jpg": (302, 151, 2117),
    "2021-03-10_16084329.jpg": (229, 194, 1569),
    "28.jpg": (687, 1487, 2227),
    "90.jpg": (907, 325, 1426),
    "IMG20180716171517.jpg": (352, 898, 1469),
}


def wild_faces(root: Path, scale: int, limit: int = 0) -> list[Pair]:
    pairs = []
    for name, (left, top, side) in list(WILD_FACE_BOXES.items())[: limit or None]:
        face = decode_rgb((root / name).read_bytes()).crop((left, top, left + side, top + side))
        pairs.append(make_pair(Path(name).stem, face, scale, FACE_SIZE))
    return pairs


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
    if name == "WildFaces":
        return wild_faces(data_root / "faces" / "portraits_wild", scale, limit)
    raise ValueError(f"unknown benchmark set {name!r}; choose from {SET_NAMES}")


def available_sets(data_root: Path = SHARED_DATA) -> list[str]:
    bench = data_root / "benchmarks"
    present = {
        "Set5": (bench / "Set5" / "HR").is_dir(),
        "Set14": (bench / "Set14").is_dir(),
        "BSD100": (bench / "BSD100" / "HR").is_dir(),
        "Faces": (data_root / "faces" / "celebahq").is_dir(),
        "WildFaces": (data_root / "faces" / "portraits_wild").is_dir(),
    }
    return [n for n in SET_NAMES if present[n]]
