"""True parameter and MAC counts, computed from the models themselves (never typed by hand)."""

from __future__ import annotations

from torch import nn

from ...core.arch import count_parameters, deployed, macs_per_lr_pixel
from ...core.arch.pyramid import LapPyramidSR
from ...core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from ...core.catalog import bundled
from ...core.weights import load_model

SEED_CLAIM = 280_000


def _row(name: str, model: nn.Module, note: str = "") -> str:
    model = deployed(model)
    scale = model.scale
    params, mac = count_parameters(model), macs_per_lr_pixel(model)
    lr_720p = (1280 // scale) * (720 // scale)
    return f"{name:<28} x{scale}  {params:>9,d}  {mac:>11,d}  {mac / scale**2:>11,.0f}  {mac * lr_720p / 1e9:>9.1f}" + (
        f"   {note}" if note else ""
    )


def describe(extra: list[str] | None = None) -> str:
    head = f"{'config / file':<28} sc  {'params':>9}  {'MAC/LR px':>11}  {'MAC/HR px':>11}  {'GMAC@720p':>9}"
    lines = [head, "-" * len(head)]
    for s in (2, 3, 4):
        lines.append(_row("seed-faithful (plain trunk)", TinyESPCN(TinyESPCNConfig(scale=s))))
    for s in (2, 4, 8):
        lines.append(_row("seed-004 pyramid (faithful)", LapPyramidSR().at_scale(s)))
    files = dict(bundled())
    for path in extra or []:
        files[path] = path
    for name, path in files.items():
        try:
            model, info = load_model(path)
            for scale in info.scales:  # a multi-output file: one row per scale it serves
                lines.append(_row(name, model if scale == info.scale else load_model(path, scale)[0], info.spec.id))
        except Exception as exc:  # describe what is broken instead of stopping
            lines.append(f"{name:<28} unreadable: {exc}")
    faithful = count_parameters(TinyESPCN(TinyESPCNConfig(scale=2)))
    lines.append("")
    lines.append(
        f"seed claim: 0.28M params; faithful x2 model has {faithful:,d} "
        f"({faithful / SEED_CLAIM:.2f}x the claim). 720p = output 1280x720; MACs are counted by hooks on every "
        f"conv/linear layer of the deployed network (skips and activations excluded; a bicubic skip costs 48 per HR pixel)."
    )
    return "\n".join(lines)
