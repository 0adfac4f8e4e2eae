"""The trainer's one facade for hosts (napari's fine-tune widget): a config from a host's choices and a
run that yields its progress. Hosts import this module and nothing else from the trainer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .config import FINETUNE_DEFAULTS, TrainConfig
from .models import adopt_init_architecture


def finetune_config(choices: dict) -> TrainConfig:
    """`python -m trainer finetune`'s defaults, updated with `choices`; the architecture follows `init`."""
    return adopt_init_architecture(TrainConfig().updated(FINETUNE_DEFAULTS).updated(choices))


def finetune_run(
    cfg: TrainConfig, out: Path, chunks: int = 50, max_chunk: int = 20
) -> Iterator[tuple[int, float | None]]:
    """Train `cfg`, yielding (step, loss) about `chunks` times (at least every `max_chunk` steps), then export
    the weights to `out`. Closed early (a host's Cancel), the run folder keeps a checkpoint of the last step."""
    from .loop import Trainer

    messages: list[str] = []
    trainer = Trainer(cfg, log=messages.append)
    trainer.prepare()
    chunk = max(1, min(cfg.steps // chunks, max_chunk))
    finished = False
    try:
        while trainer.step < cfg.steps:
            end = trainer.step + chunk
            last = trainer.fit(until=min(cfg.steps, end)) if end < cfg.steps else trainer.fit()
            yield trainer.step, last.get("loss")
        finished = True
    finally:
        if not finished:
            trainer.checkpoint()
    trainer.export(out)


def finetune_with_previews(
    cfg: TrainConfig, out: Path, every: int, max_chunk: int, preview: Path
) -> Iterator[tuple[str, int, object]]:
    """Train `cfg`, yielding ("step", step, loss) at least every `max_chunk` steps and ("preview", step, path)
    every `every` steps (the weights so far, exported to `preview`); the final weights go to `out`."""
    from .loop import Trainer

    trainer = Trainer(cfg, log=lambda *_: None)
    trainer.prepare()
    while trainer.step < cfg.steps:
        stop = min(cfg.steps, trainer.step + min(max_chunk, every - trainer.step % every))
        last = trainer.fit(until=stop) if stop < cfg.steps else trainer.fit()
        yield "step", trainer.step, last.get("loss")
        if trainer.step % every == 0 and trainer.step < cfg.steps:
            yield "preview", trainer.step, trainer.export(preview)
    trainer.export(out)


def measure_step_seconds(cfg: TrainConfig, repeats: int = 2) -> float:
    """Seconds per training step of `cfg` (its model, loss, optimiser, patch and batch) on random patches:
    one warm-up step, then the mean of `repeats`."""
    import time

    import torch

    from .loop import Trainer

    trainer = Trainer(cfg, log=lambda *_: None)
    g = torch.Generator().manual_seed(0)
    lr = torch.rand(cfg.batch, 3, cfg.patch, cfg.patch, generator=g)
    hr = torch.rand(cfg.batch, 3, cfg.patch * cfg.scale, cfg.patch * cfg.scale, generator=g)
    lr = lr.contiguous(memory_format=trainer.memory_format)
    trainer.train_step(lr, hr)
    t0 = time.perf_counter()
    for _ in range(repeats):
        trainer.train_step(lr, hr)
    return (time.perf_counter() - t0) / repeats
