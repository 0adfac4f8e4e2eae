"""True parameter and MAC counts, computed from the model (never typed by hand)."""

from __future__ import annotations

from ..core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig, count_parameters, macs_per_lr_pixel
from ..core.catalog import bundled
from ..core.weights import read_weights

SEED_CLAIM = 280_000


def _row(name: str, cfg: TinyESPCNConfig) -> str:
    params = count_parameters(TinyESPCN(cfg))
    mac = macs_per_lr_pixel(cfg)
    hr = mac / cfg.scale**2
    lr_720p = (1280 // cfg.scale) * (720 // cfg.scale)
    return f"{name:<28} x{cfg.scale}  {params:>9,d}  {mac:>11,d}  {hr:>11,.0f}  {mac * lr_720p / 1e9:>9.1f}"


def describe(extra: list[str] | None = None) -> str:
    head = f"{'config / file':<28} sc  {'params':>9}  {'MAC/LR px':>11}  {'MAC/HR px':>11}  {'GMAC@720p':>9}"
    lines = [head, "-" * len(head)]
    for s in (2, 3, 4):
        lines.append(_row("seed-faithful (plain trunk)", TinyESPCNConfig(scale=s)))
    lines.append(_row("residual trunk", TinyESPCNConfig(scale=2, residual=True)))
    files = dict(bundled())
    for path in extra or []:
        files[path] = path
    for name, path in files.items():
        try:
            info, _ = read_weights(path)
            lines.append(_row(name, info.config) + f"   residual={info.config.residual}")
        except Exception as exc:  # describe what is broken instead of stopping
            lines.append(f"{name:<28} unreadable: {exc}")
    faithful = count_parameters(TinyESPCN(TinyESPCNConfig(scale=2)))
    lines.append("")
    lines.append(
        f"seed claim: 0.28M params; faithful x2 model has {faithful:,d} "
        f"({faithful / SEED_CLAIM:.2f}x the claim). 720p = output 1280x720; MACs exclude the bicubic skip "
        f"(48 per HR pixel)."
    )
    return "\n".join(lines)
