"""The training loop: lean (in-memory patches, channels_last, no per-step host sync), resumable, DDP-aware."""

from __future__ import annotations

import copy
import csv
import math
import os
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from tinyespcn_nodes.core.files import atomic_path, write_text_atomic
from tinyespcn_nodes.core.resize import matlab_imresize
from tinyespcn_nodes.core.shared import ENV
from tinyespcn_nodes.core.weights import save_weights
from tinyespcn_nodes.engine.models import pick_device

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, real_degradation
from .degradations import Microscopy
from .divergence import require_finite_loss, require_finite_weights
from .evaluate import default_val_folder, score, validation_sets
from .export import earlier_stages, training_metadata
from .losses import BUNDLED_VGG, PRESETS, CombinedLoss, LossWeights
from .models import build_model, fresh_layers, init_from
from .patches import CopyAugment, Degradation, ImagePool, build_pool, sample_batch
from .plot import plot_curves
from .sources import face_split, lsdir_refs


def pyramid_targets(hr: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """HR, HR/2, HR/4 ... (MATLAB bicubic, as the LR is made), smallest first, for a pyramid's `levels` outputs."""
    return [hr if k == 0 else matlab_imresize(hr, scale=0.5**k) for k in reversed(range(levels))]


def lr_factor(cfg: TrainConfig, step: int) -> float:
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "cosine":
        t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
        return 0.5 * (1 + math.cos(math.pi * t))
    if cfg.schedule == "step":
        return 0.5 ** (step // cfg.step_every) if cfg.step_every else 1.0
    return 1.0


def loss_weights(cfg: TrainConfig) -> LossWeights:
    if cfg.loss not in PRESETS:
        raise ValueError(f"loss preset must be one of {sorted(PRESETS)}, got {cfg.loss!r}")
    return LossWeights(**{**asdict(PRESETS[cfg.loss]), **cfg.loss_weights})


def load_training_pool(cfg: TrainConfig) -> tuple[ImagePool, list]:
    """Returns the pool and any held-out refs (face folders without a partition file)."""
    if not cfg.data:
        raise ValueError("no training data given (--data)")
    refs, held = [], []
    for root in cfg.data:
        root_path = Path(root).expanduser()
        if cfg.dataset == "celeba":
            train, hold = face_split(root_path, cfg.split, cfg.subset, cfg.holdout, cfg.seed)
            refs += train
            held += hold
        else:
            refs += lsdir_refs(root_path, cfg.scale, cfg.split)
    if not refs:
        raise ValueError(f"the dataset is empty: no images found under {cfg.data}")
    order = list(range(len(refs)))
    random.Random(cfg.seed).shuffle(order)  # a bounded cache then holds a seeded random subset
    margin = 0 if cfg.rotate_degrees <= 0 else cfg.patch // 2
    pool = build_pool(
        [refs[i] for i in order],
        cfg.scale,
        cfg.patch,
        workers=cfg.workers,
        cache_mb=cfg.cache_mb,
        resize_to=cfg.face_size,
        blur_sigma=cfg.blur_sigma,
        margin=margin,
        rescales=cfg.rescales,
        copies=CopyAugment(cfg.hr_jpeg, cfg.hr_colour, cfg.seed),
    )
    return pool, held


class EMA:
    """Exponential moving average of the weights, with the usual (1+n)/(10+n) warm-up of the decay."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        own = list(self.model.parameters())
        torch._foreach_lerp_(own, [p.detach() for p in model.parameters()], 1 - decay)


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _setup_distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or dist.is_initialized():
        return _rank(), world
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world


class Trainer:
    def __init__(self, cfg: TrainConfig, log=print) -> None:
        self.cfg = cfg
        self.log = log if _rank() == 0 else (lambda *a, **k: None)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = pick_device(cfg.device)
        if self.device.type == "cuda" and "LOCAL_RANK" in os.environ:
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(self.device)
        self.rank, self.world = _setup_distributed(self.device)
        if self.rank != 0:
            self.log = lambda *a, **k: None
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg)
        if hasattr(self.model, "deep_supervision"):
            self.model.deep_supervision = True  # LapSRN: a loss at every pyramid level
        if cfg.init:
            copied = init_from(self.model, cfg.init)
            fresh = fresh_layers(self.model, copied)
            rest = f"; starting fresh: {', '.join(fresh)}" if fresh else ""
            self.log(f"initialised {len(copied)} tensors from {cfg.init}{rest}")
        self.model.to(self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        self.net = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        self.opt = opt_cls(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(cfg, s))
        self.ema = EMA(self.model, cfg.ema) if cfg.ema > 0 else None
        weights = loss_weights(cfg)
        self.criterion = CombinedLoss(weights, cfg.vgg_weights or BUNDLED_VGG, cfg.vgg_arch).to(self.device)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" and self.device.type == "cuda" else None
        self.step = 0
        self.best = -float("inf")
        self.history_loss: list[tuple[int, float]] = []
        self.history_psnr: list[tuple[int, float]] = []
        self.pool: ImagePool | None = None
        self.replay_pool: ImagePool | None = None
        self.init_chain: list[dict] | None = None
        self.val_pairs: dict[str, list] = {}
        self.held_out: list = []

    # ---- persistence -------------------------------------------------------------------------
    @property
    def run(self) -> Path:
        return self.cfg.run_path

    def state(self) -> dict:
        return {
            "step": self.step,
            "best": self.best,
            "config": self.cfg.to_json(),
            "model": self.model.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema else {},
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "history_loss": torch.tensor(self.history_loss, dtype=torch.float64).reshape(-1, 2),
            "history_psnr": torch.tensor(self.history_psnr, dtype=torch.float64).reshape(-1, 2),
            "rng_torch": torch.get_rng_state(),
        }

    def resume(self, path: Path, state: dict | None = None) -> None:
        state = load_checkpoint(path) if state is None else state
        self.model.load_state_dict(state["model"])
        if self.ema and state["ema"]:
            self.ema.model.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        if self.scaler and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.best = float(state["best"])
        self.history_loss = [(int(s), float(v)) for s, v in state["history_loss"].tolist()]
        self.history_psnr = [(int(s), float(v)) for s, v in state["history_psnr"].tolist()]
        torch.set_rng_state(state["rng_torch"])
        if self.rank == 0:
            _truncate_log(self.run / "log.csv", self.step)
        best = f" (best {self.best:.3f} dB)" if math.isfinite(self.best) else ""
        self.log(f"resumed {path} at step {self.step}{best}")

    def checkpoint(self) -> None:
        require_finite_weights(self.model, self.step, self.cfg.lr)  # never save what a diverged run made
        if self.rank == 0:
            save_checkpoint(self.run / "last.pt", self.state())
        if self.world > 1:
            dist.barrier()

    def export(self, path: Path, use_ema: bool = True, metrics: dict | None = None) -> Path:
        model = self.ema.model if (use_ema and self.ema) else self.model
        require_finite_weights(model, self.step, self.cfg.lr)
        if self.init_chain is None:  # the init chain is fixed for a run: read its folders once
            self.init_chain = earlier_stages(self.cfg.init)
        training = training_metadata(self.cfg, self.step, self.run, use_ema, self.init_chain)
        return save_weights(path, model, training=training, metrics=metrics)

    # ---- data & validation -------------------------------------------------------------------
    def prepare(self) -> None:
        t0 = time.perf_counter()
        self.pool, self.held_out = load_training_pool(self.cfg)
        if self.cfg.replay_data and self.cfg.replay_fraction > 0:
            self.replay_pool = build_pool(
                [r for d in self.cfg.replay_data for r in lsdir_refs(Path(d).expanduser(), self.cfg.scale)],
                self.cfg.scale,
                self.cfg.patch,
                workers=self.cfg.workers,
                cache_mb=self.cfg.cache_mb,
                rescales=self.cfg.rescales,
            )
            self.log(f"replay pool: {len(self.replay_pool.hr)} images, {self.cfg.replay_fraction:.0%} of each batch")
        self.log(
            f"training pool: {len(self.pool.hr)} images, {self.pool.nbytes / 2**20:.0f} MiB, "
            f"{len(self.pool.skipped)} skipped, {time.perf_counter() - t0:.1f}s"
        )
        for name, err in self.pool.skipped[:10]:
            self.log(f"  skipped {name}: {err}")
        self.val_pairs = validation_sets(
            self.cfg.scale, self.held_out, self.cfg.face_size, self.cfg.val_sets, self.cfg.val_limit
        )
        if self.cfg.degradation == "real":  # a photo run picks its best on degraded inputs (photo_cases.py)
            from .photo_cases import mixed_cases

            real = {f"{k}-real": mixed_cases(v, self.cfg.scale) for k, v in self.val_pairs.items()}
            self.val_pairs = real | self.val_pairs
        if not self.val_pairs and self.cfg.val_every:
            self.log(
                f"no validation: no --val-sets and no {default_val_folder()} "
                f"(set {ENV} to the shared folder); no PSNR in the log, no best.safetensors"
            )

    def validate(self) -> dict[str, float]:
        model = (self.ema.model if self.ema else self.model).eval()
        results = {}
        for name, pairs in self.val_pairs.items():
            results[name] = score(
                lambda x: model(x.to(self.device, memory_format=self.memory_format)),
                pairs,
                self.cfg.scale,
                with_ssim=False,
            )["psnr"]
        self.model.train()
        return results

    # ---- loop --------------------------------------------------------------------------------
    def batch(self, degradation: Degradation) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's batch for this step; with replay, its last `replay_fraction` comes from the general pool."""
        cfg, seed = self.cfg, self.cfg.seed + 7919 * self.rank
        n_replay = round(cfg.batch * cfg.replay_fraction) if self.replay_pool is not None else 0
        lr, hr = sample_batch(self.pool, cfg.batch - n_replay, cfg.patch, seed, self.step, degradation)
        if n_replay:
            lr2, hr2 = sample_batch(self.replay_pool, n_replay, cfg.patch, seed + 104_729, self.step, degradation)
            lr, hr = torch.cat([lr, lr2]), torch.cat([hr, hr2])
        return lr, hr

    def train_step(self, lr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp)
        # bf16 autocast also pays on CPUs with AMX/AVX-512 bf16 (oneDNN); fp16 only on CUDA
        use_amp = amp_dtype is not None and (
            self.device.type == "cuda" or (self.device.type == "cpu" and cfg.amp == "bf16")
        )
        with torch.autocast(self.device.type, dtype=amp_dtype, enabled=use_amp):
            pred = self.net(lr)
        if isinstance(pred, list):  # a multi-output net: every level against the HR downscaled to its size
            loss = sum(self.criterion(p.float(), t)[0] for p, t in zip(pred, pyramid_targets(hr, len(pred))))
        else:
            loss, _ = self.criterion(pred.float(), hr)
        self.opt.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip, foreach=True)
        if self.scaler:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.sched.step()
        if self.ema:
            self.ema.update(self.model, self.step)
        return loss.detach()

    def fit(self, until: int | None = None) -> dict:
        """Train to cfg.steps (or stop at `until`, as a kill right after that checkpoint would)."""
        cfg = self.cfg
        if self.pool is None:
            self.prepare()
        if self.rank == 0:
            self.run.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.run / "config.json", cfg.to_json())
        self.model.train()
        microscopy = None
        if cfg.degradation == "microscopy":
            microscopy = Microscopy(tuple(cfg.psf_sigma), tuple(cfg.gain), tuple(cfg.read_noise), tuple(cfg.background))
        real = real_degradation(cfg.real_options) if cfg.degradation == "real" else None
        degradation = Degradation(cfg.blur_sigma, cfg.rotate_degrees, microscopy, real)
        running = torch.zeros((), device=self.device)
        n_running = 0
        t_start, step_start = time.perf_counter(), self.step
        log_path = self.run / "log.csv"
        new_log = not log_path.exists()
        log_file = open(log_path, "a", newline="") if self.rank == 0 else None
        writer = csv.writer(log_file) if log_file else None
        if writer and new_log:
            writer.writerow(["step", "loss", "lr", "steps_per_s", *[f"psnr_{k}" for k in self.val_pairs]])
        tb = _tensorboard(self.run) if self.rank == 0 else None
        last = {}
        try:
            while self.step < (until or cfg.steps):
                lr, hr = self.batch(degradation)
                lr = lr.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
                hr = hr.to(self.device, non_blocking=True)
                running += self.train_step(lr, hr)
                n_running += 1
                self.step += 1
                done = self.step == cfg.steps
                if self.step % cfg.log_every == 0 or done:
                    mean_loss = (running / n_running).item()  # the only host sync, once per log interval
                    require_finite_loss(mean_loss, self.step, cfg.lr)
                    running.zero_()
                    n_running = 0
                    rate = (self.step - step_start) / (time.perf_counter() - t_start)
                    eta = (cfg.steps - self.step) / max(rate, 1e-9)
                    self.history_loss.append((self.step, mean_loss))
                    psnrs = {}
                    if self.val_pairs and cfg.val_every and (self.step % cfg.val_every == 0 or done):
                        psnrs = self.validate()
                        main = next(iter(psnrs.values()))
                        self.history_psnr.append((self.step, main))
                        if main > self.best:
                            self.best = main
                            if self.rank == 0:
                                self.export(
                                    self.run / "best.safetensors",
                                    metrics={f"{k}_x{cfg.scale}_psnr_y": round(v, 3) for k, v in psnrs.items()}
                                    | {"step": self.step},
                                )
                    self.log(
                        f"step {self.step}/{cfg.steps} loss {mean_loss:.5f} lr {self.sched.get_last_lr()[0]:.2e} "
                        f"{rate:.2f} it/s ETA {eta / 60:.1f} min"
                        + "".join(f" {k} {v:.3f} dB" for k, v in psnrs.items())
                    )
                    if writer:
                        writer.writerow(
                            [
                                self.step,
                                f"{mean_loss:.6f}",
                                f"{self.sched.get_last_lr()[0]:.3e}",
                                f"{rate:.3f}",
                                *[f"{psnrs[k]:.4f}" if k in psnrs else "" for k in self.val_pairs],
                            ]
                        )
                        log_file.flush()
                    if tb:
                        tb.add_scalar("loss", mean_loss, self.step)
                        for k, v in psnrs.items():
                            tb.add_scalar(f"psnr/{k}", v, self.step)
                    if self.rank == 0:
                        plot_curves(self.run / "curves.png", self.history_loss, self.history_psnr)
                    last = {"loss": mean_loss, "steps_per_s": rate, **{f"psnr_{k}": v for k, v in psnrs.items()}}
                if self.step % cfg.ckpt_every == 0 or done:
                    self.checkpoint()
        finally:
            if log_file:
                log_file.close()
        if self.rank == 0 and until is None:
            final_metrics = (
                {f"{k}_x{cfg.scale}_psnr_y": round(v, 3) for k, v in self.validate().items()} if self.val_pairs else {}
            )
            self.export(self.run / "final.safetensors", metrics=final_metrics | {"step": self.step})
        return last


def _tensorboard(run: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional
        return None
    return SummaryWriter(str(run / "tb"))


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows written after the checkpoint being resumed (they will be written again)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]
    if len(kept) != len(rows):
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(kept)


class ResumeConflict(ValueError):
    pass


def run_training(cfg: TrainConfig, resume: bool = True, log=None) -> Trainer:
    log = log or (lambda *a: print(*a, file=sys.stderr, flush=True))
    last = cfg.run_path / "last.pt"
    state = None
    if resume and last.exists():
        state = load_checkpoint(last)
        changed = cfg.conflicts(state["config"])
        if changed:
            raise ResumeConflict(
                f"{cfg.run_path} holds a run with other settings ({'; '.join(changed)}). Resume it with the same "
                "options, start it over with --no-resume, or pick another --run-dir"
            )
    trainer = Trainer(cfg, log)
    if state is not None:
        trainer.resume(last, state)
    trainer.fit()
    return trainer
