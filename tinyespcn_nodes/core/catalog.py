"""Bundled weights by name (`general-x2`, `portrait-x4`, ...) plus arbitrary `.safetensors` paths.

Bundled files are looked up inside the installed package (`tinyespcn_nodes/weights/`, put there by the
build) and, in a source checkout or a ComfyUI custom_nodes clone, in the repository's `weights/` folder.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
SEARCH_DIRS = (_PACKAGE / "weights", _PACKAGE.parent / "weights")
SUFFIX = ".safetensors"
# Families that resolve to another bundled family's file where they have none of their own. At each scale
# `general-xN` is the seed-faithful file until a balanced file beats it on Set5, Set14 and BSD100; then the
# balanced file ships as `general-xN`, the seed file as `seed-xN`, and the old `balanced-xN` name follows it.
ALIASES = {"seed": "general"}
# degradation-trained files and the clean file of the same architecture each was fine-tuned from: the
# restoration strength (core/strength.py) mixes their weights, 0 = the clean file, 1 = the file itself
PARTNERS = {
    "photo-x2": "general-x2",
    "photo-x4": "balanced-x4",
    "photo-fast-x2": "fast-x2",
    "portrait-x2": "general-x2",
    "portrait-x4": "balanced-x4",
}
STRENGTH_FAMILIES = frozenset(name.rpartition("-x")[0] for name in PARTNERS)  # families with a strength control
RENAMED = {
    "balanced-x2": "general-x2",  # promoted at x2 (model card: beats seed-x2 on all three sets)
    # the portrait files are now TinyESPCN-Rep trained on degraded faces (JPEG, noise, blur); the clean-only
    # balanced-portrait files they replace fell below bicubic on compressed faces, so their names load these
    "balanced-portrait-x2": "portrait-x2",
    "balanced-portrait-x4": "portrait-x4",
}
# names that no longer load, with the reason and what to use instead
RETIRED = {
    "seed-portrait": "the seed-configuration portrait files were retired: they fell below bicubic on compressed "
    "and noisy faces; use portrait-x2/portrait-x4 (trained with real degradations) or seed-x2 for the seeds' "
    "configuration",
}
# what each bundled family is, for the hosts' choice text (costs from `python -m tinyespcn_nodes info`)
TIERS = {
    "general": "default: TinyESPCN-Rep ≤100k MACs/px at x2, seed config ~390k at x3/x4",
    "seed": "seed config (~390k MACs/px)",
    "portrait": "faces, also compressed/noisy ones (restoration strength 0-1), TinyESPCN-Rep, ≤100k MACs/px",
    "balanced": "TinyESPCN-Rep, ≤100k MACs/px",
    "fast": "TinyESPCN-Rep, ≤25k MACs/px",
    "pyramid": "seed 004 pyramid, x2/x4/x8 from one file",
    "photo": "JPEGs, noisy and soft photos (restoration strength 0-1), ≤100k MACs/px",
    "photo-fast": "JPEGs, noisy and soft photos, fastest (restoration strength 0-1), ≤25k MACs/px",
}


def family_label(family: str) -> str:
    """`balanced — TinyESPCN-Rep, ≤100k MACs/px` (the family name alone when it has no tier text)."""
    return f"{family} — {TIERS[family]}" if family in TIERS else family


def weights_dirs() -> list[Path]:
    extra = os.environ.get("TINYESPCN_WEIGHTS_DIR")
    dirs = [Path(extra)] if extra else []
    return dirs + [d for d in SEARCH_DIRS if d.is_dir()]


def bundled() -> dict[str, Path]:
    """name → path of every bundled weights file (first search dir wins)."""
    return _scan(weights_dirs())


def baselines() -> dict[str, Path]:
    """name → path of the shipped baselines (`weights/baselines/`: pyramid-x8, espcn-x2, srcnn-x2): loadable by
    name, listed by `models`, but not offered as product models in the hosts' lists."""
    return _scan([d / "baselines" for d in SEARCH_DIRS if (d / "baselines").is_dir()])


def _scan(dirs: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in dirs:
        for f in sorted(d.glob(f"*{SUFFIX}")):
            if f.stem.rsplit("-x", 1)[-1].isdigit():
                found.setdefault(f.stem, f)
    return found


def default_name(scale: int) -> str:
    """The default file per scale; at x8 the x2 default, which `load_models` runs three times (the x8 table in
    the model card: general-x2 ×3 leads seed-x2 ×3 on 4 of 5 sets at under a quarter of its MACs)."""
    return f"general-x{2 if scale == 8 else scale}"


def bundled_name(name: str, table: dict[str, Path]) -> str | None:
    """The bundled file a name stands for: its own, the file it was renamed to, or its alias family's."""
    if name in table:
        return name
    if RENAMED.get(name) in table:
        return RENAMED[name]
    stem, _, suffix = name.rpartition("-x")
    aliased = f"{ALIASES[stem]}-x{suffix}" if stem in ALIASES else None
    return aliased if aliased in table else None


def resolve_weights(name_or_path: str | os.PathLike | None, scale: int | None = None) -> Path:
    """A bundled name (optionally without the `-xN` suffix, then `scale` picks it) or a file path."""
    if name_or_path is None or name_or_path == "":
        if scale is None:
            raise ValueError("weights: give a name/path or a scale")
        name_or_path = default_name(scale)
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix == SUFFIX or os.sep in text or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        return path
    stem = text.rpartition("-x")[0] if text.rpartition("-x")[2].isdigit() else text
    if stem in RETIRED:
        raise FileNotFoundError(f"weights {text!r}: {RETIRED[stem]}")
    table = {**baselines(), **bundled()}
    for candidate in (text, f"{text}-x{scale}" if scale else None):
        if not candidate:
            continue
        found = bundled_name(candidate, table)
        if found:
            return table[found]
    family = sorted(n for n in table if n.rpartition("-x")[0] == text)
    if family and scale:  # a multi-output file (`pyramid-x8` serves x2/x4/x8) answers its family's smaller scales
        from .weights import offered_scales

        served = {n: offered_scales(table[n]) for n in family}
        for name, scales in served.items():
            if scale in scales:
                return table[name]
        shown = "/".join(f"x{s}" for s in sorted({s for scales in served.values() for s in scales}))
        raise FileNotFoundError(f"weights {text!r} have no x{scale} model (they serve {shown})")
    names = ", ".join(sorted(table)) or "none installed"
    raise FileNotFoundError(f"unknown weights {text!r} (bundled: {names})")
