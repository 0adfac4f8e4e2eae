"""Rewrite the config-derived tensors of weights files from their own metadata config; nothing else changes.

    python scripts/fix_derived_tensors.py weights/*.safetensors weights/baselines/*.safetensors \
        [--card weights/MODEL_CARD.md]

A file exported from a run started with `--init` could carry the init file's `attn_every` buffer (2) under
a config that says 5: our loader builds from the metadata and never noticed, but a bare state dict
(spandrel, ComfyUI's core "Load Upscale Model") rebuilds the network from that tensor and fails. Every
other tensor and every metadata entry is kept byte for byte; with `--card`, the model card's sha256 of each
rewritten file is updated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # fix with this checkout, not an installed copy

import torch
from safetensors import safe_open

from tinyespcn_nodes.core.files import save_safetensors_atomic, write_text_atomic
from tinyespcn_nodes.core.weights import derived_tensors, read_weights
from trainer.model_card import sha256


def fix(path: Path) -> list[str]:
    """The names of the tensors rewritten (empty when the file already agrees with its config)."""
    info, _ = read_weights(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    wrong = [k for k, v in derived_tensors(info.spec, info.config).items() if not torch.equal(tensors.get(k), v)]
    if wrong:
        tensors.update({k: derived_tensors(info.spec, info.config)[k] for k in wrong})
        save_safetensors_atomic(path, tensors, meta)
    return wrong


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="weights files to check and fix in place")
    p.add_argument("--card", type=Path, default=None, help="model card whose sha256 column is updated (default: none)")
    args = p.parse_args()
    card = args.card.read_text() if args.card else None
    for path in args.files:
        before = sha256(path)
        wrong = fix(path)
        if wrong:
            print(f"{path}: rewrote {', '.join(wrong)} from the metadata config")
            if card is not None:
                card = card.replace(f"`{before[:16]}`", f"`{sha256(path)[:16]}`")
        else:
            print(f"{path}: agrees with its config")
    if args.card and card != args.card.read_text():
        write_text_atomic(args.card, card)
        print(f"updated sha256 in {args.card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
