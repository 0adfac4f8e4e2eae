"""Training steps/s per architecture on this machine (batch 16, 48² LR patches): `python scripts/train_speed.py`.

Times the trainer's own `train_step` (forward, loss, backward, clip, Adam, EMA) on in-memory random batches,
so data loading is excluded; the trainer keeps patches in memory, so this is what a run achieves.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import TrainConfig  # noqa: E402
from trainer.loop import Trainer  # noqa: E402

CASES = [
    ("tinyespcn", 2, "bf16"),
    ("tinyespcn", 2, "none"),
    ("tinyespcn", 4, "bf16"),
    ("espcn", 2, "bf16"),
    ("srcnn", 2, "bf16"),
]


def steps_per_second(arch: str, scale: int, amp: str, batch: int = 16, patch: int = 48, steps: int = 10) -> float:
    with tempfile.TemporaryDirectory() as run:
        cfg = TrainConfig(arch=arch, scale=scale, amp=amp, batch=batch, patch=patch, run_dir=run)
        trainer = Trainer(cfg, log=lambda *a: None)
        fmt = trainer.memory_format
        lr = torch.rand(batch, 3, patch, patch).contiguous(memory_format=fmt)
        hr = torch.rand(batch, 3, patch * scale, patch * scale)
        for _ in range(3):
            trainer.train_step(lr, hr)
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = trainer.train_step(lr, hr)
        float(loss)  # one sync at the end, as in the loop
        return steps / (time.perf_counter() - t0)


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 16, 48² LR patches, L1 loss")
    for arch, scale, amp in CASES:
        print(f"{arch:>10} x{scale} amp={amp:<5} {steps_per_second(arch, scale, amp):6.2f} steps/s")
