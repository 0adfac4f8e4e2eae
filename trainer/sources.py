"""Find training images: generic folders, LSDIR (folders, paired HR/X{s}, parquet shards), CelebA(-HQ), FFHQ."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class ImageRef:
    """One training image: a file, or a row of a parquet shard; `lr_path` when an official LR exists."""

    path: str
    row: int = -1  # parquet row index, -1 for a plain file
    lr_path: str | None = None
    plane: int = -1  # a plane of a TIFF stack (Z/T/... flattened), -1 for a single image

    def read_bytes(self) -> bytes:
        if self.row < 0:
            return Path(self.path).read_bytes()
        import pyarrow.parquet as pq

        shard = pq.ParquetFile(self.path)  # only the row group holding the row is decoded
        first = 0
        for group in range(shard.num_row_groups):
            rows = shard.metadata.row_group(group).num_rows
            if self.row < first + rows:
                cell = shard.read_row_group(group, columns=["image"]).column("image")[self.row - first].as_py()
                return cell["bytes"] if isinstance(cell, dict) else cell
            first += rows
        raise IndexError(f"{self.path}: row {self.row} is past the end ({first} rows)")

    @property
    def name(self) -> str:
        if self.plane >= 0:
            return f"{self.path}[plane {self.plane}]"
        return f"{self.path}[{self.row}]" if self.row >= 0 else self.path


def list_images(root: Path) -> list[Path]:
    """Image files under `root`, sorted; hidden folders (a build's `.stage` cache, `.git`) are skipped."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])
        and p.is_file()
    )


def _paired_lr(hr: Path, hr_root: Path, lr_root: Path, scale: int) -> Path | None:
    rel = hr.relative_to(hr_root)
    for candidate in (lr_root / rel, lr_root / rel.with_name(f"{rel.stem}x{scale}{rel.suffix}")):
        if candidate.is_file():
            return candidate
    return None


def parquet_refs(root: Path, split: str) -> list[ImageRef]:
    """Hugging Face LSDIR shards: columns path, image{bytes}, w, h; file names start with the split."""
    import pyarrow.parquet as pq

    shards = sorted(p for p in root.rglob("*.parquet") if p.name.startswith(split) or p.parent.name == split)
    refs: list[ImageRef] = []
    for shard in shards:
        rows = pq.ParquetFile(shard).metadata.num_rows
        refs.extend(ImageRef(str(shard), row) for row in range(rows))
    return refs


def stack_planes(path: Path) -> int:
    """Planes of a TIFF file: the product of its leading axes (Y, X and an RGB(A) axis are one plane)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        shape = tif.series[0].shape
    spatial = 3 if len(shape) >= 3 and shape[-1] in (3, 4) else 2
    n = 1
    for d in shape[:-spatial]:
        n *= d
    return n


def _file_refs(path: Path) -> list[ImageRef]:
    if path.suffix.lower() in (".tif", ".tiff"):
        n = stack_planes(path)
        if n > 1:
            return [ImageRef(str(path), plane=i) for i in range(n)]
    return [ImageRef(str(path))]


def _zarr_array(path: str):
    from tinyespcn_nodes.io.zarr_job import open_source

    return open_source(Path(path))  # (array, multiscales entry or None, transforms): level 0 of OME-Zarr


def _zarr_lead_shape(path: str) -> tuple[tuple[int, ...], bool]:
    arr, ms, _ = _zarr_array(path)
    rgb = ms is None and arr.ndim >= 3 and arr.shape[-1] in (3, 4)
    return tuple(arr.shape[: arr.ndim - (3 if rgb else 2)]), rgb


def zarr_refs(path: Path) -> list[ImageRef]:
    """A zarr array or OME-Zarr image (level 0): one image per plane over its leading (C/Z/T) axes."""
    lead, _ = _zarr_lead_shape(str(path))
    n = 1
    for d in lead:
        n *= d
    return [ImageRef(str(path), plane=i) for i in range(n)]


def _zarr_plane(path: str, plane: int):
    import numpy as np

    arr, _, _ = _zarr_array(path)
    lead, _ = _zarr_lead_shape(path)
    return np.asarray(arr[tuple(int(i) for i in np.unravel_index(plane, lead))] if lead else arr[...])


def lsdir_refs(root: Path, scale: int, split: str = "train") -> list[ImageRef]:
    """LSDIR as released (nested folders of HR PNGs), the official HR/X{s} pairs, or parquet shards; a TIFF
    stack or a zarr / OME-Zarr store (itself, or in a folder) gives one image per plane."""
    from tinyespcn_nodes.io.zarr_job import is_zarr

    if not root.exists():
        raise FileNotFoundError(f"dataset root {root} does not exist")
    if root.is_dir() and is_zarr(root):
        return zarr_refs(root)
    if root.is_file():
        return _file_refs(root)
    if any(root.rglob("*.parquet")):
        return parquet_refs(root, split)
    hr_root, lr_root = root / "HR", root / f"X{scale}"
    if hr_root.is_dir():
        refs = []
        for hr in list_images(hr_root):
            lr = _paired_lr(hr, hr_root, lr_root, scale) if lr_root.is_dir() else None
            refs.append(ImageRef(str(hr), lr_path=str(lr) if lr else None))
        return refs
    stores = sorted(p for p in root.iterdir() if p.is_dir() and is_zarr(p))
    return [r for p in list_images(root) for r in _file_refs(p)] + [r for z in stores for r in zarr_refs(z)]


CELEBA_SPLITS = {"train": "0", "val": "1", "test": "2"}


def celeba_refs(root: Path, split: str = "train", subset: int | None = 20000, seed: int = 0) -> list[ImageRef]:
    """Aligned CelebA with `list_eval_partition.txt` (split honoured) or any face folder (CelebA-HQ, FFHQ).

    A seeded random subset of `subset` images (None = all) — not the first N sorted files.
    """
    partition = next(iter(sorted(root.rglob("list_eval_partition.txt"))), None)
    if partition is not None:
        images = next((p for p in root.rglob("img_align_celeba") if p.is_dir()), partition.parent)
        wanted = CELEBA_SPLITS[split]
        names = [ln.split() for ln in partition.read_text().splitlines() if ln.strip()]
        files = [images / n for n, part in names if part == wanted and (images / n).is_file()]
    else:
        files = list_images(root)
    if subset is not None and subset < len(files):
        files = sorted(random.Random(seed).sample(files, subset))
    return [ImageRef(str(p)) for p in files]


def split_holdout(refs: list[ImageRef], holdout: int, seed: int = 0) -> tuple[list[ImageRef], list[ImageRef]]:
    """Seeded split of a face folder into (train, held-out)."""
    if holdout <= 0:
        return refs, []
    if holdout >= len(refs):
        raise ValueError(f"cannot hold out {holdout} of {len(refs)} images")
    order = list(range(len(refs)))
    random.Random(seed).shuffle(order)
    held = set(order[:holdout])
    return [r for i, r in enumerate(refs) if i not in held], [r for i, r in enumerate(refs) if i in held]


def face_split(
    root: Path, split: str, subset: int | None, holdout: int, seed: int
) -> tuple[list[ImageRef], list[ImageRef]]:
    """(train, held-out) faces of one root: what a fine-tune trains on and what it validates on."""
    return split_holdout(celeba_refs(root, split, subset, seed), holdout, seed)


def centre_square(img):
    """The largest centred square of a PIL image (faces are cropped this way before resizing)."""
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))


@lru_cache(maxsize=64)
def _file_window(path: str):
    """One percentile window per file: every plane of a stack shares it (no flicker between planes)."""
    from tinyespcn_nodes.core.intensity import choose_window
    from tinyespcn_nodes.io.zarr_job import is_zarr

    if is_zarr(path):  # sampled through dask: the store may not fit in memory
        import dask.array as da

        arr, _, _ = _zarr_array(path)
        return choose_window(da.from_zarr(arr), "auto", rgb=_zarr_lead_shape(path)[1])
    import tifffile

    data = tifffile.imread(path)
    return choose_window(data, "auto", rgb=data.ndim >= 3 and data.shape[-1] in (3, 4))


def decode_ref(ref: ImageRef):
    """RGB PIL image of any reference: 8-bit files as they are; 16-bit/float files and TIFF stack planes
    through their file's percentile window (core.intensity), so dim micrographs train as exposed images."""
    import numpy as np
    from PIL import Image

    suffix = Path(ref.path).suffix.lower()
    if ref.row < 0 and (ref.plane >= 0 or suffix in (".tif", ".tiff") or _is_16bit_png(ref.path)):
        from tinyespcn_nodes.core.intensity import to_model
        from tinyespcn_nodes.io.imagefiles import read_image

        if ref.plane >= 0 and suffix not in (".tif", ".tiff"):
            arr = _zarr_plane(ref.path, ref.plane)
            window = _file_window(ref.path)
        elif ref.plane >= 0:
            import tifffile

            arr = tifffile.imread(ref.path, key=ref.plane)  # one page = one plane
            window = _file_window(ref.path)
        else:
            arr = read_image(ref.path)
            from tinyespcn_nodes.core.intensity import choose_window

            window = choose_window(arr, "auto", rgb=arr.ndim == 3)
        unit = to_model(arr, window) if window is not None else arr.astype(np.float32) / 255.0
        u8 = (np.clip(unit, 0, 1) * 255).round().astype(np.uint8)
        u8 = u8[..., :3] if u8.ndim == 3 else np.repeat(u8[..., None], 3, axis=-1)
        return Image.fromarray(np.ascontiguousarray(u8))
    return decode_rgb(ref.read_bytes())


def _is_16bit_png(path: str) -> bool:
    if not path.lower().endswith(".png"):
        return False
    with open(path, "rb") as f:
        head = f.read(25)
    return len(head) == 25 and head[24] == 16


def decode_rgb(data: bytes):
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB")
