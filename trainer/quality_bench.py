"""`python -m trainer bench`: every upscaler on every set under one protocol, timed in the same run.

Rows: MATLAB bicubic, each weights file given (bundled TinyESPCN, trainer baselines), and OpenCV
dnn_superres ESPCN/FSRCNN when `cv2.dnn_superres` and the `.pb` files are present (speed peers).
Scores: Y-PSNR and SSIM with border = scale on 8-bit outputs, LPIPS (AlexNet v0.1) on full RGB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinyespcn_nodes.core.arch import count_parameters, macs_per_lr_pixel
from tinyespcn_nodes.core.resize import matlab_imresize
from tinyespcn_nodes.core.weights import load_model
from tinyespcn_nodes.engine.job import UpscaleJob, prepare
from tinyespcn_nodes.engine.options import UpscaleOptions
from tinyespcn_nodes.io.opencv_peer import load_opencv_superres

from .bench_sets import load_set
from .blockiness import blockiness, has_grid
from .evaluate import Pair, pair_metrics, quantize
from .export import weights_label

Upscale = Callable[[torch.Tensor], torch.Tensor]  # [1,3,h,w] float in [0,1] → [1,3,sh,sw]
OPENCV_MODELS = {"espcn": "ESPCN", "fsrcnn": "FSRCNN"}
TIMING_LR = 256


@dataclass
class Row:
    name: str
    kind: str  # bicubic | opencv | a registered architecture name
    scale: int
    upscale: Upscale
    params: int | None = None
    macs_per_lr_px: int | None = None
    source: str = ""


def bicubic_row(scale: int) -> Row:
    return Row(
        "bicubic",
        "bicubic",
        scale,
        lambda x: matlab_imresize(x.double(), float(scale)).float(),
        source="MATLAB imresize",
    )


def eval_job(weights: str | Path, scale: int, device: torch.device, strength: float = 1.0) -> UpscaleJob:
    """The engine's job for the protocol: the whole image in one tile, fp32, no intensity window, no filters
    (at x8 an x2 file is its chain of three passes, as every host runs it)."""
    options = UpscaleOptions(
        str(weights), scale, tile=0, device=str(device), precision="fp32", intensity=None, strength=strength
    )
    return prepare(options)


def model_rows(path: str | Path, device: torch.device, name: str | None = None) -> list[Row]:
    """One row per scale the file serves (a multi-output pyramid gives x2, x4 and x8 rows)."""
    info = load_model(path)[1]
    if name is None:
        steps = info.training.get("steps")
        label = weights_label(path).removesuffix(".safetensors")  # two runs' final files stay two rows
        name = f"{info.spec.id} (our trainer, {steps} steps)" if info.spec.baseline else f"{info.spec.id} {label}"
    rows = []
    for scale in info.scales:
        job = eval_job(path, scale, device)
        model = job.models[0]
        rows.append(Row(name, info.spec.name, scale, _runner(job), count_parameters(model), macs_per_lr_pixel(model),
                        str(path)))  # fmt: skip
    return rows


def chained_row(path: str | Path, device: torch.device, times: int = 3) -> Row:
    """An x2 file run `times` times (x8 = three x2 passes, the engine's chain for an x2 file at x8)."""
    info = load_model(path, 2)[1]
    job = eval_job(path, 2**times, device)
    if [m.scale for m in job.models] != [2] * times:
        raise ValueError(f"{path}: x{2**times} is not {times} x2 passes of this file")
    model = job.models[0]
    label = weights_label(path).removesuffix(".safetensors")
    macs = macs_per_lr_pixel(model) * sum(4**k for k in range(times))  # each pass runs on 4x the pixels
    return Row(
        f"{info.spec.id} {label} ×{times}", info.spec.name, 2**times, _runner(job), count_parameters(model), macs,
        str(path),
    )  # fmt: skip


def _runner(job: UpscaleJob) -> Upscale:
    """[1,3,h,w] float on the CPU → the job's output there (tiles move to the job's device and back)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        return job.run_tensor(x.float().cpu()).float()

    return run


def opencv_rows(folder: Path, scale: int, log=print) -> list[Row]:
    """OpenCV dnn_superres peers found in `folder`; one that is installed but cannot load its model is left
    out with its reason logged, so the bench still runs."""
    rows = []
    for algo, stem in OPENCV_MODELS.items():
        pb = folder / f"{stem}_x{scale}.pb"
        sr, reason = load_opencv_superres(pb, algo, scale)
        if sr is None:
            if reason.startswith("OpenCV"):
                log(f"OpenCV {stem} x{scale} left out: {reason}")
            continue

        def run(x: torch.Tensor, sr=sr) -> torch.Tensor:
            rgb = (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            out = sr.upsample(np.ascontiguousarray(rgb[..., ::-1]))[..., ::-1]
            return torch.from_numpy(out.copy()).permute(2, 0, 1)[None].float() / 255

        rows.append(Row(f"OpenCV {stem} (.pb)", "opencv", scale, run, source=str(pb)))
    return rows


def time_row(row: Row, repeats: int = 3) -> float:
    """Best-of-`repeats` milliseconds for one 256² LR input (after a warm-up call)."""
    x = torch.rand(1, 3, TIMING_LR, TIMING_LR, generator=torch.Generator().manual_seed(0))
    row.upscale(x)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        row.upscale(x)
        best = min(best, time.perf_counter() - t0)
    return best * 1000


@dataclass
class SetScore:
    psnr: float
    ssim: float
    lpips: float | None
    n: int
    blockiness: float | None = None  # trainer/blockiness.py, mean over the images


def score_row(
    row: Row, pairs: list[Pair], lpips: Callable | None, keep: set[str], block: int = 0
) -> tuple[SetScore, dict]:
    """Mean metrics over `pairs` (plus the block-grid score of an LR `block` grid when it is not 0); also
    returns the SR outputs of the pair names in `keep` (for crops)."""
    ps, ss, ls, bs, kept = [], [], [], [], {}
    with torch.inference_mode():
        for p in pairs:
            sr = quantize(row.upscale(p.lr))
            if sr.shape != p.hr.shape:
                raise RuntimeError(f"{row.name}: output {tuple(sr.shape)} for {p.name}, expected {tuple(p.hr.shape)}")
            value, structure = pair_metrics(sr, p, row.scale)
            ps.append(value)
            ss.append(structure)
            if lpips is not None:
                ls.append(float(lpips(sr, p.hr)))
            if block and has_grid(sr, row.scale, block):  # images too small for a grid are left out
                bs.append(blockiness(sr, row.scale, block))
            if p.name in keep:
                kept[p.name] = sr
    mean = {k: float(np.mean(v)) if v else None for k, v in (("lpips", ls), ("blockiness", bs))}
    return SetScore(float(np.mean(ps)), float(np.mean(ss)), n=len(pairs), **mean), kept


@dataclass
class ScaleResult:
    scale: int
    sets: list[str]
    rows: list[Row]
    scores: dict[str, dict[str, SetScore]]  # row name → set → score
    timings_ms: dict[str, float]
    crops: dict[str, dict[str, torch.Tensor]]  # "set/image" → row name (and "HR") → full image


def run_scale(
    scale: int, rows: list[Row], sets: list[str], lpips, crop_images: dict[str, str], limit: int = 0, log=print
) -> ScaleResult:
    """Score every row on every set; `crop_images` maps a set to the image kept for the crop grid ('' = first)."""
    scores: dict[str, dict[str, SetScore]] = {r.name: {} for r in rows}
    crops: dict[str, dict[str, torch.Tensor]] = {}
    for set_name in sets:
        t0 = time.perf_counter()
        pairs = load_set(set_name, scale, limit=limit)
        keep = {crop_images[set_name] or pairs[0].name} if set_name in crop_images and pairs else set()
        for p in pairs:
            if p.name in keep:
                crops[f"{set_name}/{p.name}"] = {"HR": p.hr}
        for row in rows:
            scores[row.name][set_name], kept = score_row(row, pairs, lpips, keep)
            for img, sr in kept.items():
                crops[f"{set_name}/{img}"][row.name] = sr
        log(f"x{scale} {set_name}: {len(pairs)} images, {len(rows)} rows, {time.perf_counter() - t0:.0f}s")
    timings = {r.name: time_row(r) for r in rows if r.kind != "bicubic"}
    return ScaleResult(scale, sets, rows, scores, timings, crops)
