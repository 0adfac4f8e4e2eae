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
