"""Restoration strength 0..1: the clean model (0), the photo model (1), or their weights mixed linearly between.

A photo or portrait file (`photo-x2`, `portrait-x2`) has a clean partner of the same architecture
(`general-x2`), listed in `catalog.PARTNERS`. Both are stored folded (deployed), and folding is linear, so mixing the folded tensors is
exactly mixing the trained networks; the mixed network costs what either costs. As in Real-ESRGAN's denoise
strength, lower values keep more fine texture (and more of the input's noise and blocks).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .catalog import PARTNERS, resolve_weights
from .weights import WeightsError, WeightsInfo, load_model, read_weights


def clean_partner(path: str | os.PathLike) -> Path | None:
    """The clean file a photo file is mixed with (None for files without one)."""
    name = PARTNERS.get(Path(path).stem)
    return resolve_weights(name) if name else None


def check_strength(strength: float) -> float:
    if not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"strength must be within 0-1, got {strength}")
    return float(strength)


def blend_states(clean: dict[str, torch.Tensor], photo: dict[str, torch.Tensor], strength: float) -> dict:
    """(1 - strength)·clean + strength·photo, tensor by tensor (float math, stored dtype kept)."""
    if clean.keys() != photo.keys() or any(clean[k].shape != photo[k].shape for k in clean):
        raise ValueError("strength: the clean and photo files differ in architecture")
    t = check_strength(strength)
    return {k: torch.lerp(clean[k].double(), photo[k].double(), t).to(photo[k].dtype) for k in photo}


def load_with_strength(
    path: str | os.PathLike, strength: float, expected_scale: int | None = None
) -> tuple[nn.Module, WeightsInfo]:
    """The photo file's model at `strength` (1 = the file itself, 0 = its clean partner)."""
    t = check_strength(strength)
    partner = clean_partner(path)
    if partner is None:
        if t == 1.0:
            return load_model(path, expected_scale)
        names = ", ".join(sorted(PARTNERS)) or "none"
        raise WeightsError(path, f"strength below 1 needs a photo model with a clean partner ({names})")
    info, photo = read_weights(path)
    clean_info, clean = read_weights(partner)
    if (clean_info.spec.id, clean_info.config) != (info.spec.id, info.config):
        raise WeightsError(path, f"its clean partner {partner.name} has another architecture")
    model = info.spec.build(info.config)
    model.load_state_dict(blend_states(clean, photo, t))
    if expected_scale is not None and expected_scale != info.config.scale:
        model = model.at_scale(expected_scale)
    return model.eval().requires_grad_(False), info


LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp")


def default_for_files(weights: str | None, files: list[Path], scale: int) -> str | None:
    """The weights to use when none were asked for: `photo-xN` when every input is a JPEG/WEBP file and that
    file is bundled (the clean models sharpen compression blocks: model card, real-photo table), else as given."""
    from .catalog import bundled

    name = f"photo-x{scale}"
    if weights or not files or name not in bundled():
        return weights
    return name if all(Path(f).suffix.lower() in LOSSY_SUFFIXES for f in files) else weights
