"""Every trainer option in one dataclass; loaded from TOML/YAML, overridden by CLI flags."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

RUNS_ROOT = "~/.cache/tinyespcn/runs"
# options a resumed run may change: they do not alter what has been trained so far
RESUMABLE = frozenset(
    {"steps", "ckpt_every", "val_every", "log_every", "threads", "workers", "device", "val_sets", "val_limit",
     "cache_mb", "run_dir"}
)  # fmt: skip
CHOICES = {
    "dataset": ("folder", "lsdir", "celeba"),
    "loss": ("psnr", "psnr-mse", "seed-readme", "seed-paper", "dssim"),
    "optimizer": ("adam", "adamw"),
    "schedule": ("cosine", "step", "constant"),
    "amp": ("none", "bf16", "fp16"),
    "vgg_arch": ("vgg16", "vgg19"),
    "device": ("auto", "cpu", "cuda", "mps"),
    "degradation": ("bicubic", "microscopy", "real"),
}
# finite ranges of the float options: an absurd value (--lr 1e38) is refused here, not found as a NaN later
FLOAT_RANGES = {"lr": (1e-12, 10.0), "weight_decay": (0.0, 10.0), "grad_clip": (0.0, 1e6), "ema": (0.0, 0.999999)}
COUNTER_MINIMUM = {"steps": 1, "batch": 1, "patch": 1, "ckpt_every": 1, "log_every": 1, "val_every": 0}
HELP = {
    "arch": "network to train",
    "scale": "upscaling factor (2, 3 or 4; 2, 4 or 8 for --arch pyramid, which also learns the smaller ones)",
    "init": "weights (.safetensors or bundled name) to start from; its architecture options are used unless given here; tensors of matching name and shape are copied",
    "data": "dataset root folder(s), TIFF stacks or zarr / OME-Zarr stores (one image per plane)",
    "dataset": "layout of --data: folder (any images), lsdir (HR/X{s} or parquet), celeba (partition file)",
    "split": "celeba split: train, val or test",
    "subset": "celeba: seeded random subset of this many images (0 = all)",
    "face_size": "centre-crop and resize faces to this square side (0 = as stored)",
    "holdout": "face folders without a partition file: images held out for validation",
    "patch": "LR patch side in pixels",
    "batch": "patches per step",
    "workers": "data-loading threads",
    "cache_mb": "decoded-image cache size in MB",
    "blur_sigma": "extra Gaussian blur of the HR before downscaling (0 = plain bicubic)",
    "rotate_degrees": "random rotation range of training patches",
    "degradation": "how LR inputs are made: bicubic, microscopy (PSF blur, binning, background, "
    "Poisson-Gaussian noise; ranges below) or real (photos: blur, resize, noise, JPEG in one or two rounds, "
    "a share of clean pairs; trainer/real_degradation.py)",
    "psf_sigma": "microscopy: MIN MAX Gaussian PSF sigma in HR pixels, drawn per patch",
    "gain": "microscopy: MIN MAX photons per unit intensity (shot noise), drawn per patch",
    "read_noise": "microscopy: MIN MAX camera read-noise std (units of full intensity)",
    "background": "microscopy: MIN MAX background offset added to input and target",
    "rescales": "extra HR copies at these scales, e.g. 0.8 0.6",
    "hr_jpeg": "extra HR copies re-encoded as JPEG at these qualities, e.g. 70 90 (target and input both carry it)",
    "hr_colour": "strength (0-0.5) of a seeded colour change (saturation, white balance, gamma) on every extra copy",
    "replay_data": "general folders mixed into fine-tune batches",
    "replay_fraction": "share of each batch drawn from --replay-data",
    "loss": "loss preset",
    "loss_weights": "override loss terms, e.g. charbonnier=1 l1=0",
    "real_options": "override ranges of --degradation real (trainer/real_degradation.py RealDegradation), "
    "e.g. clean_share=0.25 jpeg_quality=20,95 second_round=0",
    "vgg_weights": "VGG features .safetensors for the perceptual term (default: the bundled conv1-3)",
    "vgg_arch": "VGG variant of --vgg-weights",
    "optimizer": "optimiser",
    "lr": "peak learning rate",
    "weight_decay": "weight decay (adamw: decoupled)",
    "schedule": "learning-rate schedule after the warm-up",
    "warmup": "linear warm-up steps",
    "step_every": "step schedule: halve the rate every N steps",
    "steps": "total optimisation steps (may be raised when resuming)",
    "grad_clip": "clip the gradient norm to this (0 = off)",
    "ema": "EMA decay of the exported weights (0 = off)",
    "amp": "mixed precision: bf16 (CUDA, or CPUs with AMX/AVX512-BF16), fp16 (CUDA only)",
    "channels_last": "channels-last memory format",
    "seed": "random seed",
    "device": "training device",
    "threads": "torch CPU threads (0 = torch default)",
    "run_dir": f"run folder (default: {RUNS_ROOT}/ARCH-xSCALE-HASH of the options that define the run)",
    "ckpt_every": "checkpoint every N steps",
    "val_every": "validate every N steps (0 = never)",
    "log_every": "log every N steps",
    "val_sets": "HR folders to validate on (default: Set5 if present)",
    "val_limit": "validate on at most N images per set (0 = all)",
}


@dataclass
class TrainConfig:
    # what to train
    arch: str = "tinyespcn"  # a registered architecture's name (tinyespcn_nodes.core.arch)
    scale: int = 2
    model: dict = field(default_factory=dict)  # that architecture's own options, passed through untouched
    init: str | None = None  # weights (.safetensors) to start from; shape-compatible tensors are copied
    # data
    data: list[str] = field(default_factory=list)
    dataset: str = "folder"  # folder | lsdir | celeba
    split: str = "train"
    subset: int | None = None  # celeba: seeded random subset size
    face_size: int | None = None  # centre-crop + resize faces to this square size
    holdout: int = 0  # face folders without a partition file: images held out for validation
    patch: int = 48  # LR patch side
    batch: int = 16
    workers: int = 2
    cache_mb: int = 4096
    blur_sigma: float = 0.0
    rotate_degrees: float = 0.0
    degradation: str = "bicubic"  # bicubic | microscopy (trainer/degradations.py) | real (real_degradation.py)
    real_options: dict = field(default_factory=dict)  # RealDegradation field overrides (lists for ranges)
    psf_sigma: list[float] = field(default_factory=lambda: [0.6, 1.6])  # microscopy: PSF sigma range, HR px
    gain: list[float] = field(default_factory=lambda: [20.0, 400.0])  # microscopy: photons per unit intensity
    read_noise: list[float] = field(default_factory=lambda: [0.002, 0.02])  # microscopy: read-noise std range
    background: list[float] = field(default_factory=lambda: [0.0, 0.05])  # microscopy: offset range
    rescales: list[float] = field(
        default_factory=list
    )  # extra downscaled HR copies (e.g. 0.8 0.6), the classic T91 recipe
    hr_jpeg: list[int] = field(default_factory=list)  # extra copies through JPEG at these qualities (faces: 70 90)
    hr_colour: float = 0.0  # colour change of every extra copy (rescaled or JPEG), the original kept as it is
    replay_data: list[str] = field(default_factory=list)  # fine-tunes: general image folders mixed into every batch
    replay_fraction: float = 0.0  # share of each batch drawn from replay_data (keeps the general skill)
    # optimisation
    loss: str = "psnr"  # preset name: psnr | psnr-mse | seed-readme | seed-paper | dssim
    loss_weights: dict = field(default_factory=dict)  # per-term overrides, e.g. {"charbonnier": 1.0}
    vgg_weights: str | None = None
    vgg_arch: str = "vgg16"
    optimizer: str = "adam"  # adam | adamw
    lr: float = 5e-4
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | step | constant
    warmup: int = 500
    step_every: int = 0  # step schedule: halve every N steps
    steps: int = 20000
    grad_clip: float = 1.0
    ema: float = 0.999  # 0 disables
    amp: str = "none"  # none | bf16 | fp16 (CUDA only)
    channels_last: bool = True
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # 0 = torch default
    # bookkeeping
    run_dir: str = ""  # empty: derived from the options that define the run (see run_path)
    ckpt_every: int = 200
    val_every: int = 500
    log_every: int = 50
    val_sets: list[str] = field(default_factory=list)  # folders of HR images (Set5/HR, ...)
    val_limit: int = 0  # evaluate at most N images per set (0 = all)

    def updated(self, values: dict, source: str = "options") -> TrainConfig:
        values = _migrate(values)
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{source}: unknown option(s) {unknown}")
        for name, allowed in CHOICES.items():
            if name in values and values[name] not in allowed:
                raise ValueError(f"{source}: {name} must be one of {', '.join(allowed)}, got {values[name]!r}")
        for name, low in COUNTER_MINIMUM.items():
            value = values.get(name)
            if value is not None and (not isinstance(value, int) or value < low):
                raise ValueError(f"{source}: {name} must be an integer >= {low}, got {value!r}")
        for name, (low, high) in FLOAT_RANGES.items():
            value = values.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high
            ):
                raise ValueError(f"{source}: {name} must be a number within {low:g}-{high:g}, got {value!r}")
        merged = {**asdict(self), **values}
        bad_q = [q for q in merged["hr_jpeg"] if not isinstance(q, int) or not 1 <= q <= 100]
        if bad_q:
            raise ValueError(f"{source}: hr_jpeg qualities must be integers 1-100, got {bad_q}")
        if not 0 <= merged["hr_colour"] <= 0.5:
            raise ValueError(f"{source}: hr_colour must be within 0-0.5, got {merged['hr_colour']!r}")
        if merged["real_options"]:
            real_degradation(merged["real_options"], source)
        if merged["hr_colour"] and not (merged["rescales"] or merged["hr_jpeg"]):
            raise ValueError(f"{source}: hr_colour changes the extra HR copies: give rescales or hr_jpeg too")
        return TrainConfig(**merged)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def identity(self) -> dict:
        """The options that define what a run trains (everything a resume must not change)."""
        out = {k: v for k, v in asdict(self).items() if k not in RESUMABLE}
        if not out["real_options"]:
            del out["real_options"]  # runs from before the option keep their folder
        return out

    @property
    def run_path(self) -> Path:
        if self.run_dir:
            return Path(self.run_dir).expanduser()
        digest = hashlib.sha1(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:8]
        return Path(RUNS_ROOT).expanduser() / f"{self.arch}-x{self.scale}-{digest}"

    def conflicts(self, saved_json: str) -> list[str]:
        """`name: saved → now` for every run-defining option that differs from a checkpoint's config."""
        saved = TrainConfig().updated(json.loads(saved_json), source="checkpoint").identity()
        now = self.identity()
        return [f"{k}: {saved[k]!r} → {now[k]!r}" for k in sorted(now) if saved.get(k) != now[k]]


# configs written before the registry kept TinyESPCN's options at the top level
LEGACY_MODEL_KEYS = ("channels", "blocks", "head_kernel", "attention", "residual", "reduction")


def _migrate(values: dict) -> dict:
    """Old top-level model options → `model`, keeping those the chosen architecture has."""
    if not any(k in values for k in LEGACY_MODEL_KEYS):
        return values
    from tinyespcn_nodes.core.arch import by_name

    allowed = set(by_name(values.get("arch", "tinyespcn")).config_cls.option_names())
    moved = {k: values[k] for k in LEGACY_MODEL_KEYS if k in values and k in allowed}
    rest = {k: v for k, v in values.items() if k not in LEGACY_MODEL_KEYS}
    return {**rest, "model": {**moved, **values.get("model", {})}}


def read_config_file(path: str | Path) -> dict:
    """The options a TOML/YAML file sets (only those: defaults stay with the subcommand)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    text = path.read_text()
    if path.suffix in {".yaml", ".yml"}:
        import yaml

        raw = yaml.safe_load(text) or {}
    elif path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        raw = tomllib.loads(text)
    else:
        raise ValueError(f"{path}: config must be .toml, .yaml or .yml")
    return raw


# finetune differs from pretrain only in these defaults
FINETUNE_DEFAULTS = {"dataset": "celeba", "subset": 20000, "face_size": 128, "lr": 1e-4, "warmup": 100, "steps": 5000}
PRETRAIN_DEFAULTS = {"dataset": "lsdir"}


def real_degradation(options: dict, source: str = "options"):
    """The `real` preset with these field overrides (lists become the preset's tuples), or a ValueError."""
    from .real_degradation import RealDegradation

    def tupled(v):
        return tuple(tupled(x) for x in v) if isinstance(v, (list, tuple)) else v

    known = {f.name for f in fields(RealDegradation)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"{source}: real_options: unknown field(s) {unknown}; known: {', '.join(sorted(known))}")
    try:
        return RealDegradation(**{k: tupled(v) for k, v in options.items()})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: real_options: {exc}") from None


def real_option(item: str) -> tuple[str, object]:
    """`clean_share=0.25` → a number, `jpeg_quality=20,95` → a range, `blur_sigma=0.2,1.2;0.2,1` → ranges."""
    name, sep, text = item.partition("=")
    try:
        if not sep:
            raise ValueError
        parts = [[float(v) for v in group.split(",")] for group in text.split(";")]
    except ValueError:
        raise ValueError(f"--real-options: expected FIELD=NUMBER[,NUMBER...][;...], got {item!r}") from None
    if len(parts) > 1:
        return name, parts
    return name, parts[0][0] if len(parts[0]) == 1 else parts[0]
