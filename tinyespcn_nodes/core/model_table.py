"""Which model to choose: one row per shipped file, every figure read from the file or counted from its model.

`python -m tinyespcn_nodes models` prints it, the README's "Choosing a model" block is its Markdown form, and
the napari weights combo and the ComfyUI loader show it as their tooltip. Cost = MACs per LR pixel counted by
hooks on the deployed network (`macs_per_lr_pixel`); quality = the Y-PSNR stored in the file's metadata by
`python -m trainer export`, which measures it on the run's validation sets (Set5, and held-out faces for
face models). Nothing here is typed by hand except what each family is for.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from .catalog import ALIASES, RENAMED, baselines, bundled, default_name
from .files import write_text_atomic
from .header import header_digest, peek_metadata

COSTS_FILE = Path(__file__).resolve().parents[1] / "data" / "model_costs.json"  # written by `models --update-costs`

# what each family is for (words only: the numbers come from the files)
PURPOSE = {
    "general": "photos: the default at this scale (best measured file)",
    "seed": "photos: the seeds' configuration, kept for reference",
    "portrait": "faces, clean or compressed/noisy: photo model fine-tuned on degraded CelebA-HQ faces, mixed 0.8 with its clean file; --strength 0-1",
    "balanced": "photos: TinyESPCN-Rep, between fast and the seed configuration",
    "fast": "photos, fastest (ESPCN-class cost)",
    "photo": "real photos (JPEG, noise, blur): general-x2/balanced-x4 fine-tuned on degraded photos; --strength 0-1",
    "photo-fast": "real photos, fastest: fast-x2 fine-tuned on degraded photos; --strength 0-1",
    "pyramid": "baseline: seed 004's pyramid, one file for x2/x4/x8",
    "espcn": "baseline: ESPCN retrained by our trainer (benchmark only)",
    "srcnn": "baseline: SRCNN retrained by our trainer (benchmark only)",
}
METRIC_NAMES = {"Set5": "Set5", "faces": "faces"}  # metadata key prefix → shown name


@dataclass(frozen=True)
class ModelRow:
    name: str
    aliases: tuple[str, ...]  # other names that load this file (`seed-x3` for general-x3, `balanced-x2` …)
    scales: tuple[int, ...]
    macs: tuple[int, ...]  # MACs per LR pixel at each of `scales`
    purpose: str
    quality: str  # stored Y-PSNR, e.g. "Set5 37.49 dB, faces 43.54 dB"
    path: Path

    @property
    def scale_text(self) -> str:
        return "/".join(f"x{s}" for s in self.scales)

    @property
    def macs_text(self) -> str:
        return "/".join(f"{m:,}" for m in self.macs)

    @property
    def name_text(self) -> str:
        return self.name + (f" (= {', '.join(self.aliases)})" if self.aliases else "")


def quality_text(metrics: dict) -> str:
    """`Set5 37.49 dB, faces 43.54 dB` from metadata keys like `Set5_x2_psnr_y` (the file's own scale)."""
    parts = []
    for key, value in sorted(metrics.items(), key=lambda kv: (not kv[0].startswith("Set5"), kv[0])):
        prefix, _, rest = key.partition("_x")
        if rest.endswith("_psnr_y") and prefix in METRIC_NAMES:
            parts.append(f"{METRIC_NAMES[prefix]} x{rest.split('_')[0]} {float(value):.2f} dB")
    return ", ".join(parts) or "not recorded"


def count_costs(path: str | Path) -> tuple[tuple[int, ...], tuple[int, ...], dict]:
    """(scales, MACs per LR pixel at each, stored metrics), counted by hooks on the deployed network: loads the
    file and imports torch."""
    from .arch import macs_per_lr_pixel
    from .weights import load_model

    model, info = load_model(path)
    macs = tuple(macs_per_lr_pixel(model if s == info.scale else load_model(path, s)[0]) for s in info.scales)
    return info.scales, macs, info.metrics


def cost_table(path: Path | None = None) -> dict[str, dict]:
    """The counted costs of the shipped files by header digest (`models --update-costs` writes it)."""
    path = path or COSTS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_cost_table(path: Path | None = None) -> Path:
    """Count every shipped file's costs and store them by header digest, so `models` needs no torch."""
    path = path or COSTS_FILE
    table = {}
    for name, file in sorted({**bundled(), **baselines()}.items()):
        scales, macs, _ = count_costs(file)
        table[header_digest(file)] = {"file": name, "scales": list(scales), "macs": list(macs)}
    write_text_atomic(path, json.dumps(table, indent=1, sort_keys=True) + "\n")
    return path


@functools.lru_cache(maxsize=64)
def _measured(path: str, mtime_ns: int) -> tuple[tuple[int, ...], tuple[int, ...], str]:  # noqa: ARG001 (cache key)
    """Scales and MACs from the cost table when the file's header is one counted there (no torch: its
    metadata was valid when counted), else counted now; the quality text from the stored metrics."""
    known = cost_table().get(header_digest(path) or "")
    if known is None:
        scales, macs, metrics = count_costs(path)
        return scales, macs, quality_text(metrics)
    metrics = json.loads((peek_metadata(path) or {}).get("metrics") or "{}")
    return tuple(known["scales"]), tuple(known["macs"]), quality_text(metrics)


def _aliases(name: str, table: dict[str, Path]) -> tuple[str, ...]:
    stem, _, scale = name.rpartition("-x")
    names = [old for old, new in RENAMED.items() if new == name]
    names += [
        f"{alias}-x{scale}" for alias, target in ALIASES.items() if target == stem and f"{alias}-x{scale}" not in table
    ]
    return tuple(names)


def model_rows() -> list[ModelRow]:
    """Shipped files first (defaults first, then by name), then the baselines."""
    product, extra = bundled(), baselines()
    rows = []
    for table in (product, extra):
        defaults = {default_name(s) for s in (2, 3, 4)}
        for name in sorted(table, key=lambda n: (n not in defaults, n.rpartition("-x")[0], n)):
            path = table[name]
            scales, macs, quality = _measured(str(path), path.stat().st_mtime_ns)
            family = name.rpartition("-x")[0]
            purpose = PURPOSE.get(family, "")
            rows.append(ModelRow(name, _aliases(name, product), scales, macs, purpose, quality, path))
    return rows


HEADER = ("Name", "Scale", "MACs / LR px", "For", "Stored Y-PSNR")


def _cells(r: ModelRow) -> tuple[str, ...]:
    return (r.name_text, r.scale_text, r.macs_text, r.purpose, r.quality)


def render_text(rows: list[ModelRow]) -> str:
    cells = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows: list[ModelRow]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|---:|---|---|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def render_tooltip(rows: list[ModelRow]) -> str:
    """One line per file for a host's choice widget."""
    return "\n".join(f"{r.name_text}: {r.scale_text}, {r.macs_text} MACs/LR px, {r.purpose}; {r.quality}" for r in rows)


def models_tooltip() -> str:
    """The tooltip text, or a short note when the files cannot be read (a host's widget must still open)."""
    try:
        return render_tooltip(model_rows())
    except Exception as exc:  # a broken file is reported by the loader itself; the widget still opens
        return f"model list unavailable: {exc}"
