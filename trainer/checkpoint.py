"""Atomic training checkpoints, read back with `torch.load(weights_only=True)` (no code execution).

Every checkpoint carries a SHA-256 of its content (tensor bytes, shapes, dtypes and every other value), so a
file whose bytes changed on disk is refused by name instead of resuming silently from damaged weights. The
previous checkpoint is kept beside it (`last.prev.pt`) as the good one to fall back on.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from tinyespcn_nodes.core.files import atomic_path, write_text_atomic

__all__ = ["load_checkpoint", "save_checkpoint", "write_text_atomic"]

CHECKSUM_KEY = "sha256"


def previous_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def content_digest(state) -> str:
    """A SHA-256 over the checkpoint's content in a canonical walk (dict keys sorted), not its file bytes."""
    h = hashlib.sha256()

    def walk(value) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(value, dict):
            h.update(b"D%d" % len(value))
            for key in sorted(value, key=repr):
                h.update(repr(key).encode())
                walk(value[key])
        elif isinstance(value, (list, tuple)):
            h.update(b"L%d" % len(value))
            for item in value:
                walk(item)
        else:
            h.update(f"V{value!r}".encode())

    walk(state)
    return h.hexdigest()


def save_checkpoint(path: Path, state: dict) -> None:
    """Temp file, fsync, rename: a kill leaves the old file intact. The old file stays as `last.prev.pt`."""
    path = Path(path)
    with atomic_path(path, fsync=True) as tmp:
        torch.save({**state, CHECKSUM_KEY: content_digest(state)}, tmp)
        if path.exists():  # a hard link: `path` itself is never missing, even for an instant
            link = previous_path(path).with_name(f".{previous_path(path).name}.{os.getpid()}.tmp")
            link.unlink(missing_ok=True)
            os.link(path, link)
            os.replace(link, previous_path(path))


def load_checkpoint(path: Path) -> dict:
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        kind = "holds objects other than tensors" if "weights_only" in str(exc) else "is truncated or corrupt"
        raise ValueError(
            f"{path}: this checkpoint {kind}; start the run over with --no-resume or pick another --run-dir"
        ) from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a trainer checkpoint; start the run over with --no-resume")
    stored = state.pop(CHECKSUM_KEY, None)  # checkpoints of older versions have none
    if stored is not None and stored != content_digest(state):
        prev = previous_path(path)
        fallback = f"; the previous good one is {prev} (copy it over {path.name} to resume from it)" * prev.exists()
        raise ValueError(
            f"{path}: checksum mismatch, the checkpoint is corrupt{fallback}; or start over with --no-resume"
        )
    return state
