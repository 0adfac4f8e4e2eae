"""In-memory HR/LR image pool and per-step patch sampling.

Images are decoded once (threads), mod-cropped and degraded once with the MATLAB bicubic; each step
slices random aligned LR/HR patches out of uint8 tensors, so a step costs no decoding. Sampling is a pure
function of (seed, step): resuming at step N reproduces the batches exactly.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from tinyespcn_nodes.core.resize import matlab_imresize

from .degradations import Microscopy
from .real_degradation import RealDegradation
from .sources import ImageRef, centre_square, decode_ref, decode_rgb


@dataclass
class Degradation:
    blur_sigma: float = 0.0  # seed 002 README: Gaussian blur before subsampling
    rotate_degrees: float = 0.0  # seed 001: ±20° small rotations (valid region only)
    microscopy: Microscopy | None = None  # on-the-fly camera model instead of bicubic (degradations.py)
    real: RealDegradation | None = None  # on-the-fly photo degradations (real_degradation.py)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    coords = torch.arange(-radius, radius + 1, dtype=x.dtype)
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = (g / g.sum()).to(x.device)
    c = x.shape[-3]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def make_lr(hr: torch.Tensor, scale: int, blur_sigma: float = 0.0) -> torch.Tensor:
    """uint8 [3,H,W] (H, W multiples of scale) → uint8 LR [3,H/s,W/s], MATLAB bicubic, rounded like a saved PNG."""
    x = hr.double()[None] / 255.0
    if blur_sigma > 0:
        x = gaussian_blur(x, blur_sigma)
    lr = matlab_imresize(x, scale=1.0 / scale)[0]
    return (lr * 255.0).round_().clamp_(0, 255).to(torch.uint8)


@dataclass
class ImagePool:
    """Decoded HR/LR pairs held as uint8 tensors; files that fail to decode are skipped and counted."""

    scale: int
    hr: list[torch.Tensor] = field(default_factory=list)
    lr: list[torch.Tensor] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() for t in self.hr) + sum(t.numel() for t in self.lr)


@dataclass(frozen=True)
class CopyAugment:
    """Extra HR copies beyond `rescales`: through JPEG at each quality in `jpeg` (the target then carries the
    codec's structure too, as photos from phones do), and every extra copy (rescaled or JPEG) recoloured with
    `colour` strength: saturation, white balance and gamma drawn per copy from a generator seeded by `seed`
    and the copy's position, so a pool is the same on every build (resumes stay bit-identical)."""

    jpeg: list[int] = field(default_factory=list)
    colour: float = 0.0
    seed: int = 0

    def variants(self, factors: list[float]) -> list[tuple[float, int | None]]:
        return [(f, q) for f in (1.0, *factors) for q in (None, *self.jpeg)]

    def colour_params(self, index: int) -> tuple[float, tuple[float, float, float], float] | None:
        if self.colour <= 0:
            return None
        g = torch.Generator().manual_seed(self.seed * 7919 + index)
        u = (torch.rand(4, generator=g, dtype=torch.float64) * 2 - 1).tolist()
        s = self.colour
        return 1 + s * u[0], (1 + s / 3 * u[1], 1.0, 1 + s / 3 * u[2]), math.exp(s / 2 * u[3])


def recolour(img, params: tuple[float, tuple[float, float, float], float]):
    """A PIL RGB image with its saturation scaled, its red/blue gains changed and a gamma applied."""
    from PIL import Image

    saturation, gains, gamma = params
    x = np.asarray(img, dtype=np.float64) / 255.0
    grey = x @ np.array([0.299, 0.587, 0.114])
    x = grey[..., None] + saturation * (x - grey[..., None])
    x = np.clip(x * np.array(gains), 0, 1) ** gamma
    return Image.fromarray(np.round(x * 255).astype(np.uint8), "RGB")


def _through_jpeg(img, quality: int):
    import io

    from PIL import Image

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _load_one(
    ref: ImageRef,
    scale: int,
    min_hr: int,
    resize_to: int | None,
    blur: float,
    rescale: float = 1.0,
    jpeg: int | None = None,
    colour: tuple | None = None,
):
    from PIL import Image

    img = decode_ref(ref)
    if resize_to:
        img = centre_square(img).resize((resize_to, resize_to), Image.BICUBIC)
    if rescale != 1.0:
        img = img.resize((round(img.width * rescale), round(img.height * rescale)), Image.BICUBIC)
    if colour is not None:
        img = recolour(img.convert("RGB"), colour)
    if jpeg is not None:
        img = _through_jpeg(img.convert("RGB"), jpeg)
    hr = torch.from_numpy(np.array(img)).permute(2, 0, 1).contiguous()
    h, w = hr.shape[1] - hr.shape[1] % scale, hr.shape[2] - hr.shape[2] % scale
    if h < min_hr or w < min_hr:
        raise ValueError(f"{h}x{w} is smaller than one {min_hr}px training patch")
    hr = hr[:, :h, :w].contiguous()
    if ref.lr_path:
        lr_img = decode_rgb(open(ref.lr_path, "rb").read())
        lr = torch.from_numpy(np.array(lr_img)).permute(2, 0, 1).contiguous()
        if lr.shape[1:] != (h // scale, w // scale):
            raise ValueError(f"official LR {ref.lr_path} is {tuple(lr.shape[1:])}, expected {(h // scale, w // scale)}")
    else:
        lr = make_lr(hr, scale, blur)
    return hr, lr


def build_pool(
    refs: list[ImageRef],
    scale: int,
    patch_lr: int,
    *,
    workers: int = 2,
    cache_mb: int = 4096,
    resize_to: int | None = None,
    blur_sigma: float = 0.0,
    margin: int = 0,
    rescales: list[float] | None = None,
    copies: CopyAugment | None = None,
) -> ImagePool:
    """Decode refs in order until `cache_mb` is reached (callers pass a seeded order for large sets); each ref
    gives its image, its `rescales` copies and the `copies` augmentations of each."""
    if not refs:
        raise ValueError("the dataset is empty: no readable image files were found")
    pool = ImagePool(scale)
    min_hr = (patch_lr + 2 * margin) * scale
    budget = cache_mb * 1024 * 1024

    copies = copies or CopyAugment()

    def job(item: tuple[int, ImageRef, float, int | None]):
        index, ref, factor, quality = item
        colour = None if (factor == 1.0 and quality is None) else copies.colour_params(index)
        try:
            return ref, _load_one(ref, scale, min_hr, resize_to, blur_sigma, factor, quality, colour), None
        except Exception as exc:  # a corrupt file must not stop training; it is reported
            return ref, None, f"{type(exc).__name__}: {exc}"

    variants = copies.variants(list(rescales or []))
    items = [(i, ref, f, q) for i, (ref, (f, q)) in enumerate(itertools.product(refs, variants))]
    with ThreadPoolExecutor(max(1, workers)) as ex:
        for ref, pair, err in ex.map(job, items):
            if err is not None:
                pool.skipped.append((ref.name, err))
                continue
            if pool.nbytes + pair[0].numel() + pair[1].numel() > budget:
                break
            pool.hr.append(pair[0])
            pool.lr.append(pair[1])
            pool.names.append(ref.name)
    if not pool.hr:
        detail = "; ".join(f"{n}: {e}" for n, e in pool.skipped[:3])
        raise ValueError(f"the dataset is empty: none of {len(refs)} images could be used ({detail})")
    return pool


def _rotate_valid(hr: torch.Tensor, degrees: float, out: int) -> torch.Tensor:
    """Rotate a float [1,3,S,S] crop about its centre and keep the central `out` square (no black wedges)."""
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    mat = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=hr.dtype)[None]
    grid = F.affine_grid(mat, list(hr.shape), align_corners=False)
    rot = F.grid_sample(hr, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
    off = (hr.shape[-1] - out) // 2
    return rot[..., off : off + out, off : off + out]


def sample_batch(
    pool: ImagePool, batch: int, patch_lr: int, seed: int, step: int, degradation: Degradation | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float [B,3,p,p] LR and [B,3,sp,sp] HR in [0,1] with dihedral augmentation; deterministic in (seed, step)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    s = pool.scale
    deg = degradation or Degradation()
    on_the_fly = deg.rotate_degrees > 0 or deg.microscopy is not None or deg.real is not None
    lrs, hrs = [], []
    weights = torch.tensor([t.shape[1] * t.shape[2] for t in pool.lr], dtype=torch.float64)
    picks = torch.multinomial(weights, batch, replacement=True, generator=g)
    for i in picks.tolist():
        lr_img, hr_img = pool.lr[i], pool.hr[i]
        if on_the_fly:
            hp = patch_lr * s
            plain_crop = deg.real is not None and deg.rotate_degrees <= 0  # no rotation margin needed
            side = hp if plain_crop else math.ceil(hp * math.sqrt(2)) + 2 * s
            side = min(side, hr_img.shape[1], hr_img.shape[2])
            y = int(torch.randint(0, hr_img.shape[1] - side + 1, (1,), generator=g))
            x = int(torch.randint(0, hr_img.shape[2] - side + 1, (1,), generator=g))
            crop = hr_img[None, :, y : y + side, x : x + side].double() / 255.0
            if plain_crop:
                hr = crop
            else:
                angle = (torch.rand(1, generator=g).item() * 2 - 1) * deg.rotate_degrees
                hr = _rotate_valid(crop, angle, hp).clamp(0, 1)
                hr = (hr * 255).round() / 255
            if deg.real is not None:
                lr, hr = deg.real(hr, s, g)
            elif deg.microscopy is not None:
                lr, hr = deg.microscopy(hr, s, g)
            else:
                lr = make_lr((hr[0] * 255).to(torch.uint8), s, deg.blur_sigma)[None]
        else:
            y = int(torch.randint(0, lr_img.shape[1] - patch_lr + 1, (1,), generator=g))
            x = int(torch.randint(0, lr_img.shape[2] - patch_lr + 1, (1,), generator=g))
            lr = lr_img[None, :, y : y + patch_lr, x : x + patch_lr]
            hr = hr_img[None, :, y * s : (y + patch_lr) * s, x * s : (x + patch_lr) * s]
        k = int(torch.randint(0, 8, (1,), generator=g))
        lr, hr = _dihedral(lr, k), _dihedral(hr, k)
        lrs.append(lr.float() / 255.0 if lr.dtype == torch.uint8 else lr.float())
        hrs.append(hr.float() / 255.0 if hr.dtype == torch.uint8 else hr.float())
    return torch.cat(lrs), torch.cat(hrs)


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    if k & 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))
