"""Atomic training checkpoints, read back with `torch.load(weights_only=True)` (no code execution)."""

from __future__ import annotations

from pathlib import Path

import torch

from tinyespcn_nodes.core.files import atomic_path, write_text_atomic

__all__ = ["load_checkpoint", "save_checkpoint", "write_text_atomic"]


def save_checkpoint(path: Path, state: dict) -> None:
    """Temp file, fsync, rename: a kill leaves the old file intact."""
    with atomic_path(path, fsync=True) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        kind = "holds objects other than tensors" if "weights_only" in str(exc) else "is truncated or corrupt"
        raise ValueError(
            f"{path}: this checkpoint {kind}; start the run over with --no-resume or pick another --run-dir"
        ) from None
