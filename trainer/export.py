"""`python -m trainer export`: a run folder or checkpoint → the safetensors file the plugin loads.

The metadata records what a model card needs: the command line that trained it, the estimated training
time on the machine that ran it (from the run's log), and metrics re-measured on the run's validation sets.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from pathlib import Path

import torch

from tinyespcn_nodes.core.weights import save_weights

from .checkpoint import load_checkpoint
from .config import FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, TrainConfig
from .evaluate import default_val_sets, score, validation_sets
from .models import build_model
from .sources import face_split

# options that do not change the weights (only where/how often things are written)
_BOOKKEEPING = {
    "run_dir",
    "ckpt_every",
    "val_every",
    "log_every",
    "workers",
    "cache_mb",
    "threads",
    "device",
    "val_limit",
}
RUN_EXPORTS = ("final", "best")  # the weights files a run folder writes beside its last.pt


def command_line(cfg: TrainConfig) -> str:
    """The shortest `python -m trainer ...` that reproduces `cfg` (bookkeeping options left out)."""
    finetune = cfg.dataset == "celeba"
    base = TrainConfig().updated(FINETUNE_DEFAULTS if finetune else PRETRAIN_DEFAULTS)
    parts = ["python -m trainer", "finetune" if finetune else "pretrain"]
    for f in fields(TrainConfig):
        value, default = getattr(cfg, f.name), getattr(base, f.name)
        if f.name in _BOOKKEEPING or f.name == "val_sets" or value == default:
            continue
        flag = "--" + f.name.replace("_", "-")
        if value is None:
            parts.append(f"{flag} 0")  # optional ints: 0 on the command line means None
        elif isinstance(value, bool):
            parts.append(flag if value else "--no-" + f.name.replace("_", "-"))
        elif isinstance(value, list):
            parts.append(" ".join([flag, *(_short(str(v)) for v in value)]))
        elif f.name == "model":
            parts += [_arch_flag(k, v) for k, v in sorted(value.items())]
        elif isinstance(value, dict):
            parts.append(" ".join([flag, *(f"{k}={v}" for k, v in value.items())]))
        else:
            parts.append(f"{flag} {_short(str(value))}")
    return " ".join(parts)


def _arch_flag(name: str, value) -> str:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else "--no-" + name.replace("_", "-")
    return f"{flag} {value}"


def _short(value: str) -> str:
    """Shared-data and run-folder paths shown relative to where a reader has them."""
    for marker in ("/shared/", "/runs/"):
        if marker in value:
            return ("../shared/" if marker == "/shared/" else "RUNS/") + value.split(marker, 1)[1]
    return value


def train_seconds(log_csv: Path) -> float | None:
    """Wall time estimated from the run log: each logged interval divided by the it/s logged with it."""
    if not log_csv.is_file():
        return None
    total, prev = 0.0, 0
    with log_csv.open() as f:
        for row in csv.DictReader(f):
            step, rate = int(row["step"]), float(row["steps_per_s"])
            if step > prev and rate > 0:
                total += (step - prev) / rate
            prev = step
    return total


def validation_metrics(model: torch.nn.Module, cfg: TrainConfig) -> dict:
    held = []
    if cfg.dataset == "celeba" and cfg.holdout:
        held = [
            r
            for root in cfg.data
            for r in face_split(Path(root).expanduser(), cfg.split, cfg.subset, cfg.holdout, cfg.seed)[1]
        ]
    val_sets = cfg.val_sets or ([] if held else default_val_sets())  # a run without validation: Set5
    if not held:  # Set5 too, so every general-purpose file states (and tests reproduce) one standard figure
        val_sets = [*val_sets, *(s for s in default_val_sets() if s not in val_sets)]
    sets = validation_sets(cfg.scale, held, cfg.face_size, val_sets, cfg.val_limit, skip_missing=True)
    return {
        f"{name}_x{cfg.scale}_psnr_y": round(score(model, pairs, cfg.scale, with_ssim=False)["psnr"], 3)
        for name, pairs in sets.items()
    }


def weights_label(path: str | Path) -> str:
    """`general-x2/final.safetensors` for a run's export (every run names its file final), the file name otherwise."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}" if path.stem in RUN_EXPORTS else path.name


def earlier_stages(init: str | None, max_depth: int = 8) -> list[dict]:
    """The runs `init` descends from, oldest first, read from run folders that are still on this machine.

    A fine-tune of a fine-tune is only reproducible with every command in the chain, and its true cost is
    the sum of their times. The chain stops at a file that is not a run's final/best export.
    """
    stages = []
    while init and len(stages) < max_depth:
        path = Path(init).expanduser()
        ckpt = path.parent / "last.pt"
        if path.stem not in RUN_EXPORTS or not ckpt.is_file():
            break
        state = load_checkpoint(ckpt)
        cfg = TrainConfig().updated(json.loads(state["config"]), source=str(ckpt))
        seconds = train_seconds(path.parent / "log.csv")
        stages.append(
            {
                "run": path.parent.name,
                "steps": int(state["step"]),
                "command": command_line(cfg),
                "train_seconds": round(seconds) if seconds else None,
            }
        )
        init = cfg.init
    return stages[::-1]


def training_metadata(
    cfg: TrainConfig, step: int, run_dir: Path, use_ema: bool = True, stages: list[dict] | None = None
) -> dict:
    """`stages`: `earlier_stages(cfg.init)` when the caller already has it (a run exports many times)."""
    seconds = train_seconds(run_dir / "log.csv")
    return {
        "arch": cfg.arch, "steps": step, "planned_steps": cfg.steps, "data": [Path(d).name for d in cfg.data],
        "dataset": cfg.dataset, "loss": cfg.loss, "patch": cfg.patch, "batch": cfg.batch, "amp": cfg.amp,
        "init": weights_label(cfg.init) if cfg.init else None, "ema": cfg.ema if use_ema else 0.0,
        "command": command_line(cfg), "train_seconds": round(seconds) if seconds else None,
        "earlier_stages": earlier_stages(cfg.init) if stages is None else stages,
        "config": {k: v for k, v in asdict(cfg).items() if k not in _BOOKKEEPING and k not in ("data", "val_sets")},
    }  # fmt: skip


def export_run(
    source: str | Path, out: str | Path, use_ema: bool = True, measure: bool = True, note: str | None = None
) -> Path:
    """`source`: a run folder (its last.pt) or a checkpoint file written by the trainer."""
    ckpt, state, cfg = _run_state(source)
    model = build_model(cfg)
    weights = state["ema"] if use_ema and state.get("ema") else state["model"]
    model.load_state_dict(weights)
    model.eval()
    training = training_metadata(cfg, int(state["step"]), ckpt.parent, use_ema)
    if note:
        training["note"] = note
    metrics = validation_metrics(model, cfg) if measure else {}
    metrics["step"] = int(state["step"])
    return save_weights(out, model, training=training, metrics=metrics)


def _run_state(source: str | Path) -> tuple[Path, dict, TrainConfig]:
    source = Path(source).expanduser()
    ckpt = source / "last.pt" if source.is_dir() else source
    if not ckpt.is_file():
        raise FileNotFoundError(f"no checkpoint at {ckpt}")
    state = load_checkpoint(ckpt)
    return ckpt, state, TrainConfig().updated(json.loads(state["config"]), source=str(ckpt))


def load_run_config(source: str | Path) -> TrainConfig:
    """The training options of a run folder or checkpoint (what its validation metrics are measured on)."""
    return _run_state(source)[2]
